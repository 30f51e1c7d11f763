using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace FhirArchive.Tests.Support;

/// <summary>
/// A throwaway PostgreSQL cluster for the test run, started from the installed Debian binaries
/// (/usr/lib/postgresql/*/bin, or FHIRARCHIVE_PG_BIN) on a free loopback port in a temp folder; nothing is installed.
/// initdb refuses to run as root, so as root the cluster runs as the "postgres" system user.
/// </summary>
public static class PostgresCluster
{
    private static readonly Lazy<string?> Bin = new(FindBin);
    private static readonly Lazy<(string Host, int Port)> Started = new(Start);

    /// <summary>Why the Postgres tests are skipped, or null when the binaries are present.</summary>
    public static string? MissingReason => Bin.Value is null
        ? "PostgreSQL binaries not found (/usr/lib/postgresql/*/bin/initdb): run scripts/install-test-deps.sh or set FHIRARCHIVE_PG_BIN"
        : null;

    private static string? FindBin()
    {
        var env = Environment.GetEnvironmentVariable("FHIRARCHIVE_PG_BIN");
        if (!string.IsNullOrEmpty(env)) return File.Exists(Path.Combine(env, "initdb")) ? env : null;
        if (!Directory.Exists("/usr/lib/postgresql")) return null;
        return Directory.GetDirectories("/usr/lib/postgresql")
            .Select(d => Path.Combine(d, "bin"))
            .Where(b => File.Exists(Path.Combine(b, "initdb")) && File.Exists(Path.Combine(b, "pg_ctl")))
            .OrderByDescending(b => int.TryParse(Path.GetFileName(Path.GetDirectoryName(b)), out var v) ? v : 0)
            .FirstOrDefault();
    }

    /// <summary>These settings with the server's storage on a fresh database of the cluster; without the binaries, these
    /// settings alone (the Postgres tests are then skipped).</summary>
    public static Dictionary<string, string> Settings(IDictionary<string, string>? settings = null)
    {
        var all = new Dictionary<string, string>(settings ?? new Dictionary<string, string>());
        if (MissingReason is not null) return all;
        all["Storage:Provider"] = "postgres";
        all["Storage:ConnectionString"] = CreateDatabase();
        return all;
    }

    /// <summary>A fresh, empty database on the shared cluster.</summary>
    public static string CreateDatabase()
    {
        var (host, port) = Started.Value;
        var name = "fhir_" + Guid.NewGuid().ToString("N")[..16];
        using (var conn = new NpgsqlConnection($"Host={host};Port={port};Username=fhir;Database=postgres"))
        {
            conn.Open();
            using var cmd = new NpgsqlCommand($"CREATE DATABASE {name}", conn);
            cmd.ExecuteNonQuery();
        }
        return $"Host={host};Port={port};Username=fhir;Database={name};Pooling=true";
    }

    private static (string, int) Start()
    {
        var bin = Bin.Value ?? throw new InvalidOperationException(MissingReason);
        var dir = Path.Combine(Path.GetTempPath(), "fhirarchive-pg-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var data = Path.Combine(dir, "data");
        var port = FreePort();
        var asRoot = Environment.UserName == "root";
        if (asRoot) Run("chown", ["postgres:postgres", dir], asUser: null);
        var user = asRoot ? "postgres" : null;
        Run(Path.Combine(bin, "initdb"), ["-D", data, "-U", "fhir", "--auth=trust", "-E", "UTF8", "--no-locale"], user);
        Run(Path.Combine(bin, "pg_ctl"), ["-D", data, "-l", Path.Combine(dir, "log"), "-w", "-t", "60",
            "-o", $"-p {port} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off", "start"], user);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Run(Path.Combine(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "stop"], user);
                Directory.Delete(dir, true);
            }
            catch (Exception) { /* best effort at exit */ }
        };
        return ("127.0.0.1", port);
    }

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    private static void Run(string file, string[] args, string? asUser)
    {
        var psi = asUser is null ? new ProcessStartInfo(file) : new ProcessStartInfo("runuser");
        if (asUser is not null)
        {
            psi.ArgumentList.Add("-u");
            psi.ArgumentList.Add(asUser);
            psi.ArgumentList.Add("--");
            psi.ArgumentList.Add(file);
        }
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.WorkingDirectory = Path.GetTempPath();
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000)) throw new TimeoutException($"{file} did not finish");
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} failed ({p.ExitCode}): {stderr.Result} {stdout.Result}");
    }
}

public class PostgresServerFixture : ServerFixture
{
    public PostgresServerFixture() : this(null, null) { }

    protected PostgresServerFixture(IDictionary<string, string>? settings, Action<IServiceCollection>? services)
        : base(PostgresCluster.Settings(settings), services) { }

    /// <summary>The idle pooled connections of a finished fixture would linger and, summed over the suite's many
    /// fixtures, exceed the cluster's max_connections (53300 "too many clients"): closed with the fixture.</summary>
    public override void Dispose()
    {
        base.Dispose();
        NpgsqlConnection.ClearAllPools();
    }
}

/// <summary>A PostgreSQL server whose requests may name their caller (<see cref="TestCallers"/>).</summary>
public sealed class PostgresServerFixtureWithCallers() : PostgresServerFixture(null, TestCallers.Register);

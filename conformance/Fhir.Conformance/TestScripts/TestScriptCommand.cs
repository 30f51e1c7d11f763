using System.Text;

namespace FhirArchive.Conformance.TestScripts;

/// <summary>
/// <c>testscript &lt;folder|file&gt; --server BASE [--token T] [--token ROLE=T] [--var NAME=VALUE] [--out DIR]</c>:
/// runs every TestScript found (a folder is searched recursively; files that are not TestScripts, such as fixtures,
/// are left alone), prints a line per test and writes DIR/&lt;script&gt;.testreport.json, DIR/report.html and
/// DIR/junit.xml. Exit status 1 when an assert failed (warningOnly ones excepted) or a script could not run, 2 on usage.
/// </summary>
public static partial class TestScriptCommand
{
    [System.Text.RegularExpressions.GeneratedRegex("^[A-Za-z][A-Za-z0-9_-]*$")]
    private static partial System.Text.RegularExpressions.Regex RoleName();

    private const string Usage = "usage: testscript <folder|file> --server <base> [--token T] [--token role=T] [--var name=value] [--out DIR] [--timeout seconds]";

    public static int Run(string[] args)
    {
        string? path = null, server = null, token = null, output = "testscript-results";
        var timeout = 60;
        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            try
            {
                switch (args[i])
                {
                    case "--server": server = Next(); break;
                    case "--out": output = Next(); break;
                    case "--timeout": timeout = int.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture); break;
                    case "--token":
                        var t = Next();
                        // "role=T" names a caller the scripts use as ${token-role}; a bare token is the default caller.
                        // A token's own '=' (base64 padding) ends it, so a role is a short name followed by a value.
                        var eq = t.IndexOf('=');
                        if (eq is > 0 and < 40 && eq < t.Length - 1 && RoleName().IsMatch(t[..eq])) variables["token-" + t[..eq]] = t[(eq + 1)..];
                        else token = t;
                        break;
                    case "--var":
                        var v = Next();
                        var e = v.IndexOf('=');
                        if (e <= 0) throw new ArgumentException("--var takes name=value");
                        variables[v[..e]] = v[(e + 1)..];
                        break;
                    default:
                        if (args[i].StartsWith("--", StringComparison.Ordinal) || path is not null) throw new ArgumentException($"unexpected '{args[i]}'");
                        path = args[i];
                        break;
                }
            }
            catch (Exception ex) when (ex is ArgumentException or FormatException)
            {
                Console.Error.WriteLine(ex.Message);
                Console.Error.WriteLine(Usage);
                return 2;
            }
        }
        if (path is null || server is null || !Uri.TryCreate(server, UriKind.Absolute, out var baseUri))
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(timeout) };
        var options = new RunnerOptions { Http = http, Base = baseUri, Token = token, Variables = variables };
        try
        {
            return RunAsync(path, options, output, Console.Out).GetAwaiter().GetResult().ExitCode;
        }
        catch (Exception ex) when (ex is IOException or ArgumentException)
        {
            Console.Error.WriteLine(ex.Message);
            return 2;
        }
    }

    /// <summary>The TestScript files under a path: the file itself, or each JSON/XML file of the folder whose resource is a TestScript.</summary>
    public static List<string> Find(string path)
    {
        if (File.Exists(path)) return [path];
        if (!Directory.Exists(path)) throw new IOException($"no file or folder '{path}'");
        return [.. Directory.EnumerateFiles(path, "*.*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".xml", StringComparison.OrdinalIgnoreCase))
            .Where(IsTestScript)
            .Order(StringComparer.Ordinal)];
    }

    private static bool IsTestScript(string file)
    {
        // Cheap look before a parse: fixtures are most of the files.
        var head = File.ReadAllText(file);
        return head.Contains("TestScript", StringComparison.Ordinal) && TestScriptRunner.Load(file)?.Type == "TestScript";
    }

    public static async Task<(List<ScriptRun> Runs, int ExitCode)> RunAsync(string path, RunnerOptions options, string? outputFolder, TextWriter log,
        CancellationToken ct = default)
    {
        var server = options.Base.ToString().TrimEnd('/');
        var runs = new List<ScriptRun>();
        foreach (var file in Find(path))
        {
            // Each script has its own fixtures and variables; a runner fault is that script's failure, not the run's end.
            ScriptRun run;
            try { run = await new TestScriptRunner(options).RunAsync(file, ct); }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                run = new ScriptRun(file) { Error = $"the runner failed: {e.GetType().Name}: {e.Message}" };
            }
            runs.Add(run);
            log.WriteLine($"{(run.Failed ? "FAIL" : run.Status)}  {run.Name}  ({Path.GetFileName(file)}, {run.Elapsed.TotalSeconds:0.0} s)");
            if (run.Error is not null) log.WriteLine($"      error: {run.Error}");
            foreach (var t in run.ReportedTests())
            {
                log.WriteLine($"  {t.Status,-4}  {t.Name}{(t.Skipped ? "  — " + t.SkipReason : "")}");
                if (t.Failed)
                {
                    log.WriteLine($"        {t.FirstFailure?.Message}");
                    if (t.FailureExchange() is { } e) log.WriteLine($"        {e.Method} {e.Url} → {e.Status} {e.Reason}");
                }
            }
        }
        if (outputFolder is not null)
        {
            Directory.CreateDirectory(outputFolder);
            var utf8 = new UTF8Encoding(false);
            foreach (var run in runs)
                await File.WriteAllTextAsync(Path.Combine(outputFolder, Path.GetFileNameWithoutExtension(run.File) + ".testreport.json"),
                    TestScriptReports.TestReportJson(run, server), utf8, ct);
            await File.WriteAllTextAsync(Path.Combine(outputFolder, "report.html"), TestScriptReports.Html(runs, server), utf8, ct);
            await File.WriteAllTextAsync(Path.Combine(outputFolder, "junit.xml"), TestScriptReports.JUnit(runs), utf8, ct);
            log.WriteLine($"reports: {Path.GetFullPath(outputFolder)} (report.html, junit.xml, *.testreport.json)");
        }
        var passed = runs.Sum(r => r.Passed);
        var failed = runs.Sum(r => r.ReportedTests().Count(t => t.Failed) + (r.Error is null ? 0 : 1));
        var skipped = runs.Sum(r => r.SkippedCount);
        log.WriteLine($"testscript: {passed} passed, {failed} failed, {skipped} skipped");
        return (runs, runs.Count == 0 || runs.Any(r => r.Failed) ? 1 : 0);
    }
}

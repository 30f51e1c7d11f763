using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;

namespace FhirArchive.Fhir.Tests.Support;

/// <summary>
/// The official examples package hl7.fhir.r4.examples@4.0.1. The tests obtain it themselves with
/// `npm pack` into artifacts/ (once per machine), unless FHIR_R4_EXAMPLES names a folder or .tgz.
/// Shared by the test projects (linked from tests/Shared).
/// </summary>
public static class OfficialExamples
{
    private const string Package = "hl7.fhir.r4.examples@4.0.1";
    private const string TgzName = "hl7.fhir.r4.examples-4.0.1.tgz";
    private static readonly Lazy<string> LazyPath = new(Locate, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>A folder or .tgz holding the package.</summary>
    public static string PackagePath => LazyPath.Value;

    public static string RepoRoot
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "FhirArchive.sln"))) return d.FullName;
            throw new InvalidOperationException("FhirArchive.sln not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>
    /// A third-party conformance data set the tests read (fhirpath, validator-tests): kept in the repository under
    /// tests/data/&lt;name&gt; (origin and licence in its SOURCE.md), so a fresh clone tests on its own.
    /// FHIRARCHIVE_CONFORMANCE_DATA names another folder holding the data sets (e.g. a fuller upstream copy).
    /// </summary>
    public static string ConformanceData(string name)
    {
        var root = Environment.GetEnvironmentVariable("FHIRARCHIVE_CONFORMANCE_DATA") is { Length: > 0 } given
            ? given : Path.Combine(RepoRoot, "tests", "data");
        var folder = Path.Combine(root, name);
        return Directory.Exists(folder) ? folder : throw new DirectoryNotFoundException($"The conformance data '{name}' is not in {root}.");
    }

    private static string Locate()
    {
        if (Environment.GetEnvironmentVariable("FHIR_R4_EXAMPLES") is { Length: > 0 } given) return given;
        var artifacts = Path.Combine(RepoRoot, "artifacts");
        var tgz = Path.Combine(artifacts, TgzName);
        if (File.Exists(tgz)) return tgz;
        Directory.CreateDirectory(artifacts);
        var psi = new ProcessStartInfo("npm", $"pack {Package} --silent --pack-destination \"{artifacts}\"")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(TimeSpan.FromMinutes(5)) || p.ExitCode != 0 || !File.Exists(tgz))
            throw new InvalidOperationException($"npm pack {Package} failed: {err.Result}");
        return tgz;
    }

    /// <summary>(file name, content) of every JSON resource file in the package (package.json and index files left out).</summary>
    public static IEnumerable<(string Name, byte[] Content)> JsonFiles()
    {
        static bool IsResource(string name) => name.EndsWith(".json", StringComparison.Ordinal) && name != "package.json" && !name.StartsWith('.');
        var path = PackagePath;
        if (Directory.Exists(path))
        {
            foreach (var f in Directory.EnumerateFiles(path, "*.json", SearchOption.AllDirectories).Where(f => IsResource(Path.GetFileName(f))).Order(StringComparer.Ordinal))
                yield return (Path.GetFileName(f), File.ReadAllBytes(f));
            yield break;
        }
        using var tar = new TarReader(new GZipStream(File.OpenRead(path), CompressionMode.Decompress));
        while (tar.GetNextEntry() is { } entry)
        {
            var name = Path.GetFileName(entry.Name);
            if (entry.DataStream is null || !IsResource(name)) continue;
            using var ms = new MemoryStream();
            entry.DataStream.CopyTo(ms);
            yield return (name, ms.ToArray());
        }
    }
}

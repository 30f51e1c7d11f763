using FhirArchive.Conformance;

namespace FhirArchive.Benchmarks;

/// <summary>
/// The official examples, read once per benchmark process: "all" (5,306 files, 188 MB, of which 17 definition
/// Bundles over 1 MB hold 63% of the bytes) and "typical" (the files under 100 KB, i.e. ordinary resources); and
/// "synthea", the 10 Synthea transaction Bundles (12 MB) as the ingest receives them.
/// </summary>
public static class Corpus
{
    private static readonly Lazy<List<byte[]>> All = new(() =>
        ExampleSource.Read(Locate()).Select(f => f.Content).ToList());

    private static readonly Lazy<List<byte[]>> Synthea = new(() =>
        Directory.EnumerateFiles(SyntheaFolder(), "*.json").Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToList());

    public static List<byte[]> Get(string set) => set switch
    {
        "all" => All.Value,
        "typical" => All.Value.Where(f => f.Length < 100_000).ToList(),
        "synthea" => Synthea.Value,
        _ => throw new ArgumentException(set),
    };

    public static long Bytes(string set) => Get(set).Sum(f => (long)f.Length);

    private static string Locate()
    {
        if (Environment.GetEnvironmentVariable("FHIR_R4_EXAMPLES") is { Length: > 0 } given) return given;
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
        {
            var tgz = Path.Combine(d.FullName, "artifacts", "hl7.fhir.r4.examples-4.0.1.tgz");
            if (File.Exists(tgz)) return tgz;
        }
        throw new InvalidOperationException("Set FHIR_R4_EXAMPLES to the hl7.fhir.r4.examples@4.0.1 folder or .tgz (run.sh fetches it)");
    }

    /// <summary>The Synthea transaction Bundles: SYNTHEA_DIR, else shared/conformance-data/synthea beside the repository.</summary>
    public static string SyntheaFolder()
    {
        if (Environment.GetEnvironmentVariable("SYNTHEA_DIR") is { Length: > 0 } given) return given;
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
        {
            var folder = Path.Combine(d.FullName, "shared", "conformance-data", "synthea");
            if (Directory.Exists(folder)) return folder;
        }
        throw new InvalidOperationException("Set SYNTHEA_DIR to the folder of the Synthea transaction bundles");
    }
}

using Xunit;
using Xunit.Abstractions;
using Xunit.Sdk;
using FhirArchive.Fhir.Tests.Support;

namespace FhirArchive.Differential.Tests.Search;

/// <summary>
/// The Synthea transaction bundles the search differential loads: SYNTHEA_DIR, else the shared conformance data next
/// to the clone (../shared/conformance-data/synthea, as tests/Fhir.LoadTests finds it). Absent: the tests are skipped.
/// </summary>
public static class SyntheaData
{
    public static string? Folder
    {
        get
        {
            if (Environment.GetEnvironmentVariable("SYNTHEA_DIR") is { Length: > 0 } given) return Directory.Exists(given) ? given : null;
            var beside = Path.GetFullPath(Path.Combine(OfficialExamples.RepoRoot, "..", "shared", "conformance-data", "synthea"));
            return Directory.Exists(beside) && Directory.EnumerateFiles(beside, "*.json").Any() ? beside : null;
        }
    }

    public static string? MissingReason => Folder is null
        ? "The Synthea bundles are not here: set SYNTHEA_DIR or place the shared data at ../shared/conformance-data/synthea next to the clone"
        : null;

    /// <summary>The transaction bundles, in file-name order.</summary>
    public static IEnumerable<(string Name, string Json)> Bundles() =>
        Directory.EnumerateFiles(Folder!, "*.json").Order(StringComparer.Ordinal).Select(f => (Path.GetFileName(f), File.ReadAllText(f)));
}

/// <summary>A fact that needs the Synthea data (and, in a PostgreSQL class, the PostgreSQL binaries): skipped with the reason otherwise.</summary>
[XunitTestCaseDiscoverer("FhirArchive.Differential.Tests.Search.SyntheaFactDiscoverer", "FhirArchive.Differential.Tests")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class SyntheaFactAttribute : FactAttribute;

public sealed class SyntheaFactDiscoverer(IMessageSink sink) : FactDiscoverer(sink)
{
    public override IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions options, ITestMethod testMethod, IAttributeInfo attribute)
    {
        var reason = SyntheaData.MissingReason
            ?? (testMethod.TestClass.Class.Name.Contains("Postgres", StringComparison.Ordinal) ? PostgresCluster.MissingReason : null);
        return reason is not null
            ? [new XunitSkippedDataRowTestCase(DiagnosticMessageSink, options.MethodDisplayOrDefault(), options.MethodDisplayOptionsOrDefault(), testMethod, reason)]
            : base.Discover(options, testMethod, attribute);
    }
}

using System.Text.Json;

namespace FhirArchive.Profiles;

/// <summary>
/// The package's own SearchParameters (SearchParameters/*.json, embedded): shipped in the FHIR package and given to
/// the server's search-parameter registry, so they are indexed, searched and listed in the CapabilityStatement.
/// </summary>
public static class CnSearchParameters
{
    public const string RecordStatus = "http://fhirarchive.cn/fhir/SearchParameter/Patient-record-status";

    private static readonly Lazy<IReadOnlyList<string>> Json = new(() =>
    {
        var asm = typeof(CnSearchParameters).Assembly;
        return asm.GetManifestResourceNames().Where(n => n.StartsWith("SearchParameters/", StringComparison.Ordinal)).Order(StringComparer.Ordinal)
            .Select(n =>
            {
                using var reader = new StreamReader(asm.GetManifestResourceStream(n)!);
                return reader.ReadToEnd();
            }).ToList();
    });

    /// <summary>Each SearchParameter resource as JSON text.</summary>
    public static IReadOnlyList<string> All => Json.Value;

    /// <summary>The same, parsed (what the registry reads).</summary>
    public static IEnumerable<JsonElement> Elements() => All.Select(j => JsonDocument.Parse(j).RootElement);
}

using System.Collections.Concurrent;
using FhirArchive.Fhir.Definitions;
using FhirArchive.Fhir.Serialization;
using FhirArchive.Fhir.Serialization.Json;

namespace FhirArchive.Fhir.Validation;

/// <summary>
/// The profiles and extension definitions published with the R4 specification (vital signs, lipid profile,
/// genetics, the core extensions...), by canonical URL.
/// </summary>
public static class OfficialProfiles
{
    private static readonly Lazy<Dictionary<string, string>> Sources = new(() =>
        new[] { "Bundle-profiles-others.json", "Bundle-extensions.json" }.SelectMany(FhirDefinitions.DefinitionResources)
            .Where(r => r.GetProperty("resourceType").GetString() == "StructureDefinition" && r.TryGetProperty("snapshot", out _))
            .GroupBy(r => r.GetProperty("url").GetString()!, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.First().GetRawText(), StringComparer.Ordinal));

    private static readonly ConcurrentDictionary<string, StructureProfile?> Loaded = new(StringComparer.Ordinal);

    public static IEnumerable<string> Urls => Sources.Value.Keys;

    /// <summary>The StructureDefinition JSON of an official profile (a fresh copy), or null.</summary>
    public static System.Text.Json.Nodes.JsonObject? Json(string url) =>
        Sources.Value.TryGetValue(url.Split('|')[0], out var json) ? (System.Text.Json.Nodes.JsonObject)System.Text.Json.Nodes.JsonNode.Parse(json)! : null;

    /// <summary>The profile with this canonical URL ("|version" ignored), or null.</summary>
    public static StructureProfile? Find(string url) => Loaded.GetOrAdd(url.Split('|')[0], static u =>
        Sources.Value.TryGetValue(u, out var json)
            ? StructureProfile.Load(new FhirJsonParser(ParserOptions.Lenient).Parse(json).Resource!)
            : null);
}

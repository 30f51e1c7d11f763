using System.Collections.Frozen;
using FhirArchive.Fhir.Definitions;

namespace FhirArchive.Rest.Search;

/// <summary>The official compartment definitions: which parameters of a resource type link it to a compartment.</summary>
public static class Compartments
{
    private static readonly Lazy<FrozenDictionary<string, FrozenDictionary<string, string[]>>> Defs = new(Load);

    /// <summary>Null when the type is not a compartment; empty when the resource type is not in it.</summary>
    public static string[]? Params(string compartment, string resourceType) =>
        Defs.Value.TryGetValue(compartment, out var d) ? d.GetValueOrDefault(resourceType, []) : null;

    /// <summary>Whether resources of the type are a resident's record data: the Patient itself or a member of its compartment.</summary>
    public static bool IsPatientData(string resourceType) => resourceType == "Patient" || Params("Patient", resourceType) is { Length: > 0 };

    /// <summary>Every resource type in the compartment with its linking parameters; null when the type is not a compartment.</summary>
    public static IReadOnlyDictionary<string, string[]>? Members(string compartment) =>
        Defs.Value.TryGetValue(compartment, out var d) ? d.Where(kv => kv.Value.Length > 0).ToDictionary() : null;

    private static FrozenDictionary<string, FrozenDictionary<string, string[]>> Load()
    {
        var result = new Dictionary<string, FrozenDictionary<string, string[]>>();
        foreach (var file in new[] { "patient", "encounter", "practitioner", "relatedPerson", "device" })
        {
            var root = FhirDefinitions.OpenDefinitionFile($"CompartmentDefinition-{file}.json").RootElement;
            var code = root.GetProperty("code").GetString()!;
            var byType = new Dictionary<string, string[]>();
            foreach (var r in root.GetProperty("resource").EnumerateArray())
                if (r.TryGetProperty("param", out var ps))
                    byType[r.GetProperty("code").GetString()!] = ps.EnumerateArray().Select(p => p.GetString()!).ToArray();
            result[code] = byType.ToFrozenDictionary();
        }
        return result.ToFrozenDictionary();
    }
}

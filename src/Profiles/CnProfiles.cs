using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using FhirArchive.Fhir.Serialization;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Fhir.Validation;

namespace FhirArchive.Profiles;

/// <summary>
/// FhirArchive's local profiles and extensions: authored as differentials (Definitions/*.json, embedded), given
/// their snapshots on first use. <see cref="Find"/> also answers for the official R4 profiles.
/// </summary>
public static class CnProfiles
{
    public const string Canonical = "http://fhirarchive.cn/fhir/StructureDefinition/";
    public const string ResidentPatient = Canonical + "cn-resident-patient";
    public const string Organization = Canonical + "cn-organization";
    public const string Practitioner = Canonical + "cn-practitioner";
    public const string Guardian = Canonical + "cn-guardian";
    public const string ServiceEncounter = Canonical + "cn-service-encounter";
    public const string Observation = Canonical + "cn-observation";
    public const string Consent = Canonical + "cn-consent";
    public const string RecordTask = Canonical + "cn-record-task";

    private static readonly Lazy<Dictionary<string, JsonObject>> Differentials = new(() =>
    {
        var asm = typeof(CnProfiles).Assembly;
        return asm.GetManifestResourceNames()
            .Where(n => n.StartsWith("Definitions/", StringComparison.Ordinal))
            .Select(n =>
            {
                using var s = asm.GetManifestResourceStream(n)!;
                return (JsonObject)JsonNode.Parse(s)!;
            })
            .ToDictionary(sd => sd["url"]!.GetValue<string>(), StringComparer.Ordinal);
    });

    private static readonly ConcurrentDictionary<string, JsonObject> Snapshots = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, StructureProfile> Profiles = new(StringComparer.Ordinal);

    /// <summary>The canonical URLs of the local profiles and extensions.</summary>
    public static IReadOnlyCollection<string> Urls => Differentials.Value.Keys;

    /// <summary>A local StructureDefinition with its snapshot (a shared instance: do not change it), or null.</summary>
    public static JsonObject? WithSnapshot(string url)
    {
        url = url.Split('|')[0];
        if (!Differentials.Value.TryGetValue(url, out var differential)) return null;
        return Snapshots.GetOrAdd(url, _ => new SnapshotGenerator(u => WithSnapshot(u)?.DeepClone() as JsonObject ?? OfficialProfiles.Json(u)).Generate(differential));
    }

    /// <summary>A local or official profile, ready for validation; null when unknown.</summary>
    public static StructureProfile? Find(string url)
    {
        url = url.Split('|')[0];
        if (Profiles.TryGetValue(url, out var known)) return known;
        if (WithSnapshot(url) is not { } sd) return OfficialProfiles.Find(url);
        var parsed = new FhirJsonParser(ParserOptions.Strict).Parse(sd.ToJsonString()).GetResourceOrThrow();
        return Profiles.GetOrAdd(url, StructureProfile.Load(parsed));
    }
}

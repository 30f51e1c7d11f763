using FhirArchive.Archive.Consent;
using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;

namespace FhirArchive.Archive.HealthTags;

/// <summary>A record's personal health tags as of now, derived by <see cref="HealthTagRules"/> from what the store holds of it.</summary>
public sealed class HealthTagReader(HealthTagRules rules, IResourceStore store, TimeProvider clock)
{
    /// <summary>
    /// The record's tags. <paramref name="withSensitive"/> false leaves out data labelled sensitive (severe mental
    /// disorder, HIV): a tag shown to someone not cleared for it must not stand on it.
    /// </summary>
    public async Task<IReadOnlyList<HealthTag>> OfRecordAsync(ElementNode patient, bool withSensitive, CancellationToken ct)
    {
        var id = patient.ResourceId ?? throw new ArgumentException("the Patient has no id", nameof(patient));
        var data = new List<ElementNode>();
        foreach (var type in rules.RecordTypes)
            foreach (var r in await store.RevIncludesAsync(type, "patient", "Patient", [id], ct))
                if (!r.IsDeleted && r.Json is not null && FhirFormats.ParseStored(r.Json) is var node && (withSensitive || !IsSensitive(node)))
                    data.Add(node);
        return rules.Derive(patient, data, clock.GetUtcNow());
    }

    /// <summary>Carries a sensitivity label (meta.security PSY/HIV) or content that calls for one.</summary>
    public static bool IsSensitive(ElementNode resource) => ConsentAccessPolicy.Facts(resource, null).Labels.Count > 0;
}

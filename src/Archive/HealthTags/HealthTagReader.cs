using FhirArchive.Archive.Consent;
using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Search;
using FhirArchive.Storage;
using Microsoft.AspNetCore.WebUtilities;

namespace FhirArchive.Archive.HealthTags;

/// <summary>A record's personal health tags as of now, derived by <see cref="HealthTagRules"/> from what the store holds of it.</summary>
public sealed class HealthTagReader(HealthTagRules rules, IResourceStore store, SearchParser search, TimeProvider clock)
{
    /// <summary>
    /// The record's resources the rules read beside the Patient, current and not deleted: of each type every resource,
    /// or only the matches of the rules' searches (<see cref="HealthTagRules.Searches"/>). Types in
    /// <paramref name="read"/> are left out: the caller holds all of them already.
    /// </summary>
    public async Task<IReadOnlyList<StoredResource>> CandidatesAsync(string patientId, IReadOnlySet<string> read, CancellationToken ct)
    {
        var found = new Dictionary<string, StoredResource>();
        foreach (var (type, searches) in rules.Searches.Where(kv => !read.Contains(kv.Key)))
        {
            if (searches is null)
            {
                foreach (var r in await store.RevIncludesAsync(type, "patient", "Patient", [patientId], ct))
                    if (!r.IsDeleted && r.Json is not null) found.TryAdd($"{type}/{r.Id}", r);
                continue;
            }
            foreach (var query in searches)
            {
                var parameters = QueryHelpers.ParseQuery(query).SelectMany(kv => kv.Value.Select(v => KeyValuePair.Create(kv.Key, v ?? "")))
                    .Append(KeyValuePair.Create("patient", $"Patient/{patientId}"));
                await foreach (var r in search.AllMatchesAsync(store, type, parameters, ct))
                    if (r.Json is not null) found.TryAdd($"{type}/{r.Id}", r);
            }
        }
        return [.. found.Values];
    }

    /// <summary>
    /// The record's tags. <paramref name="withSensitive"/> false leaves out data labelled sensitive (severe mental
    /// disorder, HIV): a tag shown to someone not cleared for it must not stand on it.
    /// </summary>
    public async Task<IReadOnlyList<HealthTag>> OfRecordAsync(ElementNode patient, bool withSensitive, CancellationToken ct)
    {
        var id = patient.ResourceId ?? throw new ArgumentException("the Patient has no id", nameof(patient));
        var data = new List<ElementNode>();
        foreach (var r in await CandidatesAsync(id, new HashSet<string>(), ct))
            if (FhirFormats.ParseStored(r.Json!) is var node && (withSensitive || !IsSensitive(node)))
                data.Add(node);
        return rules.Derive(patient, data, clock.GetUtcNow());
    }

    /// <summary>Carries a sensitivity label (meta.security PSY/HIV) or content that calls for one.</summary>
    public static bool IsSensitive(ElementNode resource) => ConsentAccessPolicy.Facts(resource, null).Labels.Count > 0;
}

using FhirArchive.Archive.Consent;
using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;

namespace FhirArchive.Archive.Masking;

/// <summary>
/// Masking by role (脱敏) on every read path: registered after the consent rules, it sees each resource the caller is
/// shown (by read, vread, search and its includes, history, paging, batch, $everything, and the operations that show
/// resources through the <see cref="ReadGuard"/>) and, when <see cref="MaskingRule"/> says the caller does not see the
/// record's values in full, masks them (<see cref="PersonDataMasker"/>) and labels the resource MASKED (and REDACTED
/// when content that cannot be masked was withheld). It never hides anything. Quiet decisions (counts, matching) are
/// left alone: nothing of them is shown.
/// </summary>
public sealed class MaskingPolicy(MaskingRule rule, RecordDirectory records, PatientLinks links, IResourceStore store) : IAccessPolicy
{
    public ValueTask OnStartAsync(AccessContext context) => ValueTask.CompletedTask;
    public ValueTask OnEndAsync(AccessContext context) => ValueTask.CompletedTask;
    public bool MayHide(Caller caller, string? type) => false;

    public async ValueTask<StoredResource?> ShowAsync(AccessContext context, StoredResource resource)
    {
        if (context.Counting || resource.Json is not { } json || !PersonDataMasker.MayHold(resource.ResourceType, json)) return resource;
        var view = await ViewAsync(context, resource);
        if (view == MaskView.Full) return resource;
        var node = FhirFormats.ParseStored(json);
        var result = PersonDataMasker.Mask(node, view);
        if (!result.Changed) return resource;
        if (result.Masked) Redaction.Mark(context, node, Redaction.Masked);
        if (result.Withheld) Redaction.Mark(context, node, Redaction.Code);
        return resource with { Json = FhirJsonSerializer.SerializeToUtf8Bytes(node) };
    }

    /// <summary>The caller's view of the records the resource is about (a Binary naming a document: that document's).</summary>
    private async ValueTask<MaskView> ViewAsync(AccessContext context, StoredResource resource)
    {
        var caller = context.Http.GetCaller();
        var ct = context.Http.RequestAborted;
        var patients = links.PatientsOf(resource);
        if (patients.Count == 0 && resource.ResourceType == "Binary"
            && FhirFormats.ParseStored(resource.Json!).Child("securityContext")?.Child("reference")?.Value is { } pointer
            && ReferenceParts.TryParse(pointer, out var type, out var id) && await store.ReadAsync(type, id, ct) is { Json: not null } target)
            patients = links.PatientsOf(target);
        var facts = new List<RecordFacts>(patients.Count);
        foreach (var p in patients.Where(p => p.StartsWith("Patient/", StringComparison.Ordinal)))
        {
            var key = "masking:record:" + p;
            if (context.Items.TryGetValue(key, out var known) && known is RecordFacts f) { facts.Add(f); continue; }
            var (record, _) = await records.GetAsync(p["Patient/".Length..], ct);
            context.Items[key] = record;
            facts.Add(record);
        }
        return rule.ViewOf(caller, facts, facts.Count == 0 ? Source(resource) : null);
    }

    private static string? Source(StoredResource resource) =>
        FhirFormats.ParseStored(resource.Json!).Child("meta")?.Child("source")?.Value;
}

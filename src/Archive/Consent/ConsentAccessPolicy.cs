using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Search;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;
using Microsoft.Extensions.Caching.Memory;

namespace FhirArchive.Archive.Consent;

/// <summary>
/// The consent rules on every read path (the configured <see cref="IAccessPolicy"/>; ReadGuard puts the token's
/// scopes in front of it): gathers the resource's facts and its records' Consents, asks <see cref="ConsentDecision"/>,
/// hides what is denied (the caller sees it as missing), and redacts the sensitive parts of summary resources
/// (Patient health tags, record-homepage sections) the caller is not cleared for, labelling them REDACTED as the
/// DS4P guide does. Every denial is reported to the request's <see cref="IAccessRecorder"/> with its reason.
/// </summary>
public sealed class ConsentAccessPolicy(ConsentDecision decision, RecordDirectory records, PatientLinks links, TimeProvider clock) : IAccessPolicy
{
    /// <summary>Summary types: sensitive content is cut out of them instead of hiding the whole resource.</summary>
    public static readonly IReadOnlySet<string> RedactedTypes = new HashSet<string> { "Patient", "Composition", "List" };

    public ValueTask OnStartAsync(AccessContext context) => ValueTask.CompletedTask;
    public ValueTask OnEndAsync(AccessContext context) => ValueTask.CompletedTask;

    public async ValueTask<StoredResource?> ShowAsync(AccessContext context, StoredResource resource)
    {
        var caller = context.Http.GetCaller();
        if (!decision.Options.Enabled || caller.HasRole(Roles.Server) || resource.Json is null) return resource;
        // Types outside the Patient compartment (institutions, practitioners, terminology, profiles) are nobody's record.
        if (!RecordData.Is(resource.ResourceType)) return resource;

        var facts = FactsOf(resource, FhirHeaders.BaseUrl(context.Http.Request));
        var d = await DecideAsync(context, caller, facts);
        if (!context.Counting) context.Http.Features.Get<IAccessRecorder>()?.Decided(resource, d.Permit, d.Reason);
        return d.Permit ? Redacted(context, resource, facts, d.Cleared) : null;
    }

    /// <summary>
    /// A write's answer: the sensitive parts of a summary resource the caller is not cleared for are cut out (a health
    /// tag the data rules derived), whether or not the caller could read it; nothing is hidden or recorded.
    /// </summary>
    public async ValueTask<StoredResource> ShapeAsync(AccessContext context, StoredResource resource)
    {
        var caller = context.Http.GetCaller();
        if (!decision.Options.Enabled || caller.HasRole(Roles.Server) || resource.Json is null || !RecordData.Is(resource.ResourceType)) return resource;
        var facts = FactsOf(resource, FhirHeaders.BaseUrl(context.Http.Request));
        if (facts.Redactable is not { Count: > 0 }) return resource;
        return Redacted(context, resource, facts, (await DecideAsync(context, caller, facts)).Cleared);
    }

    private async ValueTask<AccessDecision> DecideAsync(AccessContext context, Caller caller, ResourceFacts facts)
    {
        var contexts = new List<RecordContext>();
        foreach (var id in facts.PatientIds?.Distinct().Where(id => id != PatientLinks.ForeignPatient) ?? [])
            contexts.Add(await ContextAsync(context, caller, id));
        return decision.Decide(caller, facts, contexts, clock.GetUtcNow());
    }

    /// <summary>The resource without the sensitive parts the caller is not cleared for, labelled REDACTED when any were cut.</summary>
    private static StoredResource Redacted(AccessContext context, StoredResource resource, ResourceFacts facts, IReadOnlySet<string> cleared)
    {
        if (facts.Redactable is not { Count: > 0 } redactable || redactable.IsSubsetOf(cleared)) return resource;
        var closed = redactable.Except(cleared).ToHashSet();
        var node = FhirFormats.ParseStored(resource.Json!);
        if (!RedactChildren(node, closed)) return resource;
        Redaction.Mark(context, node);
        return resource with { Json = FhirJsonSerializer.SerializeToUtf8Bytes(node) };
    }

    /// <summary>The callers whose update-as-create cannot probe for hidden ids (see <see cref="ReadGuard.MayChooseIds"/>).</summary>
    public bool MayChooseIds(Caller caller) =>
        !decision.Options.Enabled || decision.Options.UpdateCreateForAll || caller.HasRole(Roles.Server) || decision.IsPlatformClient(caller);

    public bool MayHide(Caller caller, string? type) => decision.Options.Enabled;

    /// <summary>Auditors read the whole trail (every Provenance, whatever it is about).</summary>
    public bool ShowsWhole(Caller caller, string type) => ConsentDecision.ReadsAuditTrail(caller, type);

    /// <summary>
    /// A stored version never changes, so its facts are kept by row id and the base its references are read against
    /// (bounded): repeated reads of the same version skip parsing it.
    /// </summary>
    private ResourceFacts FactsOf(StoredResource resource, string baseUrl)
    {
        var key = (resource.RowId, baseUrl);
        if (_facts.TryGetValue(key, out ResourceFacts? cached) && cached!.Id == resource.Id) return cached;
        var node = FhirFormats.ParseStored(resource.Json!);
        var facts = Facts(node, links.PatientIds(node, baseUrl));
        if (resource.RowId > 0) _facts.Set(key, facts, new MemoryCacheEntryOptions { Size = 1 });
        return facts;
    }

    private readonly MemoryCache _facts = new(new MemoryCacheOptions { SizeLimit = 200_000 });

    /// <summary>What the decision reads of a resource. Its stored labels and (for non-summary types) its content's.</summary>
    public static ResourceFacts Facts(ElementNode node, IReadOnlyList<string>? patientIds)
    {
        var meta = node.Child("meta");
        var labels = new HashSet<string>();
        foreach (var s in meta?.ChildrenNamed("security") ?? [])
            if (s.Child("system")?.Value == ConsentTerms.ActCodeSystem && s.Child("code")?.Value is ConsentTerms.Psychiatry or ConsentTerms.Hiv)
                labels.Add(s.Child("code")!.Value!);
        if (!RedactedTypes.Contains(node.Type!)) labels.UnionWith(SensitiveCodes.LabelsOf(node));
        var actors = node.Type == "Consent"
            ? node.Child("provision")?.ChildrenNamed("actor").Select(a => a.Child("reference")?.Child("reference")?.Value).OfType<string>().ToList() ?? []
            : Transfer.TransferTerms.IsTransfer(node)
                ? new[] { "requester", "owner" }.Select(e => Transfer.TransferTerms.Ref(node, e)).OfType<string>().ToList()
                : [];
        var redactable = RedactedTypes.Contains(node.Type!) ? SensitiveCodes.LabelsOf(node) : null;
        return new ResourceFacts(node.Type!, node.ResourceId ?? "", patientIds, labels, meta?.Child("source")?.Value, actors, redactable);
    }

    /// <summary>
    /// Removes every element that holds a closed coding: whole top-level elements (a health-tag extension, an
    /// identifier), and within record-homepage sections the sub-section that holds it. Marks the resource REDACTED.
    /// </summary>
    public static bool Redact(ElementNode resource, IReadOnlySet<string> closed)
    {
        var removed = RedactChildren(resource, closed);
        if (removed) Redaction.Label(resource);
        return removed;
    }

    private static bool RedactChildren(ElementNode parent, IReadOnlySet<string> closed)
    {
        var removed = false;
        foreach (var child in parent.Children.ToList())
        {
            if (child.Name == "meta" || !SensitiveCodes.Holds(child, closed)) continue;
            var ownPartsClean = child.Name == "section" && child.Children.Where(c => c.Name != "section").All(c => !SensitiveCodes.Holds(c, closed));
            if (ownPartsClean) removed |= RedactChildren(child, closed);
            else removed |= parent.Remove(child);
        }
        return removed;
    }

    private async ValueTask<RecordContext> ContextAsync(AccessContext context, Caller caller, string patientId)
    {
        var key = "consent:record:" + patientId;
        if (context.Items.TryGetValue(key, out var cached) && cached is RecordContext rc) return rc;
        var (facts, consents) = await records.GetAsync(patientId, context.Http.RequestAborted);
        GuardianFacts? guardian = null;
        if (caller.HasRole(Roles.Guardian))
        {
            if (!context.Items.TryGetValue("consent:guardian", out var g))
                context.Items["consent:guardian"] = g = await records.GuardianAsync(caller.FhirUser, context.Http.RequestAborted);
            guardian = g as GuardianFacts;
        }
        rc = new RecordContext(facts, consents, guardian);
        context.Items[key] = rc;
        return rc;
    }
}

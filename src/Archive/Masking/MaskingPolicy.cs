using FhirArchive.Archive.Consent;
using FhirArchive.Archive.PatientIdentity;
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
public sealed class MaskingPolicy(MaskingRule rule, RecordDirectory records, PatientLinks links, IResourceStore store, IdentifierDomains domains, ShapedAnswers answers) : IAccessPolicy
{
    /// <summary>
    /// Search parameters that match masked text by part (an address, which holds its lines; the narrative and all
    /// strings; names in the de-identified view): a caller who sees every record masked could recover a masked value
    /// letter by letter, so they are refused (403). Exact identifiers and phones remain searchable: the full number
    /// is the caller's own input, and the answer shows it masked. Chains and _has count by their parameter names.
    /// </summary>
    private static readonly IReadOnlySet<string> ProbingParameters = new HashSet<string> { "address", "_text", "_content" };
    /// <summary>The de-identified view keeps the family name (张*): only what matches the masked given names is refused.</summary>
    private static readonly IReadOnlySet<string> NameParameters = new HashSet<string> { "name", "given", "phonetic" };

    public ValueTask OnStartAsync(AccessContext context)
    {
        if (context.SearchParameters is not { Count: > 0 } parameters) return ValueTask.CompletedTask;
        var caller = context.Http.GetCaller();
        if (!rule.AlwaysMasked(caller)) return ValueTask.CompletedTask;
        var deidentified = rule.ViewOf(caller, [], null) == MaskView.Deidentified;
        foreach (var (key, _) in parameters)
            foreach (var part in key.Split(['.', ':']))
                if (ProbingParameters.Contains(part) || (deidentified && NameParameters.Contains(part)))
                    throw new FhirException(403, "forbidden",
                        $"Searching by '{key}' is not open to the caller: it sees addresses and narratives masked, and a search by part of them would tell what is masked / " +
                        "调用方查看的地址与文本为脱敏内容，不能按其部分内容检索");
        return ValueTask.CompletedTask;
    }
    public ValueTask OnEndAsync(AccessContext context) => ValueTask.CompletedTask;
    public bool MayHide(Caller caller, string? type) => false;

    public async ValueTask<StoredResource?> ShowAsync(AccessContext context, StoredResource resource) => await ShapeAsync(context, resource);

    /// <summary>
    /// The resource masked as the caller's view asks (masking never hides: showing and shaping are one). What masking
    /// made of the same content for the same view and own systems before is served again (<see cref="ShapedAnswers"/>):
    /// a resource read again is neither parsed nor serialised again.
    /// </summary>
    public async ValueTask<StoredResource> ShapeAsync(AccessContext context, StoredResource resource)
    {
        // Types that are no resident's record data (institutions, practitioners, terminology) are nobody's to mask.
        if (context.Counting || resource.Json is not { } json || !RecordData.Is(resource.ResourceType)
            || !PersonDataMasker.MayHold(resource.ResourceType, json)) return resource;
        var view = await ViewAsync(context, resource);
        if (view == MaskView.Full) return resource;
        var content = ShapedAnswers.ContentKey(json);
        ElementNode? node = null;
        ElementNode Parsed() => node ??= FhirFormats.ParseStored(json);
        var own = await OwnSystemsAsync(context, () => answers.IdentifierSystems(content, Parsed));
        var ownKey = ShapedAnswers.OwnKey(own);
        if (!answers.TryGet(content, view, ownKey, out var answer))
        {
            var parsed = Parsed();
            var result = PersonDataMasker.Mask(parsed, view, own);
            if (result.Masked) Redaction.Label(parsed, Redaction.Masked);
            if (result.Withheld) Redaction.Label(parsed, Redaction.Code);
            answer = new ShapedAnswer(result.Changed ? FhirJsonSerializer.SerializeToUtf8Bytes(parsed) : null, result.Masked, result.Withheld);
            answers.Set(content, view, ownKey, answer);
        }
        if (answer.Masked) Redaction.Note(context, Redaction.Masked);
        if (answer.Withheld) Redaction.Note(context, Redaction.Code);
        return answer.Json is { } shaped ? resource with { Json = shaped } : resource;
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

    /// <summary>
    /// The identifier systems of the resource that are the caller's institution's own (an MRN domain registered for
    /// it, as PIXm knows them): its own numbers are no one else's to mask from it. Looked up once per request.
    /// </summary>
    private async ValueTask<IReadOnlySet<string>?> OwnSystemsAsync(AccessContext context, Func<IReadOnlyList<string>> identifierSystems)
    {
        var caller = context.Http.GetCaller();
        if (caller.Organization is not { } org || !ConsentDecision.IsInstitutionStaff(caller)) return null;
        HashSet<string>? own = null;
        foreach (var system in identifierSystems())
        {
            var key = "masking:domain:" + system;
            if (!context.Items.TryGetValue(key, out var institution))
                context.Items[key] = institution = (await domains.FindAsync(system, context.Http.RequestAborted))?.Institution;
            if (institution as string == org) (own ??= []).Add(system);
        }
        return own;
    }

    private static string? Source(StoredResource resource) =>
        FhirFormats.ParseStored(resource.Json!).Child("meta")?.Child("source")?.Value;
}

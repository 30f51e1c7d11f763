using System.Text.Json.Nodes;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Metadata;
using FhirArchive.Rest.Search;
using FhirArchive.Storage;

namespace FhirArchive.Archive.PatientIdentity;

/// <summary>
/// IHE PIXm [ITI-83] Patient/$ihe-pix: the identifiers cross-referenced with sourceIdentifier. One person has one
/// record (一人一档), so the cross-reference is the record itself: its other identifiers (ID card, birth certificate,
/// health card, record number, each hospital's medical record number) are the targetIdentifiers and the record the
/// targetId. The record is shown as a read shows it (<see cref="ReadGuard"/>): one the caller may not see answers
/// exactly as an unknown identifier (404), and only the identifiers of the version the caller is shown are returned.
/// A merged record (link replaced-by) answers with its survivor, when the caller may see that.
/// </summary>
/// <remarks>Identifiers are returned in full: masking them for some callers is a later issue.</remarks>
public static class PixQueryEndpoint
{
    public const string SourceNotFound = "sourceIdentifier Patient Identifier not found";
    public const string DomainNotFound = "sourceIdentifier Assigning Authority not found";
    public const string TargetNotFound = "targetSystem not found";
    private const int MaxHops = 8;

    public static void Map(IEndpointRouteBuilder app) =>
        app.MapOperation(FhirOperation.Local(typeof(PixQueryEndpoint).Assembly, "Patient-ihe-pix"), OperationLevel.Type, Handle)
            .WithTags("PatientIdentity").WithSummary("IHE PIXm ITI-83: the identifiers cross-referenced with sourceIdentifier (targetSystem to narrow), as the caller may see the record");

    private static async Task Handle(HttpContext ctx, IResourceStore store, SearchParser parser, ReadGuard guard, IdentifierDomains domains)
    {
        var ct = ctx.RequestAborted;
        var input = await OperationParameters.ReadAsync(ctx);
        var source = input.Required("sourceIdentifier");
        var bar = source.IndexOf('|');
        if (bar <= 0 || bar == source.Length - 1)
            throw FhirException.BadRequest($"sourceIdentifier must be system|value (the assigning authority and the identifier), not '{source}' / sourceIdentifier 须为 体系|值");
        var (system, value) = (source[..bar], SearchParser.Unescape(source[(bar + 1)..]));
        var baseUrl = FhirHeaders.BaseUrl(ctx.Request);
        // [base]|Patient/[id]: the logical id on this server is a domain of its own (ITI-83 2:3.83.4.1.2.1).
        var logical = system == baseUrl;
        var domain = logical ? null : await domains.FindAsync(system, ct);
        if (!logical && domain is null) throw new FhirException(400, "code-invalid", DomainNotFound);
        // The server's base as a target domain asks for the record only (targetId is always answered, as in IHE's examples).
        var targetSystems = input.Values("targetSystem");
        var targets = new List<IdentifierDomain>();
        foreach (var target in targetSystems.Where(t => t != baseUrl))
            targets.Add(await domains.FindAsync(target, ct) ?? throw new FhirException(403, "code-invalid", $"{TargetNotFound}: {target}"));
        var filtered = targetSystems.Count > 0;

        var records = await guard.RunAsync(ctx, "operation", "Patient", async access =>
        {
            IEnumerable<StoredResource> found;
            if (logical)
                found = value.StartsWith("Patient/", StringComparison.Ordinal) && await store.ReadAsync("Patient", value["Patient/".Length..], ct) is { IsDeleted: false } r ? [r] : [];
            else
            {
                var token = string.Join(",", domain!.Systems.Select(s => $"{SearchParser.Escape(s)}|{SearchParser.Escape(value)}"));
                var (query, _) = await parser.ParseAsync("Patient", [new("identifier", token)], strict: true, ct);
                query.Count = 20;
                query.IncludeTotal = false;
                found = (await store.SearchAsync(query, ct)).Matches;
            }
            // Each record as stored (what the answer is decided on) and as the caller is shown it (what is answered: possibly masked).
            var shown = new Dictionary<string, (StoredResource Stored, StoredResource Shown)>(StringComparer.Ordinal);
            foreach (var r in found)
                if (await guard.ShowAsync(access, r) is { } s && await SurvivorAsync(access, r, s) is { } survivor) shown.TryAdd(survivor.Shown.Id, survivor);
            return shown.Values.OrderBy(r => r.Shown.Id, StringComparer.Ordinal).ToList();
        });
        if (records.Count == 0) throw FhirException.NotFound(SourceNotFound);

        var parameters = new JsonArray();
        foreach (var (stored, record) in records)
        {
            parameters.Add(new JsonObject { ["name"] = "targetId", ["valueReference"] = new JsonObject { ["reference"] = $"Patient/{record.Id}" } });
            // Decided on the stored identifiers; answered as shown (a policy masks values, never reorders or removes them).
            var asStored = JsonNode.Parse(stored.Json!)!["identifier"]?.AsArray() ?? [];
            var asShown = JsonNode.Parse(record.Json!)!["identifier"]?.AsArray() ?? [];
            for (var i = 0; i < asStored.Count && i < asShown.Count; i++)
            {
                var identifier = asStored[i];
                if (identifier?["system"]?.GetValue<string>() is not { } s || identifier["value"]?.GetValue<string>() is not { } v) continue;
                if (!logical && domain!.Names(s) && string.Equals(v.Trim(), value.Trim(), StringComparison.OrdinalIgnoreCase)) continue; // not the source itself
                if (filtered && !targets.Any(t => t.Names(s))) continue;
                parameters.Add(new JsonObject { ["name"] = "targetIdentifier", ["valueIdentifier"] = asShown[i]!.DeepClone() });
            }
        }
        var answer = new JsonObject { ["resourceType"] = "Parameters" };
        // The identifiers answered are the records' as shown: masked for a masked view, and so labelled.
        if (Redaction.Labels(ctx).ToList() is { Count: > 0 } labels)
            answer["meta"] = new JsonObject { ["security"] = new JsonArray([.. labels.Select(c => new JsonObject { ["system"] = Redaction.System, ["code"] = c })]) };
        if (parameters.Count > 0) answer["parameter"] = parameters;
        await FhirFormats.WriteJsonBytesAsync(ctx, 200, FhirFormats.Utf8(answer.ToJsonString()));

        // A merged record (link replaced-by) stands for its survivor; a survivor the caller may not see: nothing.
        async Task<(StoredResource Stored, StoredResource Shown)?> SurvivorAsync(AccessContext access, StoredResource r, StoredResource rShown)
        {
            for (var hops = 0; hops < MaxHops; hops++)
            {
                var next = Rest.Infrastructure.FhirFormats.ParseStored(r.Json!).ChildrenNamed("link").FirstOrDefault(l => l.Child("type")?.Value == "replaced-by")
                    ?.Child("other")?.Child("reference")?.Value;
                if (next is null || !next.StartsWith("Patient/", StringComparison.Ordinal)) return (r, rShown);
                if (await store.ReadAsync("Patient", next["Patient/".Length..], ct) is not { IsDeleted: false } survivor
                    || await guard.ShowAsync(access, survivor) is not { } shown) return null;
                (r, rShown) = (survivor, shown);
            }
            return (r, rShown);
        }
    }
}

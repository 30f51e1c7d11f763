using FhirArchive.Fhir.Definitions;
using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Search;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Writing;
using FhirArchive.Storage;
using Microsoft.AspNetCore.WebUtilities;

namespace FhirArchive.Rest.Resources;

/// <summary>The result of a write: the stored version and the HTTP status it earns (201 created, 200 otherwise).</summary>
public sealed record WriteOutcome(StoredResource Stored, int Status);

/// <summary>
/// Create, update and delete (plain and conditional) inside a write session: shared by the REST endpoints, by
/// batch/transaction processing, PATCH and the sample data loader, so all follow exactly the same rules and all go
/// through the <see cref="WritePipeline"/>. Conditional matching sees only what the <see cref="IAccessPolicy"/>
/// lets the caller see.
/// </summary>
public sealed class ResourceWriter(SearchParser parser, WritePipeline pipeline, ReadGuard guard, IHttpContextAccessor caller)
{
    public static void CheckType(string type)
    {
        var t = FhirDefinitions.R4.GetType(type);
        if (t is not { Kind: TypeKind.Resource } || t.IsAbstract) throw FhirException.NotFound($"Unknown resource type '{type}'.");
    }

    public static void CheckBodyType(ElementNode resource, string type)
    {
        if (resource.Type != type)
            throw FhirException.BadRequest($"The body is a {resource.Type} but the URL is for {type}.");
    }

    public static bool IsValidId(string id) =>
        id.Length is > 0 and <= 64 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.');

    public async Task<WriteOutcome> CreateAsync(IWriteSession s, ElementNode resource, string type, string? ifNoneExist, CancellationToken ct,
        string? assignedId = null, WriteIntent? intent = null)
    {
        CheckBodyType(resource, type);
        intent ??= WriteIntent.Create;
        if (!string.IsNullOrWhiteSpace(ifNoneExist))
        {
            intent = intent with { Conditional = true };
            var match = await MatchOneAsync(s, type, QueryHelpers.ParseQuery(ifNoneExist.TrimStart('?')), "create", ct);
            if (match is not null) return new WriteOutcome(await ReplacementAsync(s, match, ct), 200);
        }
        // The server assigns the id of a created resource; an id in the body is ignored.
        return new WriteOutcome(await pipeline.StoreAsync(s, intent, resource, type, assignedId ?? NewId(), null, ct), 201);
    }

    /// <summary>
    /// A Patient replaced by another (link replaced-by: it "must no longer be used", e.g. a merged duplicate) answers
    /// with the one replacing it, when the caller may see that one: a conditional create then returns the surviving record.
    /// </summary>
    private async Task<StoredResource> ReplacementAsync(IWriteSession s, StoredResource match, CancellationToken ct)
    {
        for (var hops = 0; hops < 8 && match is { ResourceType: "Patient", Json: { } json }; hops++)
        {
            var other = FhirFormats.ParseStored(json).ChildrenNamed("link").FirstOrDefault(l => l.Child("type")?.Value == "replaced-by")
                ?.Child("other")?.Child("reference")?.Value;
            if (other is null || !other.StartsWith("Patient/", StringComparison.Ordinal)) break;
            var next = await s.ReadAsync("Patient", other["Patient/".Length..], ct);
            if (next is not { IsDeleted: false }) break;
            // The survivor as the caller may see it (a policy may redact or mask it), or none.
            if (caller.HttpContext is { } http)
            {
                if (await guard.RunAsync(http, "conditional-create", "Patient", async access => (await guard.FilterAsync(access, [next])).FirstOrDefault()) is not { } shown) break;
                next = shown;
            }
            match = next;
        }
        return match;
    }

    public async Task<WriteOutcome> UpdateAsync(IWriteSession s, ElementNode resource, string type, string id, int? ifMatch, CancellationToken ct,
        WriteIntent? intent = null)
    {
        CheckBodyType(resource, type);
        var bodyId = resource.Child("id")?.Value;
        if (bodyId is null) throw FhirException.BadRequest("The resource has no id: an update needs the id of the URL in the body.");
        if (bodyId != id) throw FhirException.BadRequest($"The id in the body ('{bodyId}') does not match the id in the URL ('{id}').");
        if (!IsValidId(id)) throw FhirException.BadRequest($"'{id}' is not a valid FHIR id.");
        intent ??= WriteIntent.Update;
        var current = await CurrentAsync(s, type, id, intent, ct);
        if (ifMatch is { } expected)
        {
            if (current is null) throw FhirException.NotFound($"{type}/{id} does not exist; If-Match cannot match.");
            if (current.IsDeleted) throw FhirException.Conflict($"{type}/{id} is deleted; If-Match cannot match.");
            if (current.Version != expected)
                throw FhirException.PreconditionFailed($"Version conflict: {type}/{id} is at version {current.Version}, If-Match asked for {expected}.");
        }
        if (current is null && !await MayCreateWithIdAsync(s, type, id, intent, ct))
            throw new FhirException(405, "not-supported",
                $"{type}/{id} does not exist, and this server assigns the ids of new resources: create it with POST.");
        var stored = await pipeline.StoreAsync(s, intent, resource, type, id, current, ct);
        // Update-as-create (client-chosen id) and update of a deleted resource both bring it (back) into existence.
        return new WriteOutcome(stored, current is null || current.IsDeleted ? 201 : 200);
    }

    public async Task<WriteOutcome> ConditionalUpdateAsync(IWriteSession s, ElementNode resource, string type, IEnumerable<KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues>> criteria, int? ifMatch, CancellationToken ct)
    {
        CheckBodyType(resource, type);
        var intent = new WriteIntent(WriteInteraction.Update, Conditional: true);
        var match = await MatchOneAsync(s, type, criteria, "update", ct);
        var bodyId = resource.Child("id")?.Value;
        if (match is not null)
        {
            if (bodyId is not null && bodyId != match.Id)
                throw FhirException.BadRequest($"The id in the body ('{bodyId}') is not the id of the matching resource ('{match.Id}').");
            if (bodyId is null) WritePipeline.SetId(resource, match.Id);
            return await UpdateAsync(s, resource, type, match.Id, ifMatch, ct, intent);
        }
        if (bodyId is not null) return await UpdateAsync(s, resource, type, bodyId, null, ct, intent);
        return new WriteOutcome(await pipeline.StoreAsync(s, intent, resource, type, NewId(), null, ct), 201);
    }

    /// <summary>Deletes; null when there was nothing to delete (never existed or already deleted).</summary>
    public async Task<StoredResource?> DeleteAsync(IWriteSession s, string type, string id, CancellationToken ct) =>
        await CurrentAsync(s, type, id, WriteIntent.Delete, ct) is { } current ? await DeleteAsync(s, current, ct) : null;

    /// <summary>Deletes the version <see cref="CurrentAsync"/> gave; null when it is a deletion already.</summary>
    public async Task<StoredResource?> DeleteAsync(IWriteSession s, StoredResource current, CancellationToken ct) =>
        current.IsDeleted ? null : await pipeline.DeleteAsync(s, WriteIntent.Delete, current, ct);

    /// <summary>
    /// The stored version a write would change, as the caller may know it: null when there is none or the caller may
    /// not see it, so a hidden resource answers every write (status and message) exactly as a missing one. The
    /// server's own writes and companion writes made by an interceptor see everything.
    /// </summary>
    public async Task<StoredResource?> CurrentAsync(IWriteSession s, string type, string id, WriteIntent intent, CancellationToken ct)
    {
        var current = await s.ReadAsync(type, id, ct);
        if (current is null || intent.Parent is not null || caller.HttpContext is not { } http || IsOperation(http)) return current;
        var interaction = intent.Interaction.ToString().ToLowerInvariant();
        return await guard.MayKnowAsync(http, interaction, current) ? current : null;
    }

    /// <summary>
    /// An operation's inner writes ($approve, $revoke…) are the operation's to authorise: the operation's own target was
    /// decided before it ran (<see cref="InstanceOperationGuard"/>).
    /// </summary>
    private static bool IsOperation(HttpContext http) => http.Request.Path.Value?.Contains("/$", StringComparison.Ordinal) == true;

    /// <summary>Update-as-create: the server's own writes, companions, and callers whose ids cannot probe for hidden ones.</summary>
    private async Task<bool> MayCreateWithIdAsync(IWriteSession s, string type, string id, WriteIntent intent, CancellationToken ct) =>
        intent.Parent is not null || caller.HttpContext is not { } http || IsOperation(http)
        || (guard.MayChooseIds(http) && await s.ReadAsync(type, id, ct) is null);

    /// <summary>Deletes the one resource matching the criteria; 0 when none matched.</summary>
    public async Task<int> ConditionalDeleteAsync(IWriteSession s, string type, IEnumerable<KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues>> criteria, CancellationToken ct)
    {
        var match = await MatchOneAsync(s, type, criteria, "delete", ct);
        if (match is null) return 0;
        await pipeline.DeleteAsync(s, new WriteIntent(WriteInteraction.Delete, Conditional: true), match, ct);
        return 1;
    }

    /// <summary>
    /// The shape every conditional interaction shares: the one resource the criteria match (null for none), 412
    /// when several do. <paramref name="interaction"/> names it in the message and, as "conditional-...", to the access policy.
    /// </summary>
    public async Task<StoredResource?> MatchOneAsync(IWriteSession s, string type,
        IEnumerable<KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues>> criteria, string interaction, CancellationToken ct)
    {
        var matches = await FindAsync(s, type, criteria, ct, "conditional-" + interaction);
        if (matches.Count > 1) throw FhirException.PreconditionFailed($"The conditional {interaction} matched {matches.Count} resources; only one may match.");
        return matches.Count == 1 ? matches[0] : null;
    }

    /// <summary>
    /// Up to two resources matching the criteria, of those the access policy shows the caller (a conditional
    /// operation must neither reveal nor act on what the caller cannot see); the server's own writes have no caller.
    /// The criteria reach the access policies as a search's parameters: what the caller may not search by (a partial
    /// match of values it sees masked) it may not match a conditional write by either (201/200/412 would tell).
    /// </summary>
    public async Task<IReadOnlyList<StoredResource>> FindAsync(IWriteSession s, string type,
        IEnumerable<KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues>> criteria, CancellationToken ct,
        string interaction = "conditional-reference")
    {
        var flat = criteria.SelectMany(kv => kv.Value.Select(v => new KeyValuePair<string, string>(kv.Key, v ?? ""))).ToList();
        if (flat.Count == 0) throw FhirException.BadRequest("A conditional operation needs search criteria.");
        // Conditional operations are strict: an ignored criterion could make them touch the wrong resource.
        var (query, _) = await parser.ParseAsync(type, flat, strict: true, ct, s);
        query.Count = 2;
        query.IncludeTotal = false;
        if (caller.HttpContext is not { } http) return (await s.SearchAsync(query, ct)).Matches;
        return await guard.RunAsync(http, interaction, type, async access =>
        {
            // Page on past hidden matches until two are visible or the matches run out.
            var visible = new List<StoredResource>();
            while (true)
            {
                var page = (await s.SearchAsync(query, ct)).Matches;
                visible.AddRange(await guard.FilterAsync(access, page));
                if (visible.Count >= 2 || page.Count < query.Count) return (IReadOnlyList<StoredResource>)visible.Take(2).ToList();
                query.Offset += page.Count;
            }
        }, flat);
    }

    /// <summary>The id of a created resource: the server's.</summary>
    public static string NewId() => WritePipeline.NewId();
}

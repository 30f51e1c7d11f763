using Microsoft.Extensions.Caching.Memory;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;

namespace FhirArchive.Rest.Access;

/// <summary>
/// Runs a read operation through the access policies: start, per-resource filter, end. In order: the token's reach
/// (<see cref="ScopedAccessPolicy"/>), then every registered <see cref="IAccessPolicy"/> in registration order (the
/// domain's consent rules, an operator's own); none registered allows everything the token reaches.
/// A deletion has no content to decide on: it is decided as the last version before it, so a hidden resource's
/// deletion (a 410, a DELETE entry in history) does not reveal that it existed, and a visible one's is shown.
/// A resource that points at record data (<see cref="RecordData"/>: a Provenance's target, a Task's focus) is shown
/// only where everything it points at may be shown too.
/// </summary>
public sealed class ReadGuard(IEnumerable<IAccessPolicy> registered, PatientLinks links, IResourceStore store)
{

    private readonly MemoryCache cache = new(new MemoryCacheOptions { SizeLimit = 100_000 });
    private const int MaxPointerDepth = 3;
    private readonly PolicyChain policy = new([new ScopedAccessPolicy(links), .. registered]);

    public async Task<T> RunAsync<T>(HttpContext http, string interaction, string? type, Func<AccessContext, Task<T>> body,
        IReadOnlyList<KeyValuePair<string, string>>? searchParameters = null)
    {
        var ctx = new AccessContext(http, interaction, type) { SearchParameters = searchParameters };
        await policy.OnStartAsync(ctx);
        try
        {
            return await body(ctx);
        }
        finally
        {
            await policy.OnEndAsync(ctx);
        }
    }

    /// <summary>The resource as the caller may see it (possibly redacted), or null: then answer as if it did not exist.</summary>
    public async ValueTask<StoredResource?> ShowAsync(AccessContext ctx, StoredResource r)
    {
        if (await DecideAsync(ctx, r) is not { } shown) return null;
        if (ctx.Http.Features.Get<IAccessRecorder>() is { } recorder)
        {
            recorder.Shown(shown);
            if (shown.ResourceType == "Binary" && shown.Json is not null) await NameContextPatientsAsync(ctx, recorder, shown);
        }
        return shown;
    }

    /// <summary>
    /// A resource just written, as the answer to its writer carries it (create, update, PATCH, a batch or transaction
    /// entry): only the policies' showing transformations (<see cref="IAccessPolicy.ShapeAsync"/>: masking, redaction),
    /// never their decisions — the writer knows what it wrote, and a write-only scope still gets its answer. The write
    /// itself is audited; nothing is recorded as read.
    /// </summary>
    public async Task<StoredResource> ShowWrittenAsync(HttpContext http, StoredResource written) =>
        await policy.ShapeAsync(new AccessContext(http, "write", written.ResourceType), written);

    /// <summary>
    /// A Binary is about the patients of its securityContext (a document's DocumentReference): the audit names them,
    /// as it names a DocumentReference's (BALP: the patient of a retrieved document).
    /// </summary>
    private async ValueTask NameContextPatientsAsync(AccessContext ctx, IAccessRecorder recorder, StoredResource binary)
    {
        var patients = new HashSet<string>();
        foreach (var (type, id, version) in ReferencesOf(binary).Pointers)
            if (await TargetAsync(ctx, type, id, version) is { Json: not null } target)
                patients.UnionWith(links.PatientsOf(target));
        if (patients.Count > 0) recorder.About(binary, patients);
    }

    /// <summary>A direct read: null when missing or hidden (answer 404); a deletion the caller may know of passes as it is (answer 410).</summary>
    public async ValueTask<StoredResource?> ShowOrGoneAsync(AccessContext ctx, StoredResource? r) =>
        r is null ? null : r.IsDeleted ? await DecideAsync(ctx, r) : await ShowAsync(ctx, r);

    /// <summary>
    /// The resources the caller may see, for matching only (totals, chained and _has parameters): nothing is
    /// disclosed, so nothing is recorded as shown or denied.
    /// </summary>
    public async Task<IReadOnlyList<StoredResource>> VisibleAsync(AccessContext ctx, IEnumerable<StoredResource> resources)
    {
        var counting = ctx.Counting;
        ctx.Counting = true;
        try
        {
            var visible = new List<StoredResource>();
            foreach (var r in resources)
                if (await DecideAsync(ctx, r) is not null) visible.Add(r);
            return visible;
        }
        finally
        {
            ctx.Counting = counting;
        }
    }

    /// <summary>
    /// Whether the caller may know of a stored version it is about to write over (<paramref name="interaction"/>:
    /// update, patch or delete): a resource the caller may not see answers every write exactly as a missing one.
    /// Decided quietly; the write itself is audited.
    /// </summary>
    public Task<bool> MayKnowAsync(HttpContext http, string interaction, StoredResource current) =>
        RunAsync(http, interaction, current.ResourceType, async a => (await VisibleAsync(a, [current])).Count == 1);

    /// <summary>
    /// Whether the caller may create a resource under an id of its own choosing (update-as-create): only where that
    /// cannot reveal a hidden resource's id, i.e. when the caller is shown everything of the kind (the server, no
    /// consent rules) or is the platform's own trusted client.
    /// </summary>
    public bool MayChooseIds(HttpContext http) => policy.MayChooseIds(http.GetCaller());

    /// <summary>Whether any policy may hide a resource of this type from this caller (else a count needs no decisions).</summary>
    public bool MayHide(Caller caller, string? type) => policy.MayHide(caller, type);

    public async Task<List<StoredResource>> FilterAsync(AccessContext ctx, IEnumerable<StoredResource> resources)
    {
        var shown = new List<StoredResource>();
        foreach (var r in resources)
            if (await ShowAsync(ctx, r) is { } s) shown.Add(s);
        return shown;
    }

    /// <summary>
    /// One page of up to <paramref name="wanted"/> resources the caller may see, filtered before it is cut: rows are
    /// fetched in growing batches (<paramref name="fetch"/> gets the last row fetched and how many were, and how many
    /// to take) until the page is full and one more visible row shows that a next page holds something, or the rows
    /// end, or <paramref name="maxScanned"/> rows were decided (then <see cref="VisiblePage.Bounded"/>). The page's
    /// resources are recorded as shown; the look-ahead row is decided quietly.
    /// </summary>
    public async Task<VisiblePage> PageAsync(AccessContext ctx, int wanted, int maxScanned,
        Func<StoredResource?, int, int, Task<IReadOnlyList<StoredResource>>> fetch)
    {
        var shown = new List<StoredResource>();
        StoredResource? last = null, lastConsumed = null;
        var (consumed, fetched) = (0, 0);
        var take = wanted + 1;
        while (true)
        {
            var rows = await fetch(last, fetched, take);
            foreach (var row in rows)
            {
                if (shown.Count < wanted)
                {
                    if (await ShowAsync(ctx, row) is { } s) shown.Add(s);
                }
                else if ((await VisibleAsync(ctx, [row])).Count == 1)
                    return new VisiblePage(shown, consumed, lastConsumed, More: true, Bounded: false);
                (consumed, lastConsumed) = (consumed + 1, row);
                if (consumed >= maxScanned) return new VisiblePage(shown, consumed, lastConsumed, More: true, Bounded: true);
            }
            if (rows.Count < take) return new VisiblePage(shown, consumed, lastConsumed, More: false, Bounded: false);
            (last, fetched) = (rows[^1], fetched + rows.Count);
            take = Math.Min(take * 2, 1000);
        }
    }

    /// <summary>
    /// The policies' answer for one version (possibly redacted, or null); a deletion is decided as the version before
    /// it; a resource that points at record data the caller may not see is hidden with it.
    /// </summary>
    private async ValueTask<StoredResource?> DecideAsync(AccessContext ctx, StoredResource r, int depth = 0)
    {
        var shown = r.IsDeleted ? (await MaySeeDeletionAsync(ctx, r) ? r : null) : await policy.ShowAsync(ctx, r);
        if (shown is null || r.IsDeleted || !RecordData.Refers(r.ResourceType)) return shown;
        var caller = ctx.Http.GetCaller();
        if (caller.HasRole(Roles.Server) || policy.ShowsWhole(caller, r.ResourceType)) return shown;
        var (pointers, citations) = ReferencesOf(r);
        foreach (var (type, id, version) in pointers)
            if (!await PointerVisibleAsync(ctx, type, id, version, depth + 1))
            {
                if (!ctx.Counting) ctx.Http.Features.Get<IAccessRecorder>()?.Decided(r, false, "it points at record data the caller may not see");
                return null;
            }
        HashSet<(string, string, string?)>? hidden = null;
        foreach (var citation in citations)
            if (!await PointerVisibleAsync(ctx, citation.Type, citation.Id, citation.Version, depth + 1)) (hidden ??= []).Add(citation);
        if (hidden is null) return shown;
        var node = FhirFormats.ParseStored(shown.Json!);
        if (!PatientLinks.CutCitations(node, hidden)) return shown;
        Redaction.Mark(ctx, node);
        return shown with { Json = Fhir.Serialization.Json.FhirJsonSerializer.SerializeToUtf8Bytes(node) };
    }

    /// <summary>What a stored version points at and cites (a version never changes: kept by row id).</summary>
    private References ReferencesOf(StoredResource r)
    {
        References Read()
        {
            var node = FhirFormats.ParseStored(r.Json!);
            return new References([.. PatientLinks.Pointers(node).Distinct()], [.. PatientLinks.Citations(node).Distinct()]);
        }
        return r.RowId <= 0 ? Read() : cache.GetOrCreate(("references", r.RowId), e =>
        {
            e.Size = 1;
            return Read();
        })!;
    }

    private sealed record References(
        IReadOnlyList<(string Type, string Id, string? Version)> Pointers, IReadOnlyList<(string Type, string Id, string? Version)> Citations);

    /// <summary>
    /// Whether the caller may see what a reference names (decided quietly: nothing of it is disclosed). A target that
    /// does not exist reveals nothing; pointers beyond a few hops are not followed.
    /// </summary>
    private async ValueTask<bool> PointerVisibleAsync(AccessContext ctx, string type, string id, string? version, int depth)
    {
        if (depth > MaxPointerDepth) return true;
        var key = $"pointer:{type}/{id}/{version}";
        if (ctx.Items.TryGetValue(key, out var known)) return (bool)known!;
        var target = await TargetAsync(ctx, type, id, version);
        var counting = ctx.Counting;
        ctx.Counting = true;
        try
        {
            var visible = target is null || await DecideAsync(ctx, target, depth) is not null;
            ctx.Items[key] = visible;
            return visible;
        }
        finally
        {
            ctx.Counting = counting;
        }
    }

    /// <summary>
    /// What a reference names (the version named, else the current one), read once per operation: the pointer check
    /// and the audit of a shown Binary ask for the same target.
    /// </summary>
    private async ValueTask<StoredResource?> TargetAsync(AccessContext ctx, string type, string id, string? version)
    {
        var key = $"target:{type}/{id}/{version}";
        if (ctx.Items.TryGetValue(key, out var kept)) return (StoredResource?)kept;
        var ct = ctx.Http.RequestAborted;
        var target = version is null ? await store.ReadAsync(type, id, ct)
            : int.TryParse(version, out var v) ? await store.ReadVersionAsync(type, id, v, ct) : null;
        ctx.Items[key] = target;
        return target;
    }

    /// <summary>
    /// Whether the caller may see the last version before this deletion (the decision is recorded as any other, but
    /// nothing of the version is disclosed). With no earlier version the deletion's own rules decide.
    /// </summary>
    private async ValueTask<bool> MaySeeDeletionAsync(AccessContext ctx, StoredResource deletion)
    {
        for (var v = deletion.Version - 1; v >= 1; v--)
            if (await store.ReadVersionAsync(deletion.ResourceType, deletion.Id, v, ctx.Http.RequestAborted) is { IsDeleted: false } before)
                return await policy.ShowAsync(ctx, before) is not null;
        return await policy.ShowAsync(ctx, deletion) is not null;
    }
}

/// <summary>
/// A page of visible resources: <see cref="Consumed"/> rows were passed (shown or hidden), the last of them
/// <see cref="LastConsumed"/>, so the next page starts after them; <see cref="More"/> when a visible row follows (or,
/// <see cref="Bounded"/>, when the scan stopped at its bound before it could tell).
/// </summary>
public sealed record VisiblePage(List<StoredResource> Shown, int Consumed, StoredResource? LastConsumed, bool More, bool Bounded);

using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Outcomes;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Patch;
using FhirArchive.Rest.Resources;
using FhirArchive.Rest.Search;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Writing;
using FhirArchive.Storage;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.WebUtilities;

namespace FhirArchive.Rest.Batch;

/// <summary>
/// POST [base] with a batch (entries independent) or transaction Bundle (all or nothing, processed
/// DELETE, POST, PUT, GET; urn:uuid and conditional references resolved before anything is written).
/// </summary>
public static class BatchEndpoint
{
    public static void Map(IEndpointRouteBuilder app) =>
        app.MapPost("/", Process).WithInteraction(InteractionKind.Batch).WithTags("Batch").WithSummary("batch or transaction Bundle");

    private sealed class Entry(int index, ElementNode node)
    {
        public int Index { get; } = index;
        public string Method { get; } = node.Child("request")?.Child("method")?.Value ?? throw FhirException.BadRequest($"entry[{index}] has no request.method.");
        public string Url { get; } = node.Child("request")?.Child("url")?.Value ?? throw FhirException.BadRequest($"entry[{index}] has no request.url.");
        public string? FullUrl { get; } = node.Child("fullUrl")?.Value;
        public string? IfNoneExist { get; } = node.Child("request")?.Child("ifNoneExist")?.Value;
        public string? IfMatch { get; } = node.Child("request")?.Child("ifMatch")?.Value;
        public ElementNode? Resource { get; } = node.Child("resource");
        public string? AssignedId { get; set; }
        /// <summary>The procedure a transaction interceptor named for this entry's write (<see cref="TransactionContext.SetProcedure"/>).</summary>
        public string? Procedure { get; set; }
        public BundleEntry? Response { get; set; }
        /// <summary>The resource this entry wrote: its response shows it once the writes are committed (<see cref="ShowWrittenAsync"/>).</summary>
        public StoredResource? Written { get; set; }

        public string Path => Url.Split('?')[0].Trim('/');
        public string Query => Url.Contains('?') ? Url[(Url.IndexOf('?') + 1)..] : "";
        public int Order => Method switch { "DELETE" => 0, "POST" => 1, "PUT" or "PATCH" => 2, _ => 3 };
    }

    private static async Task Process(HttpContext ctx, IResourceStore store, ResourceWriter writer, ResourcePatcher patcher, SearchService search, ReadGuard guard, BundleLimits limits,
        [FromServices] IEnumerable<ITransactionInterceptor> interceptors)
    {
        var bundle = await FhirFormats.ReadResourceAsync(ctx.Request, ctx.RequestAborted, limits.MaxBytes);
        if (bundle.Type != "Bundle") throw FhirException.BadRequest($"POST to the base URL takes a batch or transaction Bundle, not a {bundle.Type}.");
        var type = bundle.Child("type")?.Value;
        if (type is not ("batch" or "transaction")) throw FhirException.BadRequest($"Bundle.type must be batch or transaction, not '{type}'.");
        var nodes = bundle.ChildrenNamed("entry").ToList();
        if (nodes.Count > limits.MaxEntries)
            throw new FhirException(413, "too-costly", $"The Bundle has {nodes.Count:N0} entries; a {type} may have at most {limits.MaxEntries:N0}.");
        var entries = nodes.Select((e, i) => new Entry(i, e)).ToList();
        CheckStructure(entries, type == "transaction");
        var response = type == "transaction"
            ? await TransactionAsync(ctx, bundle, entries, store, writer, patcher, search, guard, interceptors)
            : await BatchAsync(ctx, entries, store, writer, patcher, search, guard);
        // What the entries' reads redacted or masked, the answer says too.
        response.Labels.UnionWith(Redaction.Labels(ctx));
        await FhirFormats.WriteJsonBytesAsync(ctx, 200, response.ToJson());
    }

    private static readonly HashSet<string> Methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

    /// <summary>
    /// The whole Bundle's structure, checked before any entry is processed, so that a bad last entry costs nothing:
    /// every entry has a known method and a url (the <see cref="Entry"/> constructor) and fullUrls are unique (bdl-7:
    /// unless the versions differ). A transaction's urls are checked too, since any bad one fails it; a batch's bad url
    /// fails only its entry.
    /// </summary>
    private static void CheckStructure(List<Entry> entries, bool transaction)
    {
        var fullUrls = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var e in entries)
        {
            if (!Methods.Contains(e.Method))
                throw FhirException.BadRequest($"entry[{e.Index}]: request.method '{e.Method}' is not one of {string.Join(", ", Methods)}.");
            var version = $"{e.FullUrl}|{e.Resource?.Child("meta")?.Child("versionId")?.Value}";
            if (e.FullUrl is not null && !fullUrls.TryAdd(version, e.Index))
                throw new FhirException(400, "invariant", $"entry[{e.Index}]: fullUrl '{e.FullUrl}' is also entry[{fullUrls[version]}]'s; fullUrls must be unique in a Bundle (bdl-7).");
            if (!transaction) continue;
            try
            {
                ResourceWriter.CheckType(Split(e.Path).Type);
            }
            catch (FhirException fe)
            {
                throw AtEntry(fe, e);
            }
        }
    }

    private static FhirException AtEntry(FhirException fe, Entry e) =>
        new(fe.Status, fe.Issues.Select(i => i with { Message = $"entry[{e.Index}] ({e.Method} {e.Url}): {i.Message}" }).ToList());

    private static async Task<BundleBuilder> BatchAsync(HttpContext ctx, List<Entry> entries, IResourceStore store, ResourceWriter writer, ResourcePatcher patcher, SearchService search, ReadGuard guard)
    {
        foreach (var e in entries)
        {
            ctx.RequestAborted.ThrowIfCancellationRequested();
            try
            {
                if (e.Method is "GET" or "HEAD") e.Response = await GetAsync(ctx, e, store, search, guard);
                else
                {
                    await using var s = await store.BeginWriteAsync(ctx.RequestAborted);
                    if (e.Method == "POST" && e.Resource is not null)
                    {
                        var (t, _) = Split(e.Path);
                        ResourceWriter.CheckType(t);
                        if (e.IfNoneExist is null) e.AssignedId = ResourceWriter.NewId();
                    }
                    e.Response = await WriteAsync(ctx, s, e, writer, patcher);
                    await s.CommitAsync(ctx.RequestAborted);
                    await ShowWrittenAsync(ctx, guard, e);
                }
            }
            catch (FhirException fe)
            {
                e.Response = Failed(fe);
            }
        }
        var b = new BundleBuilder("batch-response");
        b.Entries.AddRange(entries.Select(e => e.Response!));
        return b;
    }

    private static async Task<BundleBuilder> TransactionAsync(HttpContext ctx, ElementNode bundle, List<Entry> entries, IResourceStore store, ResourceWriter writer,
        ResourcePatcher patcher, SearchService search, ReadGuard guard, IEnumerable<ITransactionInterceptor> interceptors)
    {
        var ct = ctx.RequestAborted;
        await using (var s = await store.BeginWriteAsync(ct))
        {
            // 1. Decide every created resource's id, so references between entries can be rewritten before any write.
            var map = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var e in entries.Where(e => e.Method == "POST"))
            {
                ct.ThrowIfCancellationRequested();
                var (type, _) = Split(e.Path);
                ResourceWriter.CheckType(type);
                string id;
                if (e.IfNoneExist is not null)
                {
                    var found = await writer.FindAsync(s, type, QueryHelpers.ParseQuery(e.IfNoneExist.TrimStart('?')), ct, "conditional-create");
                    if (found.Count > 1) throw FhirException.PreconditionFailed($"entry[{e.Index}]: If-None-Exist matched {found.Count} resources.");
                    id = found.Count == 1 ? found[0].Id : ResourceWriter.NewId();
                    if (found.Count == 0) e.AssignedId = id;
                }
                else e.AssignedId = id = ResourceWriter.NewId();
                if (e.FullUrl is not null) map[e.FullUrl] = $"{type}/{id}";
            }
            foreach (var e in entries.Where(e => e.Method == "PUT" && e.FullUrl is not null && !e.Url.Contains('?')))
                map[e.FullUrl!] = e.Path;

            // 2. Rewrite urn:uuid references and resolve conditional ones (Patient?identifier=...).
            foreach (var e in entries.Where(e => e.Resource is not null))
            {
                ct.ThrowIfCancellationRequested();
                // One walk of the entry: Reference.reference values, and (http.html#trules) elements of type uri, url,
                // oid and uuid naming a fullUrl (an Attachment.url naming a Binary of the transaction).
                foreach (var n in e.Resource!.Descendants().Where(n => n.Value is not null && (IsReference(n) || n.Type is "uri" or "url" or "oid" or "uuid") && !InNestedBundle(n, e.Resource!)).ToList())
                {
                    var v = n.Value!;
                    if (map.TryGetValue(v, out var target)) n.Value = target;
                    else if (!IsReference(n)) continue;
                    else if (v.StartsWith("urn:uuid:", StringComparison.Ordinal) || v.StartsWith("urn:oid:", StringComparison.Ordinal))
                        throw FhirException.BadRequest($"entry[{e.Index}]: reference '{v}' matches no fullUrl in the transaction.");
                    else if (v.Contains('?'))
                    {
                        var (rt, _) = Split(v.Split('?')[0]);
                        var found = await writer.FindAsync(s, rt, QueryHelpers.ParseQuery(v[(v.IndexOf('?') + 1)..]), ct);
                        if (found.Count != 1)
                            throw FhirException.PreconditionFailed($"entry[{e.Index}]: conditional reference '{v}' matched {found.Count} resources (exactly one is needed).");
                        n.Value = $"{rt}/{found[0].Id}";
                    }
                }
            }

            // 2b. The whole Bundle's checks (an exchange profile's rules), before anything is written.
            var context = new TransactionContext(ctx, s, bundle, [.. entries.Select(e => new TransactionEntry(e.Index, e.Method, e.Url, e.FullUrl, e.Resource,
                e.FullUrl is not null && map.TryGetValue(e.FullUrl, out var r) ? r : e.Method == "POST" && e.AssignedId is not null ? $"{Split(e.Path).Type}/{e.AssignedId}" : null))]);
            foreach (var interceptor in interceptors)
            {
                ct.ThrowIfCancellationRequested();
                await interceptor.BeforeEntriesAsync(context);
            }
            foreach (var e in entries) e.Procedure = context.ProcedureOf(e.Index);

            // 3. Write in the spec's order; any failure rolls the whole transaction back.
            foreach (var e in entries.Where(e => e.Method is not ("GET" or "HEAD")).OrderBy(e => e.Order))
            {
                ct.ThrowIfCancellationRequested();
                try
                {
                    e.Response = await WriteAsync(ctx, s, e, writer, patcher);
                }
                catch (FhirException fe)
                {
                    throw AtEntry(fe, e);
                }
            }
            await s.CommitAsync(ct);
        }
        foreach (var e in entries) await ShowWrittenAsync(ctx, guard, e);
        // 4. Reads come last and see the transaction's writes.
        foreach (var e in entries.Where(e => e.Method is "GET" or "HEAD"))
        {
            ct.ThrowIfCancellationRequested();
            // The writes are committed: a failed read is reported in its entry rather than failing the response.
            try { e.Response = await GetAsync(ctx, e, store, search, guard); }
            catch (FhirException fe) { e.Response = Failed(fe); }
        }
        var b = new BundleBuilder("transaction-response");
        b.Entries.AddRange(entries.Select(e => e.Response!));
        return b;
    }

    private static bool IsReference(ElementNode n) => n.Name == "reference" && n.Parent?.Type == "Reference";

    /// <summary>
    /// True for a reference inside an entry of a Bundle held by the entry's resource (a document or message stored
    /// as a resource): its urn:uuid references point at that Bundle's own fullUrls, not at this transaction's.
    /// </summary>
    private static bool InNestedBundle(ElementNode n, ElementNode entryResource)
    {
        for (var p = n.Parent; p is not null && p != entryResource; p = p.Parent)
            if (p.IsResource && p.Name == "resource" && p.Parent?.Name == "entry") return true;
        return false;
    }

    /// <summary>A failed entry: its status and OperationOutcome in response (R4: entry.response.outcome), no resource.</summary>
    private static BundleEntry Failed(FhirException fe) =>
        new(null, Response: new(fe.Status, Outcome: FhirJsonSerializer.SerializeToUtf8Bytes(OperationOutcomes.Create(fe.Issues))));

    /// <summary>The type and id of a request URL: "Type", "Type/id" or "Type/id/_history/vid".</summary>
    private static (string Type, string? Id) Split(string path)
    {
        path = path.Trim('/');
        if (!path.Contains('/')) return (path, null);
        if (ReferenceParts.TryParse(path, out var type, out var id)) return (type, id);
        ResourceWriter.CheckType(path[..path.IndexOf('/')]);
        throw FhirException.BadRequest($"'{path}' is not a request URL of the form [type], [type]/[id] or [type]/[id]/_history/[vid].");
    }

    private static async Task<BundleEntry> WriteAsync(HttpContext ctx, IWriteSession s, Entry e, ResourceWriter writer, ResourcePatcher patcher)
    {
        var ct = ctx.RequestAborted;
        var (type, id) = Split(e.Path);
        ResourceWriter.CheckType(type);
        InteractionAuthorizer.CheckEntry(ctx, e.Method, e.Url, e.Index);
        var baseUrl = FhirHeaders.BaseUrl(ctx.Request);
        switch (e.Method)
        {
            case "POST":
            {
                var r = e.Resource ?? throw FhirException.BadRequest($"entry[{e.Index}]: POST needs a resource.");
                var o = await writer.CreateAsync(s, r, type, e.IfNoneExist, ct, e.AssignedId, e.Procedure is null ? null : WriteIntent.Create.For(e.Procedure));
                return Written(ctx, baseUrl, o, e);
            }
            case "PUT":
            {
                var r = e.Resource ?? throw FhirException.BadRequest($"entry[{e.Index}]: PUT needs a resource.");
                var ifMatch = FhirHeaders.ParseVersionTag(e.IfMatch);
                var o = id is null
                    ? await writer.ConditionalUpdateAsync(s, r, type, QueryHelpers.ParseQuery(e.Query), ifMatch, ct)
                    : await writer.UpdateAsync(s, r, type, id, ifMatch, ct, e.Procedure is null ? null : WriteIntent.Update.For(e.Procedure));
                return Written(ctx, baseUrl, o, e);
            }
            case "PATCH":
            {
                var patch = PatchDocument.FromEntryResource(e.Resource);
                var ifMatch = FhirHeaders.ParseVersionTag(e.IfMatch);
                var o = id is null
                    ? await patcher.ConditionalPatchAsync(s, type, QueryHelpers.ParseQuery(e.Query), patch, ifMatch, ct)
                    : await patcher.PatchAsync(s, type, id, patch, ifMatch, ct, e.Procedure);
                return Written(ctx, baseUrl, o, e);
            }
            case "DELETE":
            {
                if (id is null)
                {
                    var n = await writer.ConditionalDeleteAsync(s, type, QueryHelpers.ParseQuery(e.Query), ct);
                    return new BundleEntry(null, Response: new(n == 0 ? 204 : 200));
                }
                var d = await writer.DeleteAsync(s, type, id, ct);
                return new BundleEntry(null, Response: new(ResourceEndpoints.DeletedStatus, null, d is null ? null : FhirHeaders.ETag(d.Version), d?.LastUpdated));
            }
            default:
                throw new FhirException(405, "not-supported", $"entry[{e.Index}]: method {e.Method} is not supported.");
        }
    }

    /// <summary>A written entry; the warnings its write raised go in response.outcome (R4: hints and warnings of the entry).</summary>
    private static BundleEntry Written(HttpContext ctx, string baseUrl, WriteOutcome o, Entry e)
    {
        var s = e.Written = o.Stored;
        var warnings = WriteWarnings.Of(ctx, s);
        return new BundleEntry($"{baseUrl}/{s.ResourceType}/{s.Id}", s.Json,
            Response: new(o.Status, $"{s.ResourceType}/{s.Id}/_history/{s.Version}", FhirHeaders.ETag(s.Version), s.LastUpdated,
                warnings.Count > 0 ? FhirJsonSerializer.SerializeToUtf8Bytes(OperationOutcomes.Create(warnings)) : null));
    }

    /// <summary>
    /// A written entry's resource as its writer is shown it, once committed (the access policies' masking and
    /// redaction, never their decisions: <see cref="ReadGuard.ShowWrittenAsync"/>).
    /// </summary>
    private static async Task ShowWrittenAsync(HttpContext ctx, ReadGuard guard, Entry e)
    {
        if (e.Written is not { } written || e.Response is not { Json: not null } response) return;
        e.Response = response with { Json = (await guard.ShowWrittenAsync(ctx, written)).Json };
    }

    private static async Task<BundleEntry> GetAsync(HttpContext ctx, Entry e, IResourceStore store, SearchService search, ReadGuard guard)
    {
        var (type, id) = Split(e.Path);
        ResourceWriter.CheckType(type);
        InteractionAuthorizer.CheckEntry(ctx, e.Method, e.Url, e.Index);
        var baseUrl = FhirHeaders.BaseUrl(ctx.Request);
        if (id is null)
        {
            var pairs = SearchEndpoints.QueryPairs(QueryHelpers.ParseQuery(e.Query)).ToList();
            var b = await search.BuildAsync(ctx, type, pairs, null, "batch-search");
            return new BundleEntry(null, b.ToJson(), Response: new(200));
        }
        return await guard.RunAsync(ctx, "batch-read", type, async access =>
        {
            var version = ReferenceParts.TryParse(e.Path, out _, out _, out var vid) && int.TryParse(vid, out _) ? vid : null;
            var s = await ResourceEndpoints.ShownAsync(access, store, guard, type, id, version);
            return new BundleEntry($"{baseUrl}/{type}/{id}", s.Json, Response: new(200, null, FhirHeaders.ETag(s.Version), s.LastUpdated));
        });
    }
}

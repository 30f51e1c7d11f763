using FhirArchive.Fhir.Outcomes;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Resources;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;
using FhirArchive.Storage.Search;
using System.Globalization;
using Microsoft.AspNetCore.WebUtilities;

namespace FhirArchive.Rest.Search;

/// <summary>Type, system and compartment search, by GET and by POST _search.</summary>
public static class SearchEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/{type}", (HttpContext ctx, string type, SearchService s) =>
        {
            ResourceWriter.CheckType(type);
            return s.SearchAsync(ctx, type, QueryPairs(ctx.Request.Query), null, "search-type");
        }).WithInteraction(InteractionKind.SearchType).WithTags("Search").WithSummary("search a resource type");
        app.MapGet("/", (HttpContext ctx, SearchService s) => s.SearchAsync(ctx, null, QueryPairs(ctx.Request.Query), null, "search-system"))
            .WithInteraction(InteractionKind.SearchSystem).WithTags("Search").WithSummary("system search (_type, _id, _lastUpdated)");
        app.MapPost("/{type}/_search", async (HttpContext ctx, string type, SearchService s) =>
        {
            ResourceWriter.CheckType(type);
            var pairs = QueryPairs(ctx.Request.Query).ToList();
            if (ctx.Request.HasFormContentType)
                pairs.AddRange(QueryPairs(await ctx.Request.ReadFormAsync(ctx.RequestAborted)));
            else if (ctx.Request.ContentLength > 0)
                throw new FhirException(415, "not-supported", "POST _search takes application/x-www-form-urlencoded parameters.");
            await s.SearchAsync(ctx, type, pairs, null, "search-type");
        }).WithInteraction(InteractionKind.SearchType).WithTags("Search").WithSummary("search a resource type (parameters in the form body)");
        app.MapGet("/{compartment}/{id}/{type}", (HttpContext ctx, string compartment, string id, string type, SearchService s) =>
        {
            ResourceWriter.CheckType(type);
            var ps = Compartments.Params(compartment, type) ?? throw FhirException.NotFound($"{compartment} is not a compartment type.");
            // "{def}" means the compartment resource itself (Patient/1/Patient).
            var predicates = ps.Select(p => p == "{def}" ? (SearchPredicate)new IdPredicate(id) : new ReferencePredicate(p, compartment, id, null)).ToList();
            if (predicates.Count == 0) throw FhirException.NotFound($"{type} is not in the {compartment} compartment.");
            return s.SearchAsync(ctx, type, QueryPairs(ctx.Request.Query), new SearchCriterion(predicates), "search-compartment");
        }).WithInteraction(InteractionKind.SearchType).WithTags("Search").WithSummary("compartment search, e.g. Patient/123/Observation");
    }

    public static IEnumerable<KeyValuePair<string, string>> QueryPairs(IEnumerable<KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues>> q) =>
        q.SelectMany(kv => kv.Value.Select(v => new KeyValuePair<string, string>(kv.Key, v ?? "")));
}

public sealed class SearchService(SearchParser parser, IResourceStore store, ReadGuard guard, PagingOptions paging)
{
    private const int MaxIncludeRounds = 4;

    public async Task SearchAsync(HttpContext ctx, string? type, IEnumerable<KeyValuePair<string, string>> parameters, SearchCriterion? extra, string interaction)
    {
        var bundle = await BuildAsync(ctx, type, parameters.ToList(), extra, interaction);
        await FhirFormats.WriteJsonBytesAsync(ctx, 200, bundle.ToJson());
    }

    public async Task<BundleBuilder> BuildAsync(HttpContext ctx, string? type, List<KeyValuePair<string, string>> parameters, SearchCriterion? extra, string interaction)
    {
        var ct = ctx.RequestAborted;
        return await guard.RunAsync(ctx, interaction, type, async access =>
        {
            var (query, options) = await parser.ParseAsync(type, parameters.Where(p => !FhirFormats.IsFormatting(p.Key)), FhirHeaders.StrictHandling(ctx.Request), ct,
                visible: rs => guard.VisibleAsync(access, rs));
            if (extra is not null) query.Criteria.Add(extra);
            var (result, page) = await PageAsync(access, query, ct);
            var baseUrl = FhirHeaders.BaseUrl(ctx.Request);
            var bundle = new BundleBuilder("searchset");
            AddLinks(bundle, ctx, options.Used, query, result.Snapshot, page);
            var shape = ResultShaping.For(options.Summary, options.Elements);
            var matches = page.Shown;
            foreach (var m in matches) bundle.Entries.Add(Entry(baseUrl, m, "match", shape));
            bundle.Total = await VisibleTotalAsync(access, query, result, page, options.Warnings, ct,
                recount: options.Total == "accurate" || query.CountOnly);

            await AddIncludesAsync(bundle, baseUrl, access, matches, options.Includes, options.RevIncludes, ct);
            bundle.LabelFrom(access);
            if (options.Warnings.Count > 0)
                bundle.Entries.Add(new BundleEntry(null, FhirJsonSerializer.SerializeToUtf8Bytes(OperationOutcomes.Create(options.Warnings)), SearchMode: "outcome"));
            return bundle;
        }, parameters);
    }

    /// <summary>
    /// The query's first raw result (its total and snapshot) and the page of matches the caller may see, filtered
    /// before the page is cut (<see cref="ReadGuard.PageAsync"/>): later batches keep the first one's snapshot and
    /// continue after its last row (default order) or offset (with _sort).
    /// </summary>
    public async Task<(SearchResult First, VisiblePage Page)> PageAsync(AccessContext access, SearchQuery query, CancellationToken ct)
    {
        if (query.CountOnly || query.Count == 0)
            return (await store.SearchAsync(query, ct), new VisiblePage([], 0, null, More: false, Bounded: false));
        SearchResult? first = null;
        var (count, offset, after, withTotal) = (query.Count, query.Offset, query.AfterRowId, query.IncludeTotal);
        try
        {
            var page = await guard.PageAsync(access, count, paging.MaxScannedPerPage, async (last, fetched, take) =>
            {
                query.Count = take;
                if (first is not null)
                {
                    query.IncludeTotal = false;
                    if (query.Sort.Count == 0) query.AfterRowId = last!.RowId;
                    else query.Offset = offset + fetched;
                }
                var r = await store.SearchAsync(query, ct);
                first ??= r;
                return r.Matches;
            });
            return (first!, page);
        }
        finally
        {
            (query.Count, query.Offset, query.AfterRowId, query.IncludeTotal) = (count, offset, after, withTotal);
        }
    }

    /// <summary>
    /// The total counts only what the caller may see: the database's count for the server itself, when nothing can be
    /// hidden (no consent rules, unconditional scopes) and for types that are nobody's record data; the shown matches
    /// when the first page holds them all. Otherwise it costs a decision per match: only when asked for
    /// (<paramref name="recount"/>: _total=accurate, _summary=count) the matches are decided one by one up to
    /// Consent:MaxCountedTotal; else the total is left out (optional in FHIR), and beyond the cap too, with a note.
    /// </summary>
    public async Task<int?> VisibleTotalAsync(AccessContext access, SearchQuery query, SearchResult result, VisiblePage page, List<FhirIssue> warnings,
        CancellationToken ct, bool recount = true)
    {
        if (page.Bounded)
            warnings.Add(new FhirIssue(IssueSeverity.Information, "informational",
                $"This page stopped after deciding {page.Consumed} matches; the next page continues after them."));
        if (result.Total is not { } total) return null;
        var caller = access.Http.GetCaller();
        if (caller.HasRole(Roles.Server) || NothingHidden(caller, query.ResourceType)) return total;
        if (!query.CountOnly && query.Offset == 0 && query.AfterRowId is null && !page.More && !page.Bounded) return page.Shown.Count;
        if (!recount) return null;
        if (total > paging.MaxCountedTotal)
        {
            warnings.Add(new FhirIssue(IssueSeverity.Information, "informational",
                $"The total is not given: more than {paging.MaxCountedTotal} matches would each need an access decision."));
            return null;
        }
        var (count, offset, after, countOnly, withTotal, snapshot) = (query.Count, query.Offset, query.AfterRowId, query.CountOnly, query.IncludeTotal, query.SnapshotRowId);
        (query.Count, query.Offset, query.AfterRowId, query.CountOnly, query.IncludeTotal, query.SnapshotRowId) = (total, 0, null, false, false, result.Snapshot);
        try
        {
            return (await guard.VisibleAsync(access, (await store.SearchAsync(query, ct)).Matches)).Count;
        }
        finally
        {
            (query.Count, query.Offset, query.AfterRowId, query.CountOnly, query.IncludeTotal, query.SnapshotRowId) = (count, offset, after, countOnly, withTotal, snapshot);
        }
    }

    /// <summary>Types that are nobody's record data, or no policy that may hide one of the type from the caller.</summary>
    private bool NothingHidden(Caller caller, string? type) =>
        type is not null && !RecordData.Is(type) ? !GranularFor(caller, type) : !guard.MayHide(caller, type);

    private static bool GranularFor(Caller caller, string type) =>
        InteractionAuthorizer.Grants(caller, type, Auth.Scopes.Permission.Search).Any(g => g.Query is not null);

    /// <summary>
    /// _include and _revinclude (wildcards included): round 0 applies every one to the matches, later rounds apply the
    /// :iterate ones to what was just included. Every included resource passes the access policy.
    /// </summary>
    public async Task AddIncludesAsync(BundleBuilder bundle, string baseUrl, AccessContext access, IReadOnlyList<StoredResource> matches,
        IReadOnlyList<IncludeSpec> includes, IReadOnlyList<IncludeSpec> revIncludes, CancellationToken ct, Func<StoredResource, bool>? keep = null)
    {
        var seen = matches.Select(m => (m.ResourceType, m.Id)).ToHashSet();
        IReadOnlyList<StoredResource> added = matches;
        for (var round = 0; round < MaxIncludeRounds && added.Count > 0; round++)
        {
            var next = new List<StoredResource>();
            async Task AddAll(IEnumerable<StoredResource> found)
            {
                foreach (var inc in await guard.FilterAsync(access, found.Where(f => keep is null || keep(f))))
                    if (seen.Add((inc.ResourceType, inc.Id)))
                    {
                        bundle.Entries.Add(Entry(baseUrl, inc, "include", null));
                        next.Add(inc);
                    }
            }
            foreach (var inc in includes.Where(i => round == 0 || i.Iterate))
            {
                var sources = added.Where(r => inc.SourceType is null || r.ResourceType == inc.SourceType).Select(r => r.RowId).ToList();
                if (sources.Count > 0) await AddAll(await store.IncludesAsync(sources, inc.Param, inc.TargetType, ct));
            }
            foreach (var rev in revIncludes.Where(i => round == 0 || i.Iterate))
                foreach (var group in added.GroupBy(r => r.ResourceType).Where(g => rev.TargetType is null || rev.TargetType == g.Key))
                    await AddAll(await store.RevIncludesAsync(rev.SourceType, rev.Param, group.Key, group.Select(r => r.Id).ToList(), ct));
            added = next;
        }
    }

    public static BundleEntry Entry(string baseUrl, StoredResource r, string mode, Func<Fhir.Model.ElementNode, Fhir.Model.ElementNode>? shape) =>
        shape is null
            ? new BundleEntry($"{baseUrl}/{r.ResourceType}/{r.Id}", r.Json, SearchMode: mode)
            : new BundleEntry($"{baseUrl}/{r.ResourceType}/{r.Id}", Node: shape(FhirFormats.ParseStored(r.Json!)), SearchMode: mode);

    /// <summary>
    /// self/first/previous/next links. They carry the snapshot the first page was taken under (_snapshot: newer rows are
    /// left out), so pages neither shift nor repeat while data is written. In the default order the next link is a
    /// keyset position (_after the last row the page passed), which also survives updates and deletes of earlier rows;
    /// with _sort it is an _offset (then previous links are given too). A next link is given only when a match the
    /// caller may see follows (<see cref="VisiblePage.More"/>). <paramref name="used"/> are the parameters the search
    /// applied (R4: the self link SHALL carry only those). No link carries _format or _pretty: a client asks for its
    /// format on every request (Firely adds _format to a link that has one: a repeat).
    /// </summary>
    public static void AddLinks(BundleBuilder bundle, HttpContext ctx, List<KeyValuePair<string, string>> used, SearchQuery query, long snapshot, VisiblePage page)
    {
        var path = $"{FhirHeaders.BaseUrl(ctx.Request)}{ctx.Request.Path}".Replace("/_search", "");
        var parameters = used.Where(p => !FhirFormats.IsFormatting(p.Key)).ToList();
        string Url(int offset, long? after)
        {
            var ps = parameters.Where(p => p.Key is not ("_offset" or PagingParams.After or PagingParams.Snapshot)).ToList();
            ps.Add(new(PagingParams.Snapshot, snapshot.ToString(CultureInfo.InvariantCulture)));
            if (after is { } a) ps.Add(new(PagingParams.After, a.ToString(CultureInfo.InvariantCulture)));
            if (offset > 0) ps.Add(new("_offset", offset.ToString(CultureInfo.InvariantCulture)));
            return ps.Aggregate(path, (u, p) => QueryHelpers.AddQueryString(u, p.Key, p.Value));
        }
        bundle.Links.Add(("self", parameters.Aggregate(path, (u, p) => QueryHelpers.AddQueryString(u, p.Key, p.Value))));
        if (query.CountOnly) return;
        bundle.Links.Add(("first", Url(0, null)));
        var keyset = query.Sort.Count == 0;
        if (!keyset && query.Offset > 0) bundle.Links.Add(("previous", Url(Math.Max(0, query.Offset - query.Count), null)));
        if (page.More && page.LastConsumed is { } last)
            bundle.Links.Add(("next", keyset ? Url(0, last.RowId) : Url(query.Offset + page.Consumed, null)));
    }
}

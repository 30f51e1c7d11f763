using FhirArchive.Fhir.Outcomes;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Server.Access;
using FhirArchive.Server.Features.Resources;
using FhirArchive.Server.Infrastructure;
using FhirArchive.Storage;
using FhirArchive.Storage.Search;
using Microsoft.AspNetCore.WebUtilities;

namespace FhirArchive.Server.Features.Search;

/// <summary>Type, system and compartment search, by GET and by POST _search.</summary>
public static class SearchEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/{type}", (HttpContext ctx, string type, SearchService s) =>
        {
            ResourceWriter.CheckType(type);
            return s.SearchAsync(ctx, type, QueryPairs(ctx.Request.Query), null, "search-type");
        }).WithTags("Search").WithSummary("search a resource type");
        app.MapGet("/", (HttpContext ctx, SearchService s) => s.SearchAsync(ctx, null, QueryPairs(ctx.Request.Query), null, "search-system"))
            .WithTags("Search").WithSummary("system search (_type, _id, _lastUpdated)");
        app.MapPost("/{type}/_search", async (HttpContext ctx, string type, SearchService s) =>
        {
            ResourceWriter.CheckType(type);
            var pairs = QueryPairs(ctx.Request.Query).ToList();
            if (ctx.Request.HasFormContentType)
                pairs.AddRange(QueryPairs(await ctx.Request.ReadFormAsync(ctx.RequestAborted)));
            else if (ctx.Request.ContentLength > 0)
                throw new FhirException(415, "not-supported", "POST _search takes application/x-www-form-urlencoded parameters.");
            await s.SearchAsync(ctx, type, pairs, null, "search-type");
        }).WithTags("Search").WithSummary("search a resource type (parameters in the form body)");
        app.MapGet("/{compartment}/{id}/{type}", (HttpContext ctx, string compartment, string id, string type, SearchService s) =>
        {
            ResourceWriter.CheckType(type);
            var ps = Compartments.Params(compartment, type) ?? throw FhirException.NotFound($"{compartment} is not a compartment type.");
            // "{def}" means the compartment resource itself (Patient/1/Patient).
            var predicates = ps.Select(p => p == "{def}" ? (SearchPredicate)new IdPredicate(id) : new ReferencePredicate(p, compartment, id, null)).ToList();
            if (predicates.Count == 0) throw FhirException.NotFound($"{type} is not in the {compartment} compartment.");
            return s.SearchAsync(ctx, type, QueryPairs(ctx.Request.Query), new SearchCriterion(predicates), "search-compartment");
        }).WithTags("Search").WithSummary("compartment search, e.g. Patient/123/Observation");
    }

    public static IEnumerable<KeyValuePair<string, string>> QueryPairs(IEnumerable<KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues>> q) =>
        q.SelectMany(kv => kv.Value.Select(v => new KeyValuePair<string, string>(kv.Key, v ?? "")));
}

public sealed class SearchService(SearchParser parser, IResourceStore store, ReadGuard guard)
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
        var (query, options) = await parser.ParseAsync(type, parameters.Where(p => p.Key is not ("_format" or "_pretty")), FhirHeaders.StrictHandling(ctx.Request), ct);
        if (extra is not null) query.Criteria.Add(extra);
        return await guard.RunAsync(ctx, interaction, type, async access =>
        {
            var result = await store.SearchAsync(query, ct);
            var baseUrl = FhirHeaders.BaseUrl(ctx.Request);
            var bundle = new BundleBuilder("searchset") { Total = result.Total };
            AddLinks(bundle, ctx, parameters, query, result);
            var shape = ResultShaping.For(options.Summary, options.Elements);
            var matches = await guard.FilterAsync(access, result.Matches);
            foreach (var m in matches) bundle.Entries.Add(Entry(baseUrl, m, "match", shape));

            var seen = matches.Select(m => (m.ResourceType, m.Id)).ToHashSet();
            // Round 0 applies every include to the matches; later rounds apply :iterate ones to what was just included.
            var added = matches;
            for (var round = 0; round < MaxIncludeRounds && added.Count > 0; round++)
            {
                var next = new List<StoredResource>();
                async Task AddAll(IEnumerable<StoredResource> found)
                {
                    foreach (var inc in await guard.FilterAsync(access, found))
                        if (seen.Add((inc.ResourceType, inc.Id)))
                        {
                            bundle.Entries.Add(Entry(baseUrl, inc, "include", null));
                            next.Add(inc);
                        }
                }
                foreach (var inc in options.Includes.Where(i => round == 0 || i.Iterate))
                {
                    var sources = added.Where(r => r.ResourceType == inc.SourceType).Select(r => r.RowId).ToList();
                    if (sources.Count > 0) await AddAll(await store.IncludesAsync(sources, inc.Param, inc.TargetType, ct));
                }
                foreach (var rev in options.RevIncludes.Where(i => round == 0 || i.Iterate))
                    foreach (var group in added.GroupBy(r => r.ResourceType).Where(g => rev.TargetType is null || rev.TargetType == g.Key))
                        await AddAll(await store.RevIncludesAsync(rev.SourceType, rev.Param, group.Key, group.Select(r => r.Id).ToList(), ct));
                added = next;
            }

            if (options.Warnings.Count > 0)
                bundle.Entries.Add(new BundleEntry(null, FhirJsonSerializer.SerializeToUtf8Bytes(OperationOutcomes.Create(options.Warnings)), SearchMode: "outcome"));
            return bundle;
        });
    }

    private static BundleEntry Entry(string baseUrl, StoredResource r, string mode, Func<Fhir.Model.ElementNode, Fhir.Model.ElementNode>? shape) =>
        shape is null
            ? new BundleEntry($"{baseUrl}/{r.ResourceType}/{r.Id}", r.Json, SearchMode: mode)
            : new BundleEntry($"{baseUrl}/{r.ResourceType}/{r.Id}", Node: shape(FhirFormats.ParseStored(r.Json!)), SearchMode: mode);

    /// <summary>self/first/previous/next links: the request's own parameters with _offset moved (stable: results are ordered with a row-id tiebreak).</summary>
    private static void AddLinks(BundleBuilder bundle, HttpContext ctx, List<KeyValuePair<string, string>> parameters, SearchQuery query, SearchResult result)
    {
        var path = $"{FhirHeaders.BaseUrl(ctx.Request)}{ctx.Request.Path}".Replace("/_search", "");
        string Url(int offset)
        {
            var ps = parameters.Where(p => p.Key != "_offset").ToList();
            if (offset > 0) ps.Add(new("_offset", offset.ToString()));
            return ps.Aggregate(path, (u, p) => QueryHelpers.AddQueryString(u, p.Key, p.Value));
        }
        bundle.Links.Add(("self", Url(query.Offset)));
        if (query.CountOnly) return;
        bundle.Links.Add(("first", Url(0)));
        if (query.Offset > 0) bundle.Links.Add(("previous", Url(Math.Max(0, query.Offset - query.Count))));
        var more = result.Total is { } t ? query.Offset + query.Count < t : result.Matches.Count == query.Count;
        if (more && query.Count > 0) bundle.Links.Add(("next", Url(query.Offset + query.Count)));
    }
}

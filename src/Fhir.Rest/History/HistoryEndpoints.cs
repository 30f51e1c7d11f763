using System.Globalization;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Resources;
using FhirArchive.Rest.Search;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;
using FhirArchive.Storage.Indexing;
using Microsoft.AspNetCore.WebUtilities;

namespace FhirArchive.Rest.History;

/// <summary>Instance, type and system history with _since, _at, _count (and _offset for paging).</summary>
public static class HistoryEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/_history", (HttpContext ctx, IResourceStore store, ReadGuard guard) =>
            HistoryAsync(ctx, null, null, store, guard)).WithInteraction(InteractionKind.HistorySystem).WithTags("History").WithSummary("system history");
        app.MapGet("/{type}/_history", (HttpContext ctx, string type, IResourceStore store, ReadGuard guard) =>
        {
            ResourceWriter.CheckType(type);
            return HistoryAsync(ctx, type, null, store, guard);
        }).WithInteraction(InteractionKind.HistoryType).WithTags("History").WithSummary("type history");
        app.MapGet("/{type}/{id}/_history", async (HttpContext ctx, string type, string id, IResourceStore store, ReadGuard guard) =>
        {
            ResourceWriter.CheckType(type);
            // A resource the caller may not see has no history for them either: the same 404 as a missing one.
            var current = await store.ReadAsync(type, id, ctx.RequestAborted);
            if (current is null || (await guard.RunAsync(ctx, "history-instance", type, a => guard.VisibleAsync(a, [current]))).Count == 0)
                throw FhirException.NotFound($"{type}/{id} is not known.");
            await HistoryAsync(ctx, type, id, store, guard);
        }).WithInteraction(InteractionKind.HistoryInstance).WithTags("History").WithSummary("instance history");
    }

    private static async Task HistoryAsync(HttpContext ctx, string? type, string? id, IResourceStore store, ReadGuard guard)
    {
        var zone = ctx.RequestServices.GetRequiredService<StorageOptions>().LocalTimeZone;
        var q = ctx.Request.Query;
        var count = Int(q["_count"], SearchParser.DefaultCount);
        var offset = Int(q["_offset"], 0);
        var (since, at) = (Instant(q["_since"], "_since", zone), Instant(q["_at"], "_at", zone));
        count = Math.Min(count, SearchParser.MaxCount);
        var interaction = id is not null ? "history-instance" : type is not null ? "history-type" : "history-system";
        var maxScanned = ctx.RequestServices.GetRequiredService<PagingOptions>().MaxScannedPerPage;
        var bundle = await guard.RunAsync(ctx, interaction, type, async access =>
        {
            int? total = null;
            // Filled with visible versions before the page is cut: hidden ones neither show nor leave empty pages.
            var page = await guard.PageAsync(access, count, maxScanned, async (_, fetched, take) =>
            {
                var (versions, all) = await store.HistoryAsync(new HistoryQuery(type, id, since, at, take, offset + fetched), ctx.RequestAborted);
                total ??= all;
                return versions;
            });
            var baseUrl = FhirHeaders.BaseUrl(ctx.Request);
            var b = new BundleBuilder("history");
            var self = $"{baseUrl}{ctx.Request.Path}";
            // The links carry the parameters history applies (as a search's do), not _format or unknown ones.
            string Url(int off) => SearchEndpoints.QueryPairs(q.Where(kv => kv.Key is "_since" or "_at" or "_count"))
                .Append(new("_offset", off.ToString(CultureInfo.InvariantCulture)))
                .Aggregate(self, (u, p) => QueryHelpers.AddQueryString(u, p.Key, p.Value));
            b.Links.Add(("self", Url(offset)));
            if (offset > 0) b.Links.Add(("previous", Url(Math.Max(0, offset - count))));
            if (page.More) b.Links.Add(("next", Url(offset + page.Consumed)));
            var shown = page.Shown;
            // Hidden versions are not counted: the database's total is the server's own; a first page that holds every
            // visible version counts what it shows.
            b.Total = ctx.GetCaller().HasRole(Roles.Server) ? total : offset == 0 && !page.More && !page.Bounded ? shown.Count : null;
            b.LabelFrom(access);
            foreach (var v in shown)
            {
                var url = $"{v.ResourceType}/{v.Id}";
                var method = v.IsDeleted ? "DELETE" : v.Version == 1 ? "POST" : "PUT";
                // The status each interaction answered: a deletion's is what DELETE answers.
                var status = v.IsDeleted ? ResourceEndpoints.DeletedStatus : v.Version == 1 ? StatusCodes.Status201Created : StatusCodes.Status200OK;
                b.Entries.Add(new BundleEntry($"{baseUrl}/{url}", v.Json,
                    Request: (method, method == "POST" ? v.ResourceType : url),
                    Response: new(status, $"{url}/_history/{v.Version}", FhirHeaders.ETag(v.Version), v.LastUpdated)));
            }
            return b;
        });
        await FhirFormats.WriteJsonBytesAsync(ctx, 200, bundle.ToJson());
    }

    private static int Int(string? s, int dflt) =>
        string.IsNullOrEmpty(s) ? dflt : int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : throw FhirException.BadRequest($"'{s}' is not a number.");

    private static DateTimeOffset? Instant(string? s, string name, TimeSpan zone)
    {
        if (string.IsNullOrEmpty(s)) return null;
        if (!FhirDateRange.TryParse(s, zone, out var r)) throw FhirException.BadRequest($"{name} '{s}' is not a valid instant.");
        // _at names a moment: for partial dates take the end of the period; _since takes its start.
        return new DateTimeOffset(name == "_at" ? r.End : r.Start, TimeSpan.Zero);
    }
}

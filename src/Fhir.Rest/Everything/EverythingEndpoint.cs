using System.Globalization;
using FhirArchive.Fhir.Outcomes;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Resources;
using FhirArchive.Rest.Search;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Metadata;
using Microsoft.AspNetCore.WebUtilities;
using FhirArchive.Storage;
using FhirArchive.Storage.Indexing;
using FhirArchive.Storage.Search;

namespace FhirArchive.Rest.Everything;

/// <summary>
/// Patient/[id]/$everything: the patient, everything in its compartment (the official Patient CompartmentDefinition),
/// and the resources those refer to (organisation, practitioners, medications...), paged like a search.
/// Patient/$everything: the same for every patient the caller may see. Every resource passes the access policy
/// (pages are cut by <see cref="SearchService.PageAsync"/>, so what a policy hides is never on a page).
/// </summary>
/// <remarks>
/// One answer is one ordered stream: the compartment members by row id, then the resources they refer to that
/// belong to no compartment (Practitioner, Organization, Medication, Location...) by row id. So each resource is on
/// exactly one page of the answer: a Practitioner is sent once after the members, not again with every page that
/// refers to it. A page that ends the members goes on with the referenced ones; the cursor of that second part is
/// <see cref="AfterReferenced"/> (the last referenced row sent), beside the snapshot the first page was taken under.
/// </remarks>
public static class EverythingEndpoint
{
    public static readonly FhirOperation Operation = FhirOperation.Core("Patient-everything");
    /// <summary>The cursor in the referenced part of the answer: the row id of the last referenced resource sent.</summary>
    public const string AfterReferenced = "_afterReferenced";
    private static readonly HashSet<string> CompartmentTypes = [.. Compartments.Members("Patient")!.Keys, "Patient"];

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapOperation(Operation, OperationLevel.Instance, (HttpContext ctx, string id, IResourceStore store, ReadGuard guard, SearchService search, StorageOptions storage) =>
                EverythingAsync(ctx, id, store, guard, search, storage))
            .WithTags("Search").WithSummary("Patient $everything (_since, _type, _count, paging)")
            .WithMetadata(new DecidesOwnVisibility());
        app.MapOperation(Operation, OperationLevel.Type, (HttpContext ctx, IResourceStore store, ReadGuard guard, SearchService search, StorageOptions storage) =>
                EverythingAsync(ctx, null, store, guard, search, storage))
            .WithTags("Search").WithSummary("$everything of every patient the caller may see (_since, _type, _count, paging)");
    }

    private static async Task EverythingAsync(HttpContext ctx, string? id, IResourceStore store, ReadGuard guard, SearchService search, StorageOptions storage)
    {
        var ct = ctx.RequestAborted;
        // The query's parameters and a POSTed Parameters' (primitive) ones alike; paging links repeat them as a GET.
        var body = await OperationParameters.ReadAsync(ctx);
        var parameters = SearchEndpoints.QueryPairs(ctx.Request.Query).Where(p => p.Key is not ("_format" or "_pretty"))
            .Concat(body.BodyValues.Where(v => v.Value?.Value is not null).Select(v => KeyValuePair.Create(v.Name, v.Value!.Value!))).ToList();
        var afterReferenced = parameters.Where(p => p.Key == AfterReferenced).Select(p => (long?)PagingParams.ParseRowId(p.Key, p.Value)).LastOrDefault();
        parameters.RemoveAll(p => p.Key == AfterReferenced);
        var (query, since, types, warnings) = Parse(id, parameters, storage, FhirHeaders.StrictHandling(ctx.Request));
        bool Referenced(StoredResource r) => !CompartmentTypes.Contains(r.ResourceType)
                                             && (types is null || types.Contains(r.ResourceType)) && (since is null || r.LastUpdated >= since);
        var bundle = await guard.RunAsync(ctx, "operation-everything", "Patient", async access =>
        {
            if (id is not null)
            {
                var patient = await store.ReadAsync("Patient", id, ct);
                if ((patient = await guard.ShowOrGoneAsync(access, patient)) is null) throw FhirException.NotFound($"Patient/{id} is not known.");
                if (patient.IsDeleted) throw FhirException.Gone($"Patient/{id} has been deleted.");
            }
            var baseUrl = FhirHeaders.BaseUrl(ctx.Request);
            var b = new BundleBuilder("searchset");
            var members = new VisiblePage([], 0, null, More: false, Bounded: false);
            var snapshot = query.SnapshotRowId;
            if (afterReferenced is null)
            {
                var (result, page) = await search.PageAsync(access, query, ct);
                (members, snapshot) = (page, result.Snapshot);
                foreach (var m in page.Shown) b.Entries.Add(SearchService.Entry(baseUrl, m, "match", null));
                // A large record's total would mean deciding every resource in it: only on request (_total=accurate).
                b.Total = await search.VisibleTotalAsync(access, query, result, page, warnings, ct,
                    recount: parameters.Any(p => p.Key == "_total" && p.Value == "accurate"));
            }
            // The members are done on this page: the referenced resources follow, as many as the page has room for
            // (none: the look-ahead alone says whether a next page holds some).
            long? referencedCursor = null;
            if (!members.More)
            {
                var (referenced, taken) = await ReferencedAsync(access, query, snapshot, store, guard, Referenced, ct);
                snapshot ??= taken;
                var start = afterReferenced ?? 0;
                var page = await guard.PageAsync(access, query.Count - members.Shown.Count, int.MaxValue,
                    (last, _, take) => Task.FromResult<IReadOnlyList<StoredResource>>(referenced.Where(r => r.RowId > (last?.RowId ?? start)).Take(take).ToList()));
                foreach (var r in page.Shown) b.Entries.Add(SearchService.Entry(baseUrl, r, "include", null));
                if (page.More) referencedCursor = page.LastConsumed?.RowId ?? start;
            }
            // The links' cursor: in the members (_after, as a search's) or in the referenced part (AfterReferenced).
            SearchService.AddLinks(b, ctx, parameters, query, snapshot ?? 0, members);
            if (referencedCursor is { } cursor)
            {
                var first = b.Links.First(l => l.Relation == "first").Url;
                b.Links.Add(("next", QueryHelpers.AddQueryString(first, AfterReferenced, cursor.ToString(CultureInfo.InvariantCulture))));
            }
            b.LabelFrom(access);
            if (warnings.Count > 0)
                b.Entries.Add(new BundleEntry(null, FhirJsonSerializer.SerializeToUtf8Bytes(OperationOutcomes.Create(warnings)), SearchMode: "outcome"));
            return b;
        });
        await FhirFormats.WriteJsonBytesAsync(ctx, 200, bundle.ToJson());
    }

    /// <summary>
    /// The resources the members the caller may see refer to, that are in no compartment (and within _type and
    /// _since), each once, by row id; and the snapshot the members were read under.
    /// </summary>
    private static async Task<(List<StoredResource> Referenced, long Snapshot)> ReferencedAsync(AccessContext access, SearchQuery members, long? snapshot,
        IResourceStore store, ReadGuard guard, Func<StoredResource, bool> keep, CancellationToken ct)
    {
        const int Batch = 500;
        var all = new SearchQuery { Types = members.Types, Count = Batch, IncludeTotal = false, SnapshotRowId = snapshot };
        all.Criteria.AddRange(members.Criteria);
        var found = new Dictionary<(string, string), StoredResource>();
        long taken = snapshot ?? 0;
        while (true)
        {
            var result = await store.SearchAsync(all, ct);
            if (snapshot is null) all.SnapshotRowId = taken = result.Snapshot;
            var visible = await guard.VisibleAsync(access, result.Matches);
            if (visible.Count > 0)
                foreach (var r in await store.IncludesAsync(visible.Select(v => v.RowId).ToList(), null, null, ct))
                    if (keep(r)) found.TryAdd((r.ResourceType, r.Id), r);
            if (result.Matches.Count < Batch) break;
            all.AfterRowId = result.Matches[^1].RowId;
        }
        return ([.. found.Values.OrderBy(r => r.RowId)], taken);
    }

    private static (SearchQuery, DateTimeOffset?, HashSet<string>?, List<FhirIssue>) Parse(string? id, List<KeyValuePair<string, string>> parameters, StorageOptions storage, bool strict)
    {
        var members = Compartments.Members("Patient")!;
        var query = new SearchQuery { Count = SearchParser.DefaultCount };
        DateTimeOffset? since = null;
        HashSet<string>? types = null;
        var warnings = new List<FhirIssue>();
        foreach (var (name, value) in parameters)
            switch (name)
            {
                case "_since":
                    if (!FhirDateRange.TryParse(value, storage.LocalTimeZone, out var r)) throw FhirException.BadRequest($"_since '{value}' is not a valid instant.");
                    since = new DateTimeOffset(r.Start, TimeSpan.Zero);
                    query.Criteria.Add(new SearchCriterion([new LastUpdatedPredicate(Prefix.Ge, r.Start, r.End)]));
                    break;
                case "_type":
                    types = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet();
                    foreach (var t in types) ResourceWriter.CheckType(t);
                    break;
                case "_count":
                    if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var c) || c == 0) throw FhirException.BadRequest($"_count '{value}' must be a positive number.");
                    query.Count = Math.Min(c, SearchParser.MaxCount);
                    break;
                case "_offset":
                    if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var o)) throw FhirException.BadRequest($"_offset '{value}' is not a number.");
                    query.Offset = o;
                    break;
                case PagingParams.Snapshot: query.SnapshotRowId = PagingParams.ParseRowId(name, value); break;
                case PagingParams.After: query.AfterRowId = PagingParams.ParseRowId(name, value); break;
                default:
                    var msg = $"$everything does not support the parameter '{name}'";
                    if (strict) throw FhirException.BadRequest(msg + ".");
                    warnings.Add(new FhirIssue(IssueSeverity.Warning, "not-supported", msg + "; it was ignored."));
                    break;
            }
        // The patient and its compartment (every patient's, type-level), narrowed to _type (the patient only when Patient is asked for).
        var inScope = members.Where(kv => types is null || types.Contains(kv.Key)).ToDictionary();
        query.Types = [.. inScope.Keys.Append("Patient").Where(t => types is null || types.Contains(t)).Distinct()];
        query.Criteria.Add(new SearchCriterion([new CompartmentPredicate("Patient", id, inScope)]));
        return (query, since, types, warnings);
    }
}

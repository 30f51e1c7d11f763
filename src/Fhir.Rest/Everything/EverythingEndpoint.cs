using System.Globalization;
using FhirArchive.Fhir.Outcomes;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Resources;
using FhirArchive.Rest.Search;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;
using FhirArchive.Storage.Indexing;
using FhirArchive.Storage.Search;

namespace FhirArchive.Rest.Everything;

/// <summary>
/// Patient/[id]/$everything: the patient, everything in its compartment (the official Patient CompartmentDefinition),
/// and the resources those refer to (organisation, practitioners, medications...), paged like a search. Every
/// resource passes the access policy.
/// </summary>
public static class EverythingEndpoint
{
    public const string Definition = "http://hl7.org/fhir/OperationDefinition/Patient-everything";
    private static readonly HashSet<string> CompartmentTypes = [.. Compartments.Members("Patient")!.Keys, "Patient"];

    public static void Map(IEndpointRouteBuilder app) =>
        app.MapGet("/Patient/{id}/$everything", (HttpContext ctx, string id, IResourceStore store, ReadGuard guard, SearchService search, StorageOptions storage) =>
                EverythingAsync(ctx, id, store, guard, search, storage))
            .WithInteraction(InteractionKind.Operation("$everything", "Patient")).WithTags("Search").WithSummary("Patient $everything (_since, _type, _count, paging)")
            .WithMetadata(new DecidesOwnVisibility());

    private static async Task EverythingAsync(HttpContext ctx, string id, IResourceStore store, ReadGuard guard, SearchService search, StorageOptions storage)
    {
        var ct = ctx.RequestAborted;
        var parameters = SearchEndpoints.QueryPairs(ctx.Request.Query).Where(p => p.Key is not ("_format" or "_pretty")).ToList();
        var (query, since, types, warnings) = Parse(id, parameters, storage, FhirHeaders.StrictHandling(ctx.Request));
        var bundle = await guard.RunAsync(ctx, "operation-everything", "Patient", async access =>
        {
            var patient = await store.ReadAsync("Patient", id, ct);
            if ((patient = await guard.ShowOrGoneAsync(access, patient)) is null) throw FhirException.NotFound($"Patient/{id} is not known.");
            if (patient.IsDeleted) throw FhirException.Gone($"Patient/{id} has been deleted.");

            var (result, page) = await search.PageAsync(access, query, ct);
            var baseUrl = FhirHeaders.BaseUrl(ctx.Request);
            var b = new BundleBuilder("searchset");
            SearchService.AddLinks(b, ctx, parameters, query, result.Snapshot, page);
            var matches = page.Shown;
            foreach (var m in matches) b.Entries.Add(SearchService.Entry(baseUrl, m, "match", null));
            // A large record's total would mean deciding every resource in it: only on request (_total=accurate).
            b.Total = await search.VisibleTotalAsync(access, query, result, page, warnings, ct,
                recount: parameters.Any(p => p.Key == "_total" && p.Value == "accurate"));
            // What the page's resources refer to, within _type and _since as well. Compartment types are left out:
            // those the patient's record holds are matches on some page.
            await search.AddIncludesAsync(b, baseUrl, access, matches, [new IncludeSpec(null, null, null, Iterate: false)], [], ct,
                keep: r => !CompartmentTypes.Contains(r.ResourceType)
                           && (types is null || types.Contains(r.ResourceType)) && (since is null || r.LastUpdated >= since));
            b.Redacted = Redaction.Happened(access);
            if (warnings.Count > 0)
                b.Entries.Add(new BundleEntry(null, FhirJsonSerializer.SerializeToUtf8Bytes(OperationOutcomes.Create(warnings)), SearchMode: "outcome"));
            return b;
        });
        await FhirFormats.WriteJsonBytesAsync(ctx, 200, bundle.ToJson());
    }

    private static (SearchQuery, DateTimeOffset?, HashSet<string>?, List<FhirIssue>) Parse(string id, List<KeyValuePair<string, string>> parameters, StorageOptions storage, bool strict)
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
        // The patient and its compartment, narrowed to _type (the patient only when Patient is asked for).
        var inScope = members.Where(kv => types is null || types.Contains(kv.Key)).ToDictionary();
        query.Types = [.. inScope.Keys.Append("Patient").Where(t => types is null || types.Contains(t)).Distinct()];
        query.Criteria.Add(new SearchCriterion([new CompartmentPredicate("Patient", id, inScope)]));
        return (query, since, types, warnings);
    }
}

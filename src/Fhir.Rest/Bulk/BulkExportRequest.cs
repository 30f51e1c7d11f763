using FhirArchive.Fhir.Definitions;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Search;
using FhirArchive.Storage;
using FhirArchive.Storage.Indexing;
using Microsoft.AspNetCore.WebUtilities;

namespace FhirArchive.Rest.Bulk;

/// <summary>
/// A kick-off request read and checked (Bulk Data Access 2.0): <c>Prefer: respond-async</c>, <c>_outputFormat</c>
/// (NDJSON only), <c>_type</c> (resource types), <c>_since</c> (an instant), <c>_typeFilter</c> ([type]?[query], a
/// search the search engine accepts under strict handling, no result parameters). Anything else is a 400 with an
/// OperationOutcome, before a job exists.
/// </summary>
public static class BulkExportRequest
{
    public static readonly IReadOnlySet<string> OutputFormats = new HashSet<string> { "application/fhir+ndjson", "application/ndjson", "ndjson" };
    private static readonly HashSet<string> Known = ["_outputFormat", "_type", "_since", "_typeFilter"];
    /// <summary>Search result parameters have no meaning in a filter: an export is every match.</summary>
    private static readonly HashSet<string> ResultParameters =
        ["_count", "_offset", "_sort", "_include", "_revinclude", "_summary", "_elements", "_total", "_contained", "_containedType", "_format", "_pretty",
         PagingParams.Snapshot, PagingParams.After];

    /// <summary>The resource types of a patient's record: the Patient and the members of its compartment.</summary>
    public static readonly IReadOnlyList<string> PatientTypes = [.. new[] { "Patient" }.Concat(Compartments.Members("Patient")!.Keys.Order(StringComparer.Ordinal))];

    /// <param name="allTypes">The types a system-level export without _type covers (those the store holds).</param>
    public static async Task<BulkExportSpec> ParseAsync(HttpContext http, BulkExportLevel level, string? group, IReadOnlyList<string>? patients,
        SearchParser parser, StorageOptions storage, Func<Task<IReadOnlyList<string>>> allTypes)
    {
        if (!FhirHeaders.RespondAsync(http.Request))
            throw FhirException.BadRequest("$export is asynchronous: send the header 'Prefer: respond-async'.");
        var p = await OperationParameters.ReadAsync(http);
        var names = http.Request.Query.Keys.Where(k => !FhirFormats.IsFormatting(k)).Concat(p.BodyValues.Select(v => v.Name));
        if (names.FirstOrDefault(n => !Known.Contains(n)) is { } unknown)
            throw FhirException.BadRequest($"$export does not support the parameter '{unknown}' (supported: _outputFormat, _type, _since, _typeFilter).");

        if (p.Value("_outputFormat") is { } format && !OutputFormats.Contains(format))
            throw FhirException.BadRequest($"_outputFormat '{format}' is not supported: only application/fhir+ndjson (ndjson, application/ndjson).");

        List<string>? asked = null;
        foreach (var value in p.Values("_type"))
            foreach (var type in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (!IsResourceType(type)) throw FhirException.BadRequest($"_type names '{type}', which is not a resource type.");
                (asked ??= []).Add(type);
            }

        DateTimeOffset? since = null;
        if (p.Value("_since") is { } sinceText)
        {
            if (!FhirDateRange.TryParse(sinceText, storage.LocalTimeZone, out var range) || !sinceText.Contains('T'))
                throw FhirException.BadRequest($"_since '{sinceText}' is not an instant (e.g. 2026-01-01T00:00:00+08:00).");
            since = new DateTimeOffset(range.Start, TimeSpan.Zero);
        }

        var filters = new List<string>();
        foreach (var filter in p.Values("_typeFilter"))
        {
            var q = filter.IndexOf('?');
            var type = q < 0 ? filter : filter[..q];
            if (q < 0 || !IsResourceType(type)) throw FhirException.BadRequest($"_typeFilter '{filter}' is not [type]?[search parameters].");
            if (asked is not null && !asked.Contains(type)) throw FhirException.BadRequest($"_typeFilter '{filter}' names {type}, which _type leaves out.");
            var pairs = QueryHelpers.ParseQuery(filter[q..]).SelectMany(kv => kv.Value.Select(v => KeyValuePair.Create(kv.Key, v ?? ""))).ToList();
            if (pairs.Count == 0) throw FhirException.BadRequest($"_typeFilter '{filter}' has no search parameter.");
            if (pairs.FirstOrDefault(kv => ResultParameters.Contains(kv.Key.Split(':')[0])).Key is { } result)
                throw FhirException.BadRequest($"_typeFilter '{filter}': {result} is not a search criterion.");
            await parser.ParseAsync(type, pairs, strict: true, http.RequestAborted); // a 400 for what the search engine refuses
            filters.Add(filter);
        }

        IReadOnlyList<string> types = level == BulkExportLevel.System
            ? asked ?? await allTypes()
            : [.. PatientTypes.Where(t => asked is null || asked.Contains(t))];
        if (asked is not null && level != BulkExportLevel.System && asked.FirstOrDefault(t => !PatientTypes.Contains(t)) is { } outside)
            throw FhirException.BadRequest($"_type names {outside}, which is no patient's record data: a {level} export holds only those.");
        var request = $"{FhirHeaders.BaseUrl(http.Request)}{http.Request.Path}{http.Request.QueryString}";
        return new BulkExportSpec(level, request, [.. types.Distinct()], since, filters, group, patients);
    }

    private static bool IsResourceType(string type) => FhirDefinitions.R4.GetType(type) is { Kind: TypeKind.Resource, IsAbstract: false };
}

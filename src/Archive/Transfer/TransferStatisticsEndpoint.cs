using System.Globalization;
using FhirArchive.Archive.Consent;
using FhirArchive.Archive.Records;
using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Metadata;
using FhirArchive.Rest.Resources;
using FhirArchive.Rest.Search;
using FhirArchive.Storage;

namespace FhirArchive.Archive.Transfer;

/// <summary>
/// Task/$transfer-statistics (四(四) 转迁评价): for the requests authored in a period — of one holder, one requester or
/// all — how many were completed, refused, left open or escalated, and how fast the holders answered (within the days
/// allowed or late; median and longest response). The performance evaluation reads it: the city platform for any
/// institution, the health administration and public health officers for the records of their division (the token's
/// jurisdiction), a record administrator for its own institution.
/// </summary>
public static class TransferStatisticsEndpoint
{
    public static void Map(IEndpointRouteBuilder app) =>
        app.MapOperation(FhirOperation.Local(typeof(TransferStatisticsEndpoint).Assembly, "Task-transfer-statistics"), OperationLevel.Type, Handle)
            .WithTags("Transfer").WithSummary("transfer counts and response times for a period (转迁评价统计)");

    private static async Task Handle(HttpContext ctx, IResourceStore store, SearchParser parser, ConsentDecision consent, PatientLinks links)
    {
        var caller = ctx.GetCaller();
        var p = await OperationParameters.ReadAsync(ctx);
        var owner = p.Value("owner");
        var requester = p.Value("requester");
        var officer = caller.HasRole(Roles.HealthAdministrationOfficer) || caller.HasRole(Roles.PublicHealthOfficer);
        var everyone = officer || consent.IsPlatformClient(caller) || caller.HasRole(Roles.Server);
        // An officer's token names an administrative division: only the requests for its residents' records are counted
        // (as every read of theirs is held to it, ScopedAccessPolicy).
        var division = caller.Jurisdiction is { } jurisdiction && caller.Roles.Any(RolePolicy.BoundToDivision) ? jurisdiction : null;
        if (!everyone)
        {
            if (!caller.HasRole(Roles.RecordAdministrator) || caller.Organization is not { } org)
                throw new FhirException(403, "forbidden", "Transfer statistics are for the health administration and public health officers (their division), the city platform and record administrators (their own institution) / 转迁统计仅限卫生健康行政部门及公共卫生人员（本辖区）、市级平台及本机构档案管理员");
            if (owner is not null && owner != org || requester is not null && requester != org)
                throw new FhirException(403, "forbidden", $"A record administrator reads the statistics of {org} only / 档案管理员仅可查询本机构统计");
            if (owner is null && requester is null) owner = org;
        }
        List<KeyValuePair<string, string>> query = [new("code", TransferTerms.CodeToken)];
        if (owner is not null) query.Add(new("owner", owner));
        if (requester is not null) query.Add(new("requester", requester));
        if (p.Value("from") is { } from) query.Add(new("authored-on", "ge" + Day(from, "from")));
        if (p.Value("to") is { } to) query.Add(new("authored-on", "lt" + Day(to, "to", next: true)));

        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        void Count(string name) => counts[name] = counts.GetValueOrDefault(name) + 1;
        var hours = new List<double>();
        var residents = new Dictionary<string, object?>();
        await foreach (var match in parser.AllMatchesAsync(store, "Task", query, ctx.RequestAborted))
        {
            if (RecordScope.Parse(match) is not { } task) continue;
            if (division is not null && !await links.InDivisionAsync(task, division, FhirHeaders.BaseUrl(ctx), residents, ctx.RequestAborted)) continue;
            Count("requested");
            var status = task.Child("status")?.Value;
            if (TransferTerms.IsEscalated(task)) Count("escalated");
            var asked = task.Child("authoredOn")?.Value;
            var answered = status switch
            {
                "completed" => task.Child("executionPeriod")?.Child("end")?.Value,
                "rejected" => task.Child("lastModified")?.Value,
                _ => null,
            };
            if (status is "requested" or "received" or "accepted" or "in-progress") Count("open");
            else if (status is "completed" or "rejected") Count(status);
            // A closed record completes in the request itself (四(三)3): nobody was asked, so it has no response time.
            if (answered is null || asked is null || answered == asked)
            {
                if (status == "completed") Count("completedAtRequest");
                continue;
            }
            if (!DateTimeOffset.TryParse(asked, CultureInfo.InvariantCulture, DateTimeStyles.None, out var a)
                || !DateTimeOffset.TryParse(answered, CultureInfo.InvariantCulture, DateTimeStyles.None, out var b)) continue;
            hours.Add((b - a).TotalHours);
            var due = task.Child("restriction")?.Child("period")?.Child("end")?.Value;
            Count(due is null || string.CompareOrdinal(TransferTerms.Date(ConsentDecision.ChinaDate(b)), due) <= 0 ? "answeredInTime" : "answeredLate");
        }

        var result = FhirParameters.Create();
        foreach (var name in new[] { "requested", "completed", "completedAtRequest", "rejected", "open", "escalated", "answeredInTime", "answeredLate" })
            FhirParameters.Add(result, name, counts.GetValueOrDefault(name).ToString(CultureInfo.InvariantCulture), "integer");
        if (hours.Count > 0)
        {
            hours.Sort();
            var median = hours.Count % 2 == 1 ? hours[hours.Count / 2] : (hours[hours.Count / 2 - 1] + hours[hours.Count / 2]) / 2;
            FhirParameters.Add(result, "medianResponseHours", Math.Round(median, 1).ToString(CultureInfo.InvariantCulture), "decimal");
            FhirParameters.Add(result, "longestResponseHours", Math.Round(hours[^1], 1).ToString(CultureInfo.InvariantCulture), "decimal");
        }
        await FhirFormats.WriteNodeAsync(ctx, 200, result);
    }

    /// <summary>A day (yyyy-MM-dd, China) as the instant it starts there (<paramref name="next"/>: the day after).</summary>
    private static string Day(string value, string name, bool next = false) =>
        DateOnly.TryParseExact(value, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d)
            ? TransferTerms.Date(next ? d.AddDays(1) : d) + "T00:00:00+08:00"
            : throw FhirException.BadRequest($"'{name}' is a date (yyyy-MM-dd): '{value}' / 参数 {name} 应为日期");
}

using FhirArchive.Archive.Consent;
using FhirArchive.Archive.Records;
using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Outcomes;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Search;
using FhirArchive.Rest.Writing;

namespace FhirArchive.Archive.OffSite;

/// <summary>
/// The off-site service's write rules (annex 1 五(三)–(四)):
/// <list type="bullet">
/// <item>a service record (OffSite:PushedTypes) another institution's staff write for a resident is pushed to the record's
/// holder: a companion Communication in the same transaction (category off-site-service, status in-progress, recipient the
/// holder, about and payload the new record), in the holder's work list until it acknowledges it;</item>
/// <item>a free basic public-health service given once a year (an Encounter whose type is one of OffSite:AnnualFreeServices)
/// that the record already has in that calendar year is accepted with a warning (<see cref="WriteContext.Warn"/>);</item>
/// <item>a push is acknowledged by its recipient only: an update that sets status completed (received is stamped), nothing
/// else changed; it is never deleted.</item>
/// </list>
/// </summary>
public sealed class OffSitePushInterceptor(RecordScope scope, OffSiteOptions options, SearchParser parser, TimeProvider clock) : IWriteInterceptor
{
    private const string HolderItem = "offsite:holder";

    public WriteStage Stage => WriteStage.Rules;

    public async ValueTask BeforeWriteAsync(WriteContext context)
    {
        if (context.ResourceType == "Communication")
        {
            Acknowledgement(context);
            return;
        }
        if (context.Http is null || context.Parent is not null || !context.CreatesResource || context.Resource is not { } resource
            || !options.PushedTypes.Contains(context.ResourceType)) return;
        var caller = context.Http.GetCaller();
        if (caller.HasRole(Roles.Server) || !ConsentDecision.IsInstitutionStaff(caller) || caller.Organization is not { } org) return;
        var patientId = scope.SubjectId(resource);
        var patient = await scope.RecordPatientAsync(context.Session, patientId, context.CancellationToken);
        if (patient?.Child("managingOrganization")?.Child("reference")?.Value is not { } holder || holder == org) return;
        context.Items[HolderItem] = new Pending(holder, patientId!);
        if (context.ResourceType == "Encounter") await WarnOfRepeatAsync(context, resource, patientId!);
    }

    public ValueTask AfterWriteAsync(WriteContext context)
    {
        if (context.Items.TryGetValue(HolderItem, out var p) && p is Pending pending)
        {
            var caller = context.Http!.GetCaller();
            context.AddCompanion(OffSitePush.Build($"{context.ResourceType}/{context.Id}", pending.PatientId, pending.Holder, caller.Organization!, caller.Practitioner, clock.GetUtcNow()));
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>五(四): a second free service of a once-a-year kind in the same calendar year may be declined; the server takes it and says so.</summary>
    private async Task WarnOfRepeatAsync(WriteContext context, ElementNode encounter, string patientId)
    {
        var year = OffSiteTerms.ServiceYear(encounter) ?? ConsentDecision.ChinaDate(clock.GetUtcNow()).Year;
        foreach (var code in OffSiteTerms.ServiceCodes(encounter).Where(options.AnnualFreeServices.Contains).Distinct())
        {
            var (query, _) = await parser.ParseAsync("Encounter",
                [new("subject", "Patient/" + patientId), new("type", $"{OffSiteTerms.ServiceSystem}|{code}"), new("date", $"ge{year}-01-01"), new("date", $"lt{year + 1}-01-01")],
                strict: true, context.CancellationToken, context.Session);
            query.Count = 10;
            query.IncludeTotal = false;
            var earlier = (await context.Session.SearchAsync(query, context.CancellationToken)).Matches
                .Where(m => !m.IsDeleted && m.Id != context.Id && RecordScope.Parse(m) is { } e && OffSiteTerms.ServiceYear(e) == year).ToList();
            if (earlier.Count == 0) continue;
            context.Warn(new FhirIssue(IssueSeverity.Warning, "business-rule",
                $"The free service '{code}' was already given to Patient/{patientId} in {year} (Encounter/{earlier[0].Id}); this one is recorded, and may be declined as a free service / " +
                $"该居民 {year} 年已接受过此项免费服务（Encounter/{earlier[0].Id}），本次已记录，可不再作为免费国家基本公共卫生服务提供", "Encounter.type"));
        }
    }

    /// <summary>Changes to a push: its recipient acknowledges it (status completed), nothing else; never deleted.</summary>
    private void Acknowledgement(WriteContext context)
    {
        if (context.Current is not { IsDeleted: false, Json: { } json }) return;
        var before = FhirFormats.ParseStored(json);
        if (!OffSiteTerms.IsPush(before) || context.Http is null) return;
        var caller = context.Http.GetCaller();
        if (caller.HasRole(Roles.Server)) return;
        if (context.Interaction == WriteInteraction.Delete || context.Resource is not { } after)
            throw new FhirException(405, "not-supported", $"Communication/{context.Id} is an off-site service pushed to the holder: it is acknowledged (status completed), never deleted / 异地服务推送记录不得删除");
        var recipients = before.ChildrenNamed("recipient").Select(r => r.Child("reference")?.Value).OfType<string>().ToList();
        if (!ConsentDecision.IsInstitutionStaff(caller) || !recipients.Contains(caller.Organization!))
            throw new FhirException(403, "forbidden", $"Communication/{context.Id} is acknowledged by its recipient ({string.Join(", ", recipients)}) / 仅接收机构可确认异地服务推送");
        var status = after.Child("status")?.Value;
        if (status is not ("completed" or "in-progress"))
            throw FhirException.Unprocessable($"An off-site service push is acknowledged with status 'completed', not '{status}' / 确认时状态应为 completed");
        if (!ResourceContent.SameBut(before, after, AcknowledgementElements))
            throw FhirException.Unprocessable($"Acknowledging Communication/{context.Id} changes its status (and received, note) only / 确认推送仅可修改状态");
        if (status == "completed" && after.Child("received") is null) after.Add("received", FhirInstant.ToSecond(clock.GetUtcNow()));
    }

    private sealed record Pending(string Holder, string PatientId);

    private static readonly string[] AcknowledgementElements = ["id", "meta", "text", "status", "received", "note"];
}

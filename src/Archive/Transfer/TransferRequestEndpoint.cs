using FhirArchive.Archive.Consent;
using System.Globalization;
using FhirArchive.Archive.Grants;
using FhirArchive.Archive.Notifications;
using FhirArchive.Archive.Records;
using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Metadata;
using FhirArchive.Rest.Resources;
using FhirArchive.Rest.Search;
using FhirArchive.Rest.Writing;
using FhirArchive.Storage;
using FhirArchive.Profiles;
using FhirArchive.Terminology;

namespace FhirArchive.Archive.Transfer;

/// <summary>
/// Patient/[id]/$transfer-request (annex 1 四(二)–(三)): staff of the proposed holder ask to take over a record, with
/// the reason and how the resident confirmed it. The answer is a transfer Task owned by the current holder, which
/// confirms or refuses it with Task/[id]/$approve / $reject (<see cref="TransferWorkflow"/>). A record closed as lost
/// to follow-up or moved out transfers at once (四(三)3: no confirmation of the old holder). The requester cannot see
/// the record yet, so the operation decides its own visibility: it says only what a transfer needs.
/// </summary>
public static class TransferRequestEndpoint
{
    public static void Map(IEndpointRouteBuilder app) =>
        app.MapOperation(FhirOperation.Local(typeof(TransferRequestEndpoint).Assembly, "Patient-transfer-request"), OperationLevel.Instance, Handle)
            .WithTags("Transfer").WithSummary("the proposed holder asks to take over a record: reason, confirmation method (档案转迁申请)")
            .WithMetadata(new DecidesOwnVisibility());


    private static async Task Handle(HttpContext ctx, string id, IResourceStore store, ResourceWriter writer, RecordScope scope, SearchParser parser,
        TerminologyService terminology, TransferOptions options, TimeProvider clock, GrantOptions grants, RecordLookup lookup, ISmsSender sms)
    {
        var caller = ctx.GetCaller();
        if (!ConsentDecision.IsInstitutionStaff(caller) || caller.Organization is not { } requester)
            throw new FhirException(403, "forbidden", "A transfer is requested by staff or the system of the institution that is to hold the record / 转迁申请须由拟管档机构的工作人员或系统发起");
        var p = await OperationParameters.ReadAsync(ctx);
        var reason = Lookup(terminology, TransferTerms.ReasonSystem, p.Required("reason"), "reason");
        var confirmation = Lookup(terminology, TransferTerms.ConfirmationSystem, p.Required("confirmation"), "confirmation");
        var (sendCode, requestId, now, ct) = (p.Boolean("sendCode") == true, p.Value("request"), clock.GetUtcNow(), ctx.RequestAborted);
        if ((sendCode || requestId is not null) && confirmation.Concept.Code != TransferTerms.SmsConfirmation)
            throw FhirException.BadRequest($"A one-time code confirms by SMS: use confirmation {TransferTerms.SmsConfirmation} / 确认码仅用于短信确认（确认方式 {TransferTerms.SmsConfirmation}）");
        if (sendCode)
        {
            await SendCodeAsync(ctx, id, store, scope, parser, grants, lookup, sms, requester, reason, p.Value("recipient"), now);
            return;
        }

        StoredResource? task;
        if (requestId is null)
            task = await ResourceEndpoints.InSessionAsync(ctx, store, s => RequestAsync(s, writer, scope, parser, options, requester, id, reason, confirmation,
                p.Value("note"), null, now, ct));
        else
        {
            var code = p.Required("code");
            FhirException? refusal;
            (task, refusal) = await ResourceEndpoints.InSessionAsync(ctx, store, async s =>
            {
                var (row, patientId, refused) = await AccessRequests.OpenAsync(s, ctx.GetCaller(), requestId, purpose => purpose == TransferTerms.Code, now, ct);
                if (row is null || patientId != id)
                    return (null, refused ?? FhirException.NotFound($"Request '{requestId}' is not known / 请求不存在"));
                if (!AccessCodes.Matches(row.Salt, row.Id, code, row.CodeHash))
                    return ((StoredResource?)null, await AccessRequests.FailedAttemptAsync(s, row, grants, "The code is wrong / 确认码错误", ct));
                var filed = await RequestAsync(s, writer, scope, parser, options, requester, id, reason, confirmation, p.Value("note"), row.Recipient, now, ct);
                await AccessRequests.ConfirmedAsync(s, row, "Task/" + filed.Id, ct);
                return (filed, (FhirException?)null);
            });
            // Thrown once the session committed: a wrong code's attempt counts.
            if (refusal is not null) throw refusal;
        }
        ctx.Response.Headers.Location = $"Task/{task!.Id}/_history/{task.Version}";
        await FhirFormats.WriteJsonBytesAsync(ctx, 201, task.Json!);
    }

    /// <summary>
    /// sendCode: the same checks as filing the request (nothing is sent for one that would be refused), then a one-time
    /// code by SMS to the resident or a guardian (the request kept as a code request: rate limits, expiry, attempts).
    /// </summary>
    private static async Task SendCodeAsync(HttpContext ctx, string id, IResourceStore store, RecordScope scope, SearchParser parser, GrantOptions grants,
        RecordLookup lookup, ISmsSender sms, string requester, LookupResult reason, string? recipient, DateTimeOffset now)
    {
        var ct = ctx.RequestAborted;
        var code = AccessCodes.NewCode();
        var (row, phone, institution) = await ResourceEndpoints.InSessionAsync(ctx, store, async s =>
        {
            var (patient, _) = await RequestableAsync(s, scope, parser, requester, id, now, ct);
            await TransferRules.CheckNoOpenAsync(s, id, ct);
            var (row, phone) = await AccessRequests.IssueAsync(s, lookup, grants, ctx.GetCaller(), patient, "Patient/" + id, recipient, TransferTerms.Code, now, now, code, now, ct);
            return (row, phone, await RequestAccessEndpoint.InstitutionNameAsync(s, ctx.GetCaller(), ct));
        });
        if (phone is null)
            throw FhirException.Unprocessable("Neither the resident nor a guardian on file has a mobile phone (or the recipient named has none): confirm another way / 居民及监护人均无手机号码，请改用其他确认方式");
        var why = reason.Concept;
        var text = $"【FhirArchive】{institution} 申请将您的健康档案转入本机构管理（{why.Display}）。确认码 {code}，{grants.CodeMinutes} 分钟内有效，告知工作人员即视为同意；如不同意请忽略。" +
                   $" / {institution} asks to take over your health record ({why.DisplayEn ?? why.Display}). Code {code}, valid {grants.CodeMinutes} minutes; give it to the staff to agree, ignore it to refuse.";
        await RequestAccessEndpoint.SendCodeAsync(ctx, store, sms, row, phone, text, code);

        var result = FhirParameters.Create();
        FhirParameters.Add(result, "request", row.Id, "string");
        FhirParameters.Add(result, "expires", FhirInstant.ToSecond(new DateTimeOffset(row.Expires, TimeSpan.Zero)), "instant");
        FhirParameters.Add(result, "phone", Masks.Phone(phone), "string");
        FhirParameters.Add(result, "attempts", grants.MaxAttempts.ToString(CultureInfo.InvariantCulture), "integer");
        await FhirFormats.WriteNodeAsync(ctx, 200, result);
    }

    /// <summary>The record, if <paramref name="requester"/> may ask for it now: not its holder already, not deceased or merged, not protected.</summary>
    private static async Task<(ElementNode Patient, string? Status)> RequestableAsync(IWriteSession s, RecordScope scope, SearchParser parser, string requester,
        string id, DateTimeOffset now, CancellationToken ct)
    {
        var patient = await scope.RecordPatientAsync(s, id, ct);
        // A classified person's record must not even be seen to exist outside its holder: answered as an unknown one.
        if (patient is null || RecordLookup.IsClassified(patient) && RecordLookup.ResponsibleInstitution(patient) != requester)
            throw FhirException.NotFound($"Patient/{id} is not a resident record / 未找到该居民健康档案");
        if (patient.Child("managingOrganization")?.Child("reference")?.Value == requester)
            throw FhirException.Unprocessable($"Patient/{id} is already held by {requester} / 该档案已由本机构管理");
        var status = RecordStatus.Get(patient);
        if (status == RecordStatus.Deceased || patient.Child("deceased") is { } d && d.Value != "false")
            throw FhirException.Conflict($"Patient/{id} is the record of a deceased person: it is kept, never transferred / 因死亡终止的档案不再服务和流转");
        if (status == RecordStatus.Merged)
            throw FhirException.Conflict($"Patient/{id} was merged into another record: transfer that one / 该档案已合并，请转迁合并后的档案");
        await TransferRules.CheckProtectionAsync(s, parser, id, now, ct);
        return (patient, status);
    }

    /// <summary>
    /// Files <paramref name="requester"/>'s request for Patient/{id} in session <paramref name="s"/> and returns the
    /// transfer Task: completed at once for a record closed as lost or moved out, else requested of the current holder.
    /// <paramref name="confirmedBy"/>: who confirmed by one-time code (Patient/… or RelatedPerson/…), when one was used.
    /// </summary>
    public static async Task<StoredResource> RequestAsync(IWriteSession s, ResourceWriter writer, RecordScope scope, SearchParser parser, TransferOptions options,
        string requester, string id, LookupResult reason, LookupResult confirmation, string? note, string? confirmedBy, DateTimeOffset now, CancellationToken ct)
    {
        var (patient, status) = await RequestableAsync(s, scope, parser, requester, id, now, ct);
        var holder = patient.Child("managingOrganization")?.Child("reference")?.Value;
        var node = NewTask(id, requester, holder, reason, confirmation, confirmedBy, note, now, options);
        var stored = (await writer.CreateAsync(s, node, "Task", null, ct, intent: WriteIntent.Create.For(RecordProcedure.Transfer))).Stored;
        await TransferRules.ClaimOpenAsync(s, id, stored.Id, ct);
        // 四(三)3: a record closed as lost or moved out needs no confirmation of the old holder.
        if (status is RecordStatus.Lost or RecordStatus.MovedOut)
            stored = await TransferRules.CompleteAsync(s, writer, options, RecordScope.Parse(stored)!, stored.Id, patient, null, "closed record: no confirmation of the old holder needed / 终止档案无需原机构确认", now, ct);
        return stored;
    }

    /// <summary>A code of the local code system, with its Chinese and English displays; an unknown one is a 400 naming the system.</summary>
    public static LookupResult Lookup(TerminologyService terminology, string system, string code, string parameter) =>
        terminology.Lookup(system, code)
            ?? throw FhirException.BadRequest($"'{code}' is not a code of {system} (parameter '{parameter}') / 参数 {parameter} 的代码无效");

    private static ElementNode NewTask(string patientId, string requester, string? holder,
        LookupResult reason, LookupResult confirmation, string? confirmedBy, string? note, DateTimeOffset now, TransferOptions options)
    {
        var task = ElementNode.CreateResource("Task");
        task.Add("meta").Add("profile", CnProfiles.RecordTask);
        task.Add("status", "requested");
        task.Add("intent", "order");
        var code = task.Add("code").Add("coding");
        code.Add("system", TaskDecisions.TaskTypeSystem);
        code.Add("code", TransferTerms.Code);
        code.Add("display", "档案转迁");
        task.Add("focus").Add("reference", "Patient/" + patientId);
        task.Add("for").Add("reference", "Patient/" + patientId);
        var instant = FhirInstant.Of(now);
        task.Add("authoredOn", instant);
        task.Add("lastModified", instant);
        task.Add("requester").Add("reference", requester);
        if (holder is not null) task.Add("owner").Add("reference", holder);
        AddConcept(task.Add("reasonCode"), reason);
        // The holder answers within the calendar days allowed (四(三)1): the last day is the due date.
        task.Add("restriction").Add("period").Add("end", TransferTerms.Date(ConsentDecision.ChinaDate(now).AddDays(options.ResponseDays)));
        var input = task.Add("input");
        input.Add("type").Add("text", TransferTerms.ConfirmationInput);
        AddConcept(input.Add("value", type: "CodeableConcept"), confirmation);
        if (confirmedBy is not null)
        {
            // Who confirmed with the one-time code sent to their phone.
            var by = task.Add("input");
            by.Add("type").Add("text", TransferTerms.ConfirmedByInput);
            by.Add("value", type: "Reference").Add("reference", confirmedBy);
        }
        if (note is not null) task.Add("note").Add("text", note);
        return task;
    }

    private static void AddConcept(ElementNode concept, LookupResult c)
    {
        var coding = concept.Add("coding");
        coding.Add("system", c.System.Url);
        coding.Add("code", c.Concept.Code);
        coding.Add("display", c.Concept.Display);
        concept.Add("text", $"{c.Concept.Display} / {c.Concept.DisplayEn ?? c.Concept.Display}");
    }
}

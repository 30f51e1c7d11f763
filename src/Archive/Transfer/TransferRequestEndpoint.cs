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

    private static readonly string[] StaffRoles = [Roles.Clinician, Roles.FamilyDoctor, Roles.RecordAdministrator, Roles.SystemClient];

    private static async Task Handle(HttpContext ctx, string id, IResourceStore store, ResourceWriter writer, RecordScope scope, SearchParser parser,
        TerminologyService terminology, TransferOptions options, TimeProvider clock)
    {
        var caller = ctx.GetCaller();
        if (caller.Organization is not { } requester || !StaffRoles.Any(caller.HasRole))
            throw new FhirException(403, "forbidden", "A transfer is requested by staff or the system of the institution that is to hold the record / 转迁申请须由拟管档机构的工作人员或系统发起");
        var p = await OperationParameters.ReadAsync(ctx);
        var reason = Lookup(terminology, TransferTerms.ReasonSystem, p.Required("reason"), "reason");
        var confirmation = Lookup(terminology, TransferTerms.ConfirmationSystem, p.Required("confirmation"), "confirmation");
        var task = await ResourceEndpoints.InSessionAsync(ctx, store, s => RequestAsync(s, writer, scope, parser, options, requester, id, reason, confirmation,
            p.Value("note"), clock.GetUtcNow(), ctx.RequestAborted));
        ctx.Response.Headers.Location = $"Task/{task.Id}/_history/{task.Version}";
        await FhirFormats.WriteJsonBytesAsync(ctx, 201, task.Json!);
    }

    /// <summary>
    /// Files <paramref name="requester"/>'s request for Patient/{id} in session <paramref name="s"/> and returns the
    /// transfer Task: completed at once for a record closed as lost or moved out, else requested of the current holder.
    /// </summary>
    public static async Task<StoredResource> RequestAsync(IWriteSession s, ResourceWriter writer, RecordScope scope, SearchParser parser, TransferOptions options,
        string requester, string id, LookupResult reason, LookupResult confirmation, string? note, DateTimeOffset now, CancellationToken ct)
    {
        var patient = await scope.RecordPatientAsync(s, id, ct) ?? throw FhirException.NotFound($"Patient/{id} is not a resident record / 未找到该居民健康档案");
        var holder = patient.Child("managingOrganization")?.Child("reference")?.Value;
        if (holder == requester)
            throw FhirException.Unprocessable($"Patient/{id} is already held by {requester} / 该档案已由本机构管理");
        var status = RecordStatus.Get(patient);
        if (status == RecordStatus.Deceased || patient.Child("deceased") is { } d && d.Value != "false")
            throw FhirException.Conflict($"Patient/{id} is the record of a deceased person: it is kept, never transferred / 因死亡终止的档案不再服务和流转");
        if (status == RecordStatus.Merged)
            throw FhirException.Conflict($"Patient/{id} was merged into another record: transfer that one / 该档案已合并，请转迁合并后的档案");
        await TransferRules.CheckProtectionAsync(s, parser, id, now, ct);

        var node = NewTask(id, requester, holder, reason, confirmation, note, now, options);
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
        LookupResult reason, LookupResult confirmation, string? note, DateTimeOffset now, TransferOptions options)
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
        task.Add("restriction").Add("period").Add("end", TransferTerms.Date(TransferTerms.ChinaDate(now).AddDays(options.ResponseDays)));
        var input = task.Add("input");
        input.Add("type").Add("text", TransferTerms.ConfirmationInput);
        AddConcept(input.Add("value", type: "CodeableConcept"), confirmation);
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

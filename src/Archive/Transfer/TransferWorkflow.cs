using FhirArchive.Archive.Consent;
using FhirArchive.Archive.Grants;
using FhirArchive.Archive.Records;
using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Resources;
using FhirArchive.Rest.Writing;
using FhirArchive.Storage;

namespace FhirArchive.Archive.Transfer;

/// <summary>
/// Task/[id]/$approve and $reject of a transfer Task (四(三)1): the current holder's record administrator confirms —
/// the transfer completes at once — or refuses with a reason (the seed: no refusal without one). Once the request is
/// escalated (not answered in the calendar days allowed, <see cref="TransferEscalationJob"/>) the city platform
/// (its client, one of Consent:PlatformClients: 市基层综管系统) decides it instead.
/// </summary>
public sealed class TransferWorkflow(ResourceWriter writer, RecordScope scope, TransferOptions options, ConsentDecision consent) : ITaskWorkflow
{
    public string Code => TransferTerms.Code;

    public async Task<StoredResource> ApproveAsync(TaskDecision d)
    {
        var patient = await OpenAsync(d);
        var owner = TransferTerms.Ref(d.Task, "owner");
        var patientId = TransferTerms.PatientId(d.Task);
        if (patient.Child("managingOrganization")?.Child("reference")?.Value != owner)
            throw FhirException.Conflict($"Patient/{patientId} is no longer held by {owner}: the request can only be refused / 档案管理机构已变更，该申请只能驳回");
        if (RecordStatus.Get(patient) is RecordStatus.Deceased or RecordStatus.Merged)
            throw FhirException.Conflict($"Patient/{patientId} is {RecordStatus.Get(patient)} since the request: it is not transferred; refuse the request / 死亡或已合并的档案不再流转，请驳回该申请");
        // The request's own check (TransferRequestEndpoint): a classified person's record goes to no other institution,
        // also when it was classified after the request was filed.
        if (RecordLookup.IsClassified(patient) && RecordLookup.ResponsibleInstitution(patient) != TransferTerms.Ref(d.Task, "requester"))
            throw FhirException.Conflict($"Patient/{patientId} is a classified person's record: it stays with its responsible institution; refuse the request / 涉密人员档案由责任机构管理，不予转出，请驳回该申请");
        return await TransferRules.CompleteAsync(d.Session, writer, options, d.Task, d.Id, patient, d.Caller, d.Comment, d.Now, d.Ct);
    }

    public async Task<StoredResource> RejectAsync(TaskDecision d)
    {
        await OpenAsync(d);
        TaskDecisions.SetStatus(d.Task, "rejected", d.NowInstant);
        d.Task.RemoveAll("statusReason");
        d.Task.Add("statusReason").Add("text", d.Reason);
        await TransferRules.ReleaseOpenAsync(d.Session, d.Id, d.Ct);
        return (await writer.UpdateAsync(d.Session, d.Task, "Task", d.Id, null, d.Ct, WriteIntent.Update.For(RecordProcedure.Transfer))).Stored;
    }

    /// <summary>The record of the open Task, once the caller is found to decide it.</summary>
    private async Task<ElementNode> OpenAsync(TaskDecision d)
    {
        if (!TaskDecisions.IsOpen(d.Task))
            throw FhirException.Conflict($"Task/{d.Id} is {d.Task.Child("status")?.Value}: it was decided already / 该转迁申请已处理");
        var owner = TransferTerms.Ref(d.Task, "owner");
        var holderAdmin = d.Caller.HasRole(Roles.RecordAdministrator) && owner is not null && d.Caller.Organization == owner;
        var platform = TransferTerms.IsEscalated(d.Task) && consent.IsPlatformClient(d.Caller);
        if (!holderAdmin && !platform)
            throw new FhirException(403, "forbidden", TransferTerms.IsEscalated(d.Task)
                ? $"Task/{d.Id} was escalated: it is decided by the city platform or by a record administrator of {owner} / 已超期提交市级平台，由市级平台或原管档机构档案管理员处理"
                : $"A transfer is confirmed or refused by a record administrator of the current holder {owner}; the city platform decides only requests escalated after {options.ResponseDays} days / 转迁由原管档机构档案管理员确认");
        var patientId = TransferTerms.PatientId(d.Task) ?? throw FhirException.Unprocessable($"Task/{d.Id} names no record in 'for'.");
        // A refusal stays possible whatever became of the record since, so no request is left open for good.
        return await scope.RecordPatientAsync(d.Session, patientId, d.Ct) ?? throw FhirException.NotFound($"Patient/{patientId} is not a resident record.");
    }
}

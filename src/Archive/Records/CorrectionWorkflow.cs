using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Resources;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Writing;
using FhirArchive.Storage;

namespace FhirArchive.Archive.Records;

/// <summary>
/// Corrections of saved service records (Chongqing rules 三(一): changes need the approval of the institution's
/// designated administrator, with the time of the change). The requester creates a Task (code record-task-type
/// "correction", focus the service record, an input "content" holding the proposed resource as a FHIR JSON
/// attachment, reasonCode the reason). Task/{id}/$approve or $reject is for a record administrator of the record's
/// responsible institution (managingOrganization) only: anyone else gets 403. On approval the new version is
/// written, with a Provenance naming requester (author), the approving administrator (verifier, on behalf of the
/// institution), reason and time; the history keeps every version. $approve's parameters are all optional.
/// </summary>
public sealed class CorrectionWorkflow(ResourceWriter writer, RecordScope scope) : ITaskWorkflow
{
    public const string TaskTypeSystem = TaskDecisions.TaskTypeSystem;
    public const string Correction = "correction";
    public const string ContentInput = "content";

    public string Code => Correction;

    public Task<StoredResource> ApproveAsync(TaskDecision d) => ApproveAsync(d.Session, writer, scope, d.Caller, d.Id, d.Now, d.Comment, d.Ct);

    public async Task<StoredResource> RejectAsync(TaskDecision d)
    {
        var (node, _, _) = await OpenAsync(d.Session, d.Id, scope, d.Caller, d.Ct);
        TaskDecisions.SetStatus(node, "rejected", d.NowInstant);
        node.Add("statusReason").Add("text", d.Reason);
        return (await writer.UpdateAsync(d.Session, node, "Task", d.Id, null, d.Ct)).Stored;
    }

    /// <summary>Approves correction Task/{id} for <paramref name="caller"/>: the new version, its Provenance, the completed Task (returned).</summary>
    public static async Task<StoredResource> ApproveAsync(IWriteSession s, ResourceWriter writer, RecordScope scope, Caller caller, string id,
        DateTimeOffset time, string? comment, CancellationToken ct)
    {
        var (node, target, current) = await OpenAsync(s, id, scope, caller, ct);
        var content = ProposedContent(node, current.ResourceType);
        content.RemoveAll("id");
        content.Add("id", current.Id);
        if (scope.SubjectId(content) != scope.SubjectId(target))
            throw FhirException.Unprocessable("A correction cannot move a service record to another person's record.");
        var now = FhirInstant.Of(time);
        var update = WriteIntent.Update.For(RecordProcedure.Correction);
        var written = (await writer.UpdateAsync(s, content, current.ResourceType, current.Id, current.Version, ct, update)).Stored;
        await writer.CreateAsync(s, CorrectionProvenance(node, caller, current, written, now, comment), "Provenance", null, ct,
            intent: WriteIntent.Create.For(RecordProcedure.Correction));
        TaskDecisions.SetStatus(node, "completed", now);
        var output = node.Add("output");
        output.Add("type").Add("text", "corrected version");
        output.Add("value", null, "Reference").Add("reference", $"{written.ResourceType}/{written.Id}/_history/{written.Version}");
        return (await writer.UpdateAsync(s, node, "Task", id, null, ct, update)).Stored;
    }

    /// <summary>The open correction Task, the service record it corrects, and the check that the caller may decide it.</summary>
    private static async Task<(ElementNode Task, ElementNode Target, StoredResource Current)> OpenAsync(IWriteSession s, string id, RecordScope scope, Caller caller, CancellationToken ct)
    {
        if (!caller.HasRole(Roles.RecordAdministrator))
            throw new FhirException(403, "forbidden", "Only a record administrator of the record's responsible institution decides corrections / 仅责任机构的档案管理员可审批勘误");
        var task = RecordScope.Parse(await s.ReadAsync("Task", id, ct)) ?? throw FhirException.NotFound($"Task/{id} is not known.");
        var code = TaskDecisions.CodeOf(task);
        if (code != Correction) throw FhirException.Unprocessable($"Task/{id} is not a correction request (code {TaskTypeSystem}|{Correction}).");
        if (!TaskDecisions.IsOpen(task))
            throw FhirException.Conflict($"Task/{id} is {task.Child("status")?.Value}: it was decided already / 该任务已处理");
        var focus = task.Child("focus")?.Child("reference")?.Value?.Split('/');
        if (focus is not { Length: >= 2 }) throw FhirException.Unprocessable($"Task/{id} names no service record in 'focus'.");
        var current = await s.ReadAsync(focus[0], focus[1], ct);
        if (current is null || current.IsDeleted) throw FhirException.NotFound($"{focus[0]}/{focus[1]} is not known.");
        var target = RecordScope.Parse(current)!;
        var patient = await scope.RecordPatientAsync(s, scope.SubjectId(target), ct)
            ?? throw FhirException.Unprocessable($"{focus[0]}/{focus[1]} is not a service record of a resident record.");
        var responsible = patient.Child("managingOrganization")?.Child("reference")?.Value;
        if (responsible is null || responsible != caller.Organization)
            throw new FhirException(403, "forbidden",
                $"Corrections of this record are decided by the administrator of its responsible institution ({responsible ?? "none on file"}), not for {caller.Organization ?? "no institution"}.");
        return (task, target, current);
    }

    private static ElementNode ProposedContent(ElementNode task, string type)
    {
        var input = task.ChildrenNamed("input").FirstOrDefault(i =>
            i.Child("type") is { } t && (t.Child("text")?.Value == ContentInput || t.ChildrenNamed("coding").Any(c => c.Child("code")?.Value == ContentInput)));
        var data = input?.Child("value") is { Type: "Attachment" } a ? a.Child("data")?.Value : null;
        if (data is null) throw FhirException.Unprocessable($"The correction holds no proposed content: an input of type '{ContentInput}' with a FHIR JSON attachment.");
        ElementNode content;
        try { content = FhirFormats.Parse(Convert.FromBase64String(data), FhirFormat.Json); }
        catch (FormatException) { throw FhirException.Unprocessable("The proposed content is not base64."); }
        if (content.Type != type) throw FhirException.Unprocessable($"The proposed content is a {content.Type}, the record corrected is a {type}.");
        return content;
    }

    private static ElementNode CorrectionProvenance(ElementNode task, Caller approver, StoredResource before, StoredResource after, string now, string? comment) =>
        new ProvenanceBuilder(after, now, now)
            .Reason(task.Child("reasonCode")?.Child("text")?.Value ?? comment ?? "correction")
            .Activity(ProvenanceBuilder.DataOperation, "UPDATE")
            .Agent("author", task.Child("requester")?.Child("reference")?.Value ?? "Task/" + task.Child("id")?.Value)
            .Person("verifier", approver)
            .Entity("revision", ProvenanceBuilder.VersionOf(before))
            .Entity("source", "Task/" + task.Child("id")?.Value)
            .Build();
}

using FhirArchive.Archive.Consent;
using FhirArchive.Archive.Records;
using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Search;
using FhirArchive.Rest.Resources;
using FhirArchive.Rest.Writing;
using FhirArchive.Storage;

namespace FhirArchive.Archive.Transfer;

/// <summary>
/// What every path of a transfer shares: one open request per record, the protection period after a transfer, and
/// the completion itself — holder, contract, status, Provenance and Task in the caller's one write session, so
/// either all of it commits or none. The Patient write clears the consent rules' cached facts (ConsentCacheInterceptor),
/// so the next request is decided for the new holder.
/// </summary>
public static class TransferRules
{
    /// <summary>Claims the record's one open transfer for Task/{taskId}; another open one → 409 (the UNIQUE key decides under concurrency).</summary>
    public static async Task ClaimOpenAsync(IWriteSession s, string patientId, string taskId, CancellationToken ct)
    {
        var owner = "Task/" + taskId;
        var holder = await s.ClaimUniqueAsync(TransferTerms.OpenScope, patientId, owner, ct);
        if (holder != owner)
            throw FhirException.Conflict($"Patient/{patientId} has an open transfer request ({holder}): it is decided first / 该档案已有待处理的转迁申请");
    }

    /// <summary>409 when the record has an open request (a probe claim, given back at once: the claim stays the one truth).</summary>
    public static async Task CheckNoOpenAsync(IWriteSession s, string patientId, CancellationToken ct)
    {
        var probe = "probe/" + Guid.NewGuid().ToString("N");
        await ClaimOpenAsync(s, patientId, probe, ct);
        await s.ReleaseUniqueAsync(TransferTerms.OpenScope, "Task/" + probe, [], ct);
    }

    public static Task ReleaseOpenAsync(IWriteSession s, string taskId, CancellationToken ct) =>
        s.ReleaseUniqueAsync(TransferTerms.OpenScope, "Task/" + taskId, [], ct);

    /// <summary>Refuses (409) a request inside the protection period of the record's last transfer, naming the day it ends.</summary>
    public static async Task CheckProtectionAsync(IWriteSession s, SearchParser parser, string patientId, DateTimeOffset now, CancellationToken ct)
    {
        var (query, _) = await parser.ParseAsync("Task",
            [new("subject", "Patient/" + patientId), new("code", TransferTerms.CodeToken), new("status", "completed")], strict: true, ct, s);
        query.Count = 100;
        query.IncludeTotal = false;
        var today = ConsentDecision.ChinaDate(now);
        foreach (var match in (await s.SearchAsync(query, ct)).Matches)
            if (RecordScope.Parse(match) is { } done && TransferTerms.OutputDate(done, TransferTerms.ProtectionEndOutput) is { } end && today < end)
                throw FhirException.Conflict(
                    $"Patient/{patientId} was transferred (Task/{match.Id}) and is protected until {TransferTerms.Date(end)}: no further transfer before then / " +
                    $"转迁保护期内不可再转迁，保护期至 {TransferTerms.Date(end)}");
    }

    /// <summary>
    /// Completes transfer Task/{taskId}: the record's responsible institution becomes the requester, a family-doctor
    /// contract with the old holder ends, a record closed as lost or moved out is active again, the record number
    /// stays; a Provenance says who, when and why; the Task is completed with the day its protection period ends.
    /// <paramref name="verifier"/> is whoever confirmed (null: no confirmation was needed).
    /// </summary>
    public static async Task<StoredResource> CompleteAsync(IWriteSession s, ResourceWriter writer, TransferOptions options, ElementNode task, string taskId,
        ElementNode patient, Caller? verifier, string? comment, DateTimeOffset now, CancellationToken ct)
    {
        var patientId = TransferTerms.PatientId(task)!;
        var before = await s.ReadAsync("Patient", patientId, ct) ?? throw FhirException.NotFound($"Patient/{patientId} is not known.");
        var newHolder = TransferTerms.Ref(task, "requester")!;
        var oldHolder = patient.Child("managingOrganization")?.Child("reference")?.Value;
        patient.RemoveAll("managingOrganization");
        patient.Add("managingOrganization").Add("reference", newHolder);
        // 四(三)7: the contract with the old holder's family doctor ends with the move; the new holder signs its own.
        var doctors = patient.ChildrenNamed("generalPractitioner").ToList();
        foreach (var gp in doctors) patient.Remove(gp);
        if (RecordStatus.IsSealed(RecordStatus.Get(patient))) RecordStatus.Set(patient, RecordStatus.Active);
        var intent = WriteIntent.Update.For(RecordProcedure.Transfer);
        var written = (await writer.UpdateAsync(s, patient, "Patient", patientId, null, ct, intent)).Stored;

        var instant = FhirInstant.Of(now);
        var why = task.Child("reasonCode")?.Child("text")?.Value ?? "transfer";
        var ended = doctors.Select(d => d.Child("reference")?.Value).OfType<string>().ToList();
        var provenance = new ProvenanceBuilder(written, instant, instant)
            .Activity(TaskDecisions.TaskTypeSystem, TransferTerms.Code)
            .Reason($"{oldHolder ?? "(none)"} → {newHolder}: {why}" + (ended.Count > 0 ? $"; family-doctor contract ended / 家庭医生签约终止: {string.Join(", ", ended)}" : "")
                    + (comment is null ? "" : $"; {comment}"))
            .Agent("author", newHolder);
        if (verifier is not null) provenance.Person("verifier", verifier);
        provenance.Entity("revision", ProvenanceBuilder.VersionOf(before)).Entity("source", "Task/" + taskId);
        await writer.CreateAsync(s, provenance.Build(), "Provenance", null, ct, intent: WriteIntent.Create.For(RecordProcedure.Transfer));

        TaskDecisions.SetStatus(task, "completed", instant);
        task.RemoveAll("executionPeriod");
        var period = task.Add("executionPeriod");
        if (task.Child("authoredOn")?.Value is { } asked) period.Add("start", asked);
        period.Add("end", instant);
        var record = task.Add("output");
        record.Add("type").Add("text", TransferTerms.RecordOutput);
        record.Add("value", type: "Reference").Add("reference", ProvenanceBuilder.VersionOf(written));
        var days = await ProtectionDaysAsync(s, options, oldHolder, newHolder, ct);
        if (days > 0)
        {
            var protection = task.Add("output");
            protection.Add("type").Add("text", TransferTerms.ProtectionEndOutput);
            protection.Add("value", TransferTerms.Date(ConsentDecision.ChinaDate(now).AddDays(days)), "date");
        }
        await ReleaseOpenAsync(s, taskId, ct);
        return (await writer.UpdateAsync(s, task, "Task", taskId, null, ct, intent)).Stored;
    }

    /// <summary>
    /// 四(三)6: 180 days after a cross-district transfer; within a district what that district configured. Two
    /// institutions are in one district when their division codes share the county (first 6 digits); an unknown
    /// code counts as another district, the stricter reading.
    /// </summary>
    private static async Task<int> ProtectionDaysAsync(IWriteSession s, TransferOptions options, string? from, string to, CancellationToken ct)
    {
        var a = await CountyAsync(s, from, ct);
        var b = await CountyAsync(s, to, ct);
        if (a is null || b is null || a != b) return options.CrossDistrictProtectionDays;
        return options.DistrictProtectionDays.GetValueOrDefault(a);
    }

    private static async Task<string?> CountyAsync(IWriteSession s, string? organization, CancellationToken ct)
    {
        var code = await RecordNumberInterceptor.DivisionOfAsync(s, organization, ct);
        return code is { Length: >= 6 } ? code[..6] : null;
    }
}

using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Writing;

namespace FhirArchive.Archive.Records;

/// <summary>
/// Service records (the configured clinical types whose subject is a record Patient) are written once (Chongqing
/// rules 三(一): once saved they may not be changed; a correction needs the institution's administrator, see
/// Task/$approve): no ordinary update, patch or delete (409 / 405), and none at all while the record is sealed; an
/// update under another module's declared <see cref="SavedRecordAmendment"/> passes.
/// </summary>
public sealed class ServiceRecordInterceptor(RecordScope scope, IEnumerable<SavedRecordAmendment> amendments) : IWriteInterceptor
{
    public WriteStage Stage => WriteStage.Rules;

    public async ValueTask BeforeWriteAsync(WriteContext context)
    {
        if (!scope.IsServiceRecordType(context.ResourceType)) return;
        var current = context.Current is { IsDeleted: false } c ? RecordScope.Parse(c) : null;
        var patientId = scope.SubjectId(context.Resource) ?? scope.SubjectId(current);
        var patient = await scope.RecordPatientAsync(context.Session, patientId, context.CancellationToken);
        // A record resource before and after: moving a service record away from its record is a change too.
        if (patient is null && scope.SubjectId(current) is { } before && before != patientId)
            patient = await scope.RecordPatientAsync(context.Session, before, context.CancellationToken);
        if (patient is null) return;
        var procedure = context.Intent.Procedure;
        // A purge removes, a merge re-points service records to the surviving record: both are the procedures' to do.
        if (procedure is RecordProcedure.Purge or RecordProcedure.Merge) return;
        var what = $"{context.ResourceType}/{context.Id}";
        if (context.Interaction == WriteInteraction.Delete)
            throw new FhirException(405, "not-supported", $"{what} is a service record of Patient/{patientId}: service records are never deleted / 服务记录不得删除");
        var status = RecordStatus.Get(patient);
        if (RecordStatus.IsSealed(status))
            throw new FhirException(409, "conflict", $"Patient/{patientId} is sealed (record status {status}): its service records take no more writes / 档案已封存");
        // Another module's declared amendment (a replaced document's DocumentReference marked superseded) is that module's to hold.
        if (current is not null && procedure != RecordProcedure.Correction && !SavedRecordAmendment.MayAmendSaved(amendments, procedure, context.ResourceType))
            throw new FhirException(409, "conflict",
                $"{what} is a saved service record and cannot be changed: ask for a correction (a Task with code 'correction' whose input holds the new content and the reason), " +
                "approved by the record's responsible institution's administrator with Task/{id}/$approve / 服务记录一经保存不得修改，勘误须经管理员审批");
    }

    public ValueTask AfterWriteAsync(WriteContext context) => ValueTask.CompletedTask;
}

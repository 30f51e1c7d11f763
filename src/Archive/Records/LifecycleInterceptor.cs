using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Writing;

namespace FhirArchive.Archive.Records;

/// <summary>
/// The record's lifecycle on ordinary writes: a new record starts active; the status changes only through $close and
/// $reactivate (a payload that changes it gets 422); a sealed record (lost, deceased, moved out, merged) takes no more
/// updates (409); records are never deleted by ordinary writes (405; administrators purge expired sealed ones).
/// </summary>
public sealed class LifecycleInterceptor(RecordScope scope) : IWriteInterceptor
{
    public WriteStage Stage => WriteStage.Rules;

    public ValueTask BeforeWriteAsync(WriteContext context)
    {
        if (context.ResourceType != "Patient") return ValueTask.CompletedTask;
        var current = context.Current is { IsDeleted: false } c ? RecordScope.Parse(c) : null;
        if (!scope.IsRecordPatient(context.Resource ?? current)) return ValueTask.CompletedTask;
        var procedure = context.Intent.Procedure;
        if (context.Interaction == WriteInteraction.Delete)
        {
            if (procedure == RecordProcedure.Purge) return ValueTask.CompletedTask;
            throw new FhirException(405, "not-supported",
                $"Resident records are never deleted: close Patient/{context.Id} with $close; sealed records past their retention are purged by an administrator ($purge) / 健康档案不得删除");
        }
        // A transfer of a record closed as lost or moved out brings it back into management under its new holder.
        if (procedure is RecordProcedure.Lifecycle or RecordProcedure.Purge or RecordProcedure.Transfer) return ValueTask.CompletedTask;
        var status = current is null ? null : RecordStatus.Get(current);
        if (RecordStatus.IsSealed(status))
            throw new FhirException(409, "conflict",
                $"Patient/{context.Id} is sealed (record status {status}): it takes no more updates; Patient/{context.Id}/$reactivate brings it back when contact resumes / 档案已封存，不可更新");
        var expected = status ?? RecordStatus.Active;
        var incoming = RecordStatus.Get(context.Resource!);
        if (incoming is not null && incoming != expected)
            throw FhirException.Unprocessable(
                $"The record status ({expected}) changes only through Patient/{context.Id}/$close and $reactivate, not by writing '{incoming}' / 档案状态只能通过终止或重新启用变更");
        RecordStatus.Set(context.Resource!, expected);
        return ValueTask.CompletedTask;
    }

    public ValueTask AfterWriteAsync(WriteContext context) => ValueTask.CompletedTask;
}

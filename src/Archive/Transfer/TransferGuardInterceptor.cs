using FhirArchive.Archive.Records;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Writing;

namespace FhirArchive.Archive.Transfer;

/// <summary>
/// Transfer Tasks are written only by the transfer procedure ($transfer-request, $approve, $reject, the escalation
/// job): a client's create, update, patch or delete of one is refused (403), so no request escapes the one-open-request
/// rule, the protection period or the holder's confirmation.
/// </summary>
public sealed class TransferGuardInterceptor : IWriteInterceptor
{
    public WriteStage Stage => WriteStage.Rules;

    public ValueTask BeforeWriteAsync(WriteContext context)
    {
        if (context.ResourceType != "Task" || context.Intent.Procedure == RecordProcedure.Transfer || context.Http is null
            || context.Http.GetCaller().HasRole(Roles.Server)) return ValueTask.CompletedTask;
        var before = context.Current is { IsDeleted: false } c ? RecordScope.Parse(c) : null;
        if (TransferTerms.IsTransfer(context.Resource) || TransferTerms.IsTransfer(before))
            throw new FhirException(403, "forbidden",
                "Transfer Tasks are written only through Patient/[id]/$transfer-request and Task/[id]/$approve or $reject / 转迁任务只能通过转迁申请与审批流程产生和变更");
        return ValueTask.CompletedTask;
    }

    public ValueTask AfterWriteAsync(WriteContext context) => ValueTask.CompletedTask;
}

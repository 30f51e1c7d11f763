using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Writing;

namespace FhirArchive.Archive.Records;

/// <summary>
/// Ordinary updates and patches of a record Patient (REST or batch entries) are for whoever maintains the record
/// (<see cref="RecordMaintainer"/>): others get 403 naming the family doctor or the responsible institution.
/// Creating a record, service records (off-site service included) and the record procedures are not its concern, nor
/// an institution attaching its own identifiers (<see cref="RecordMaintainer.OnlyOwnIdentifiers"/>).
/// </summary>
public sealed class RecordMaintainerInterceptor(RecordScope scope, TimeProvider clock) : IWriteInterceptor
{
    public WriteStage Stage => WriteStage.Rules;

    public ValueTask BeforeWriteAsync(WriteContext context)
    {
        if (context.ResourceType != "Patient" || context.Http is null || context.CreatesResource || context.Interaction == WriteInteraction.Delete
            || RecordProcedure.Includes(context.Intent.Procedure)) return ValueTask.CompletedTask;
        // Judged by the record as it stands: a payload cannot name itself a new maintainer.
        var current = RecordScope.Parse(context.Current);
        if (current is null || !scope.IsRecordPatient(current)) return ValueTask.CompletedTask;
        // The whole-record comparison only where the caller would be refused.
        if (RecordMaintainer.Refusal(context, current, clock.GetUtcNow()) is not { } why
            || RecordMaintainer.OnlyOwnIdentifiers(context.Http.GetCaller(), current, context.Resource!)) return ValueTask.CompletedTask;
        throw new FhirException(403, "forbidden", why);
    }

    public ValueTask AfterWriteAsync(WriteContext context) => ValueTask.CompletedTask;
}

using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Writing;

namespace FhirArchive.Audit;

/// <summary>
/// Tells the request's audit what each write stored (single writes, every batch/transaction entry, companions), and
/// keeps AuditEvent out of the ordinary write paths: the trail is the server's, append-only.
/// </summary>
public sealed class AuditWriteInterceptor : IWriteInterceptor
{
    public WriteStage Stage => WriteStage.Audit;

    public ValueTask BeforeWriteAsync(WriteContext context)
    {
        if (context.ResourceType == "AuditEvent")
            throw new FhirException(405, "not-supported", "The audit trail is append-only: audit events are recorded by the server and cannot be created, changed or deleted.");
        return ValueTask.CompletedTask;
    }

    public ValueTask AfterWriteAsync(WriteContext context)
    {
        if (context.Stored is { } stored) context.Http?.Features.Get<IAccessRecorder>()?.Written(stored);
        return ValueTask.CompletedTask;
    }
}

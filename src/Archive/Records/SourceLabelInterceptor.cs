using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Writing;

namespace FhirArchive.Archive.Records;

/// <summary>
/// Source labels (数源单位 + 采集时间): whatever a caller acting for an institution writes carries that institution in
/// meta.source (any value in the payload is replaced: it comes from the caller, not the body) and gets a companion
/// Provenance in the same transaction: target the written version, agents the practitioner and the institution,
/// recorded now, occurred at the service time when the resource has one. Without an institution nothing is stamped.
/// </summary>
public sealed class SourceLabelInterceptor(TimeProvider clock) : IWriteInterceptor
{
    public WriteStage Stage => WriteStage.Source;

    public ValueTask BeforeWriteAsync(WriteContext context)
    {
        if (context.Resource is not { } resource || InstitutionOf(context) is not { } org) return ValueTask.CompletedTask;
        var meta = resource.Child("meta") ?? resource.Add("meta");
        meta.RemoveAll("source");
        meta.Add("source", org);
        return ValueTask.CompletedTask;
    }

    public ValueTask AfterWriteAsync(WriteContext context)
    {
        // Provenances (ours or a client's) and companion writes get no Provenance of their own: no endless chains.
        if (context.Resource is not { } resource || context.Parent is not null || context.ResourceType == "Provenance") return ValueTask.CompletedTask;
        if (InstitutionOf(context) is null) return ValueTask.CompletedTask;
        var now = FhirInstant.Of(clock.GetUtcNow());
        context.AddCompanion(new ProvenanceBuilder(context.Stored!, RecordScope.ServiceTime(resource) ?? now, now)
            .Activity(ProvenanceBuilder.DataOperation, context.CreatesResource ? "CREATE" : "UPDATE")
            .Actor("author", context.Http!.GetCaller())
            .Build());
        return ValueTask.CompletedTask;
    }

    /// <summary>The institution the caller acts for ("Organization/…"); the server's own writes and anonymous callers have none.</summary>
    private static string? InstitutionOf(WriteContext context) => context.Http?.GetCaller().Organization;
}

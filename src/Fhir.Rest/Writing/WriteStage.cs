namespace FhirArchive.Rest.Writing;

/// <summary>
/// The stages of a write, in the order they run: the one place that states it. Every write (create, update, patch,
/// delete; REST, batch/transaction entry, operation, server job, sample data, companion) goes through
/// <see cref="WritePipeline"/>:
/// <list type="number">
/// <item>the interceptors' before-calls, stage by stage (registration order within a stage);</item>
/// <item>the pipeline's own steps: validate, stamp (id, versionId, lastUpdated), index, store;</item>
/// <item>the interceptors' after-calls, in the same order; the companions an interceptor asks for
/// (<see cref="WriteContext.AddCompanion"/>) are written as soon as its call returns, through this same pipeline.</item>
/// </list>
/// Any call may refuse the write with a FhirException: the session rolls back (the whole transaction; only the entry in a batch).
/// </summary>
public enum WriteStage
{
    /// <summary>The token's reach: first, so a write outside it is refused before anything else looks at it.</summary>
    Authorize,

    /// <summary>
    /// The audit trail: its own events are not writable; after the store it is told of the version at once, so the
    /// request's audit names it (and then its companions) even when a later stage refuses the write.
    /// </summary>
    Audit,

    /// <summary>Where the data comes from: meta.source before the store, a Provenance companion after it.</summary>
    Source,

    /// <summary>The domain's rules: refuse the write, or complete the resource (status, numbers, keys, tags) before it is labelled.</summary>
    Rules,

    /// <summary>Labels computed from the finished content (security labels).</summary>
    Label,

    /// <summary>After the store: caches forget what the write changed.</summary>
    Cache,

    /// <summary>Interceptors that name no stage: last, in registration order.</summary>
    Other,
}

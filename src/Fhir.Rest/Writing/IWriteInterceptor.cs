namespace FhirArchive.Rest.Writing;

/// <summary>
/// The write-side hook (like HAPI's pre-storage and pre-commit pointcuts): every write calls every registered
/// interceptor, ordered by its <see cref="Stage"/>, inside the write's own session. Record rules (one person one
/// record, record numbers, sealed records), provenance and security labelling plug in here.
/// Interceptors are singletons: resolve per-request services from <see cref="WriteContext.Http"/>.
/// </summary>
public interface IWriteInterceptor
{
    /// <summary>Where in the write this interceptor runs (both calls); see <see cref="WriteStage"/> for the order.</summary>
    WriteStage Stage => WriteStage.Other;

    /// <summary>
    /// Before the resource is validated, indexed and stored: may change <see cref="WriteContext.Resource"/>, look up
    /// resources, or throw a FhirException (4xx) to refuse the write, which rolls back the whole session (a whole
    /// transaction; only the entry in a batch).
    /// </summary>
    ValueTask BeforeWriteAsync(WriteContext context);

    /// <summary>
    /// After the version is written (<see cref="WriteContext.Stored"/>), before the session commits: may ask for
    /// companion resources; a FhirException still rolls everything back.
    /// </summary>
    ValueTask AfterWriteAsync(WriteContext context);
}

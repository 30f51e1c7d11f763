namespace FhirArchive.Rest.Writing;

/// <summary>
/// The write-side hook (like HAPI's pre-storage and pre-commit pointcuts): every create, update, patch and delete,
/// plain or conditional, from the REST endpoints, each batch/transaction entry and the sample data loader, calls
/// every registered interceptor, in registration order, inside the write's own session. Record rules (one person
/// one record, record numbers, sealed records), provenance and security labelling plug in here.
/// Interceptors are singletons: resolve per-request services from <see cref="WriteContext.Http"/>.
/// </summary>
public interface IWriteInterceptor
{
    /// <summary>
    /// Before the resource is validated, indexed and stored: may change <see cref="WriteContext.Resource"/>, look up
    /// or write companion resources, or throw a FhirException (4xx) to refuse the write, which rolls back the whole
    /// session (a whole transaction; only the entry in a batch).
    /// </summary>
    ValueTask BeforeWriteAsync(WriteContext context);

    /// <summary>
    /// After the version is written (<see cref="WriteContext.Stored"/>), before the session commits: a FhirException
    /// still rolls everything back.
    /// </summary>
    ValueTask AfterWriteAsync(WriteContext context);
}

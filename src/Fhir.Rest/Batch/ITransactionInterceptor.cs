using FhirArchive.Fhir.Model;
using FhirArchive.Storage;

namespace FhirArchive.Rest.Batch;

/// <summary>
/// A check of a whole transaction Bundle (an exchange profile's rules across its entries, e.g. a document submission),
/// run inside the transaction's session after every entry's id is decided and its references rewritten, before any
/// entry is written. It may refuse the transaction with a FhirException (nothing is stored), complete entries' resources,
/// or write further resources in <see cref="TransactionContext.Session"/> (they commit or roll back with the Bundle).
/// Interceptors are singletons, run in registration order; each decides itself whether a Bundle is its business.
/// </summary>
public interface ITransactionInterceptor
{
    ValueTask BeforeEntriesAsync(TransactionContext context);
}

/// <summary>One entry as the interceptors see it: <see cref="Reference"/> is what it is written as ("Type/id"), when known.</summary>
public sealed record TransactionEntry(int Index, string Method, string Url, string? FullUrl, ElementNode? Resource, string? Reference);

public sealed class TransactionContext(HttpContext http, IWriteSession session, ElementNode bundle, IReadOnlyList<TransactionEntry> entries)
{
    public HttpContext Http { get; } = http;
    /// <summary>The transaction's session: reads see its writes, writes made here are part of the transaction.</summary>
    public IWriteSession Session { get; } = session;
    /// <summary>The Bundle as posted (meta.profile says which exchange it claims to be).</summary>
    public ElementNode Bundle { get; } = bundle;
    public IReadOnlyList<TransactionEntry> Entries { get; } = entries;
    public CancellationToken CancellationToken => Http.RequestAborted;

    /// <summary>The entry written as <paramref name="reference"/> ("Type/id"), or whose fullUrl it is; null when none.</summary>
    public TransactionEntry? Find(string reference) =>
        Entries.FirstOrDefault(e => e.Reference == reference || (e.FullUrl is not null && e.FullUrl == reference));

    private readonly Dictionary<int, string> _procedures = [];

    /// <summary>
    /// Writes the entry as part of <paramref name="procedure"/> (<see cref="Writing.WriteIntent.Procedure"/>): the
    /// write rules that recognise it judge the entry as that procedure's (a replaced document's status change).
    /// </summary>
    public void SetProcedure(TransactionEntry entry, string procedure) => _procedures[entry.Index] = procedure;

    internal string? ProcedureOf(int index) => _procedures.GetValueOrDefault(index);

    /// <summary>Whether the Bundle claims the profile (Bundle.meta.profile, without or with a version).</summary>
    public bool Claims(string profile) =>
        Bundle.Child("meta")?.ChildrenNamed("profile").Any(p => p.Value == profile || p.Value?.StartsWith(profile + "|", StringComparison.Ordinal) == true) == true;
}

using FhirArchive.Storage;

namespace FhirArchive.Rest.Access;

/// <summary>What a read is about: passed to every <see cref="IAccessPolicy"/> call of one operation.</summary>
public sealed class AccessContext(HttpContext http, string interaction, string? resourceType)
{
    public HttpContext Http { get; } = http;
    /// <summary>read, vread, history-instance, history-type, history-system, search-type, search-system, batch-read...</summary>
    public string Interaction { get; } = interaction;
    public string? ResourceType { get; } = resourceType;
    /// <summary>Free slot for a policy's per-operation state (consent decisions, audit trail).</summary>
    public IDictionary<string, object?> Items { get; } = new Dictionary<string, object?>();
    /// <summary>Set while matches are only counted (search totals): nothing is disclosed, so nothing is recorded.</summary>
    public bool Counting { get; set; }
    /// <summary>
    /// A search's parameters as the caller gave them (REST, POST _search, a batch entry); null for other interactions.
    /// A policy may refuse criteria it does not allow the caller (<see cref="IAccessPolicy.OnStartAsync"/>).
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, string>>? SearchParameters { get; init; }
}

/// <summary>
/// The single hook every read path goes through: once at the start, once per resource about to be shown
/// (null hides it; a changed copy shows a redacted form), once at the end. Consent plugs in here; the default allows everything.
/// </summary>
public interface IAccessPolicy
{
    /// <summary>Throw a FhirException (e.g. 403) to refuse the whole operation.</summary>
    ValueTask OnStartAsync(AccessContext context);
    /// <summary>
    /// The resource as the caller may see it: itself, a redacted copy, or null (hidden: shown to the caller as if it
    /// did not exist). Also asked for history entries of deletions (their <see cref="StoredResource.Json"/> is null).
    /// </summary>
    ValueTask<StoredResource?> ShowAsync(AccessContext context, StoredResource resource);
    ValueTask OnEndAsync(AccessContext context);

    /// <summary>
    /// The resource as this policy shows it, without deciding whether the caller may see it: only its showing
    /// transformations (masking, redaction and their labels), never hiding or refusing. Asked for the answers that carry
    /// what the caller has just written (create, update, patch, batch and transaction entries): the writer knows it
    /// exists, and a write-only scope may not read it (<see cref="ReadGuard.ShowWrittenAsync"/>). Default: as it is.
    /// </summary>
    ValueTask<StoredResource> ShapeAsync(AccessContext context, StoredResource resource) => ValueTask.FromResult(resource);

    /// <summary>
    /// Whether this policy lets the caller create under an id of its own choosing (update-as-create): a policy that
    /// hides resources must refuse where "created" against "not found" would reveal a hidden id.
    /// </summary>
    bool MayChooseIds(Caller caller) => true;

    /// <summary>Whether this policy may hide a resource of the type from the caller (if none may, counts need no decisions).</summary>
    bool MayHide(Caller caller, string? type) => true;

    /// <summary>
    /// Whether the policy shows this type to the caller whole, without deciding what it points at (an auditor reads
    /// every Provenance of the trail, whatever it is about).
    /// </summary>
    bool ShowsWhole(Caller caller, string type) => false;
}

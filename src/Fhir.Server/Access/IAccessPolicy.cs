using FhirArchive.Storage;

namespace FhirArchive.Server.Access;

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
}

public sealed class AllowAllAccessPolicy : IAccessPolicy
{
    public ValueTask OnStartAsync(AccessContext context) => ValueTask.CompletedTask;
    public ValueTask<StoredResource?> ShowAsync(AccessContext context, StoredResource resource) => ValueTask.FromResult<StoredResource?>(resource);
    public ValueTask OnEndAsync(AccessContext context) => ValueTask.CompletedTask;
}

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
}

/// <summary>
/// The single hook every read path goes through: once at the start, once per resource about to be shown
/// (false hides it), once at the end. Consent and audit plug in here; the default allows everything.
/// </summary>
public interface IAccessPolicy
{
    /// <summary>Throw a FhirException (e.g. 403) to refuse the whole operation.</summary>
    ValueTask OnStartAsync(AccessContext context);
    /// <summary>Also asked for history entries of deletions (their <see cref="StoredResource.Json"/> is null).</summary>
    ValueTask<bool> CanShowAsync(AccessContext context, StoredResource resource);
    ValueTask OnEndAsync(AccessContext context);
}

public sealed class AllowAllAccessPolicy : IAccessPolicy
{
    public ValueTask OnStartAsync(AccessContext context) => ValueTask.CompletedTask;
    public ValueTask<bool> CanShowAsync(AccessContext context, StoredResource resource) => ValueTask.FromResult(true);
    public ValueTask OnEndAsync(AccessContext context) => ValueTask.CompletedTask;
}

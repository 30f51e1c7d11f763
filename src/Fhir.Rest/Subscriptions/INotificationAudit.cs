using FhirArchive.Rest.Access;
using FhirArchive.Storage;

namespace FhirArchive.Rest.Subscriptions;

/// <summary>
/// Where each notification attempt is recorded: a disclosure of <paramref name="shown"/> to the subscriber. The audit
/// trail implements it (the engine knows no module); without one, nothing is recorded.
/// </summary>
public interface INotificationAudit
{
    /// <param name="target">The endpoint called (rest-hook) or the websocket address.</param>
    /// <param name="status">The endpoint's HTTP status; 0 when it gave none (no answer, refused); 200 for websocket pings sent.</param>
    ValueTask NotifiedAsync(Caller subscriber, string subscriptionId, string channel, StoredResource shown, string target, int status, string? failure);
}

internal sealed class NoNotificationAudit : INotificationAudit
{
    public ValueTask NotifiedAsync(Caller subscriber, string subscriptionId, string channel, StoredResource shown, string target, int status, string? failure) =>
        ValueTask.CompletedTask;
}

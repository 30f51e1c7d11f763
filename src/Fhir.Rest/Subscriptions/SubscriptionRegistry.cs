using FhirArchive.Rest.Access;
using FhirArchive.Storage;
using Microsoft.EntityFrameworkCore;

namespace FhirArchive.Rest.Subscriptions;

/// <summary>An active Subscription as the matcher and the worker use it.</summary>
public sealed record ActiveSubscription(string Id, string ResourceType, string Query, DateTimeOffset? End, Caller Subscriber, string Channel, TimeSpan? Heartbeat)
{
    public IReadOnlyList<KeyValuePair<string, string>> Parameters { get; } = SubscriptionSpec.ParametersOf(Query);

    /// <summary>The subscriber as stored (to tell an unchanged Subscription when the list is read again).</summary>
    public string SubscriberJson { get; init; } = "";

    /// <summary>The criteria's plain token criteria, once parsed (the matcher's pre-filter; kept while the Subscription is unchanged).</summary>
    internal IReadOnlyList<Storage.Search.SearchCriterion>? TokenCriteria { get; set; }
}

/// <summary>
/// The active Subscriptions by criteria type, read from SubscriptionState and kept in memory, so a write of a type
/// nobody subscribes to costs one dictionary look-up. Forgotten when a Subscription write commits here; read again
/// after <see cref="SubscriptionOptions.RefreshInterval"/> for changes made by another instance.
/// </summary>
public sealed class SubscriptionRegistry(IDbContextFactory<FhirDbContext> factory, SubscriptionOptions options, TimeProvider clock)
{
    private sealed record Snapshot(ILookup<string, ActiveSubscription> ByType, IReadOnlyDictionary<string, ActiveSubscription> ById, DateTimeOffset LoadedAt);

    private volatile Snapshot? _snapshot;
    private int _generation;

    /// <summary>Whether a write of this type may match a Subscription (true while the list is not known).</summary>
    public bool MayMatch(string type) => Fresh() is not { } s || s.ByType.Contains(type);

    /// <summary>
    /// The active Subscriptions of a type, from a list read after <paramref name="asOf"/> (a marker's time: the
    /// Subscriptions another instance activated before that write are known, whatever this instance had read).
    /// </summary>
    public async Task<IEnumerable<ActiveSubscription>> ForTypeAsync(string type, DateTimeOffset asOf, CancellationToken ct) =>
        (await LoadAsync(ct, asOf)).ByType[type];

    /// <summary>Every active Subscription (heartbeats).</summary>
    public async Task<IEnumerable<ActiveSubscription>> AllAsync(CancellationToken ct) => (await LoadAsync(ct)).ById.Values;

    /// <summary>
    /// The Subscription if it is active (else null: its notifications are dropped), from a list read after
    /// <paramref name="asOf"/> when given (a notification matched by another instance is not dropped for a stale list).
    /// </summary>
    public async Task<ActiveSubscription?> FindAsync(string id, CancellationToken ct, DateTimeOffset? asOf = null) =>
        (await LoadAsync(ct, asOf)).ById.GetValueOrDefault(id);

    public void Invalidate()
    {
        Interlocked.Increment(ref _generation);
        _snapshot = null;
    }

    private Snapshot? Fresh() => _snapshot is { } s && clock.GetUtcNow() - s.LoadedAt < options.RefreshInterval ? s : null;

    private async Task<Snapshot> LoadAsync(CancellationToken ct, DateTimeOffset? asOf = null)
    {
        if (Fresh() is { } fresh && (asOf is null || fresh.LoadedAt > asOf)) return fresh;
        var generation = Volatile.Read(ref _generation);
        await using var db = await factory.CreateDbContextAsync(ct);
        var rows = await db.SubscriptionStates.Where(r => r.Status == "active").ToListAsync(ct);
        var previous = _snapshot?.ById;
        var active = rows.Select(r =>
        {
            var end = r.End is { } e ? new DateTimeOffset(e, TimeSpan.Zero) : (DateTimeOffset?)null;
            var heartbeat = r.Heartbeat is { } h ? TimeSpan.FromSeconds(h) : (TimeSpan?)null;
            // Unchanged: the same object, with what the matcher learnt of it.
            return previous?.GetValueOrDefault(r.Id) is { } old && old.ResourceType == r.ResourceType && old.Query == r.Query && old.End == end
                && old.Channel == r.Channel && old.Heartbeat == heartbeat && old.SubscriberJson == r.Subscriber
                ? old
                : new ActiveSubscription(r.Id, r.ResourceType, r.Query, end, SubscriberCodec.Read(r.Subscriber), r.Channel, heartbeat) { SubscriberJson = r.Subscriber };
        }).ToList();
        var snapshot = new Snapshot(active.ToLookup(a => a.ResourceType), active.ToDictionary(a => a.Id), clock.GetUtcNow());
        // A Subscription written while this was read: keep the answer for this call only, read again next time.
        if (Volatile.Read(ref _generation) == generation) _snapshot = snapshot;
        return snapshot;
    }
}

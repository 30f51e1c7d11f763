using FhirArchive.Rest.Access;
using FhirArchive.Storage;
using Microsoft.EntityFrameworkCore;

namespace FhirArchive.Rest.Subscriptions;

/// <summary>An active Subscription as the matcher and the worker use it.</summary>
public sealed record ActiveSubscription(string Id, string ResourceType, string Query, DateTimeOffset? End, Caller Subscriber, string Channel, TimeSpan? Heartbeat)
{
    public IReadOnlyList<KeyValuePair<string, string>> Parameters { get; } = SubscriptionSpec.ParametersOf(Query);
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
        var active = rows.Select(r => new ActiveSubscription(r.Id, r.ResourceType, r.Query,
            r.End is { } end ? new DateTimeOffset(end, TimeSpan.Zero) : null, SubscriberCodec.Read(r.Subscriber), r.Channel,
            r.Heartbeat is { } h ? TimeSpan.FromSeconds(h) : null)).ToList();
        var snapshot = new Snapshot(active.ToLookup(a => a.ResourceType), active.ToDictionary(a => a.Id), clock.GetUtcNow());
        // A Subscription written while this was read: keep the answer for this call only, read again next time.
        if (Volatile.Read(ref _generation) == generation) _snapshot = snapshot;
        return snapshot;
    }
}

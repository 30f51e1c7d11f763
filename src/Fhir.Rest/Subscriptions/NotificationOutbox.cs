using FhirArchive.Storage;
using FhirArchive.Storage.Writing;
using Microsoft.EntityFrameworkCore;

namespace FhirArchive.Rest.Subscriptions;

/// <summary>
/// The durable queue of notifications (SubscriptionOutbox). A write of a type some Subscription criteria name records
/// a marker row in its own transaction (<see cref="RecordWriteAsync"/>): if the write commits, so does the marker, and
/// a crash at any later point leaves it to be matched by the next worker — at least once, nothing lost between commit
/// and matching. A worker claims due rows for a lease (<see cref="ClaimAsync"/>): an UPDATE that takes only rows whose
/// lease ran out, so two instances on one database never hold one row at the same time, and the rows of an instance
/// that died are taken again when its lease ends. Markers become one notification row per matching Subscription
/// (<see cref="ResolveAsync"/>); a notification row is removed only after its endpoint answered. Changes go through
/// the store's single writer, as every write does.
/// </summary>
public sealed class NotificationOutbox(IResourceStore store, IDbContextFactory<FhirDbContext> factory, SubscriptionOptions options, TimeProvider clock)
{
    /// <summary>The marker of a written version, in the write's session (its transaction).</summary>
    public static Task RecordWriteAsync(IWriteSession s, StoredResource written, DateTimeOffset now, CancellationToken ct)
    {
        var at = now.UtcTicks;
        // Plain SQL: no change tracking for one row in the hot path of every write.
        return s.DbContext().Database.ExecuteSqlInterpolatedAsync($"""
            INSERT INTO "SubscriptionOutbox" ("SubscriptionId", "ResourceType", "ResourceId", "Version", "Created", "Attempts", "NextAttempt", "ClaimedUntil")
            VALUES ({NotificationRow.ToMatch}, {written.ResourceType}, {written.Id}, {written.Version}, {at}, 0, {at}, 0)
            """, ct);
    }

    /// <summary>
    /// Claims up to <paramref name="max"/> due rows (markers and notifications, oldest first) for
    /// <paramref name="claim"/> until now + <see cref="SubscriptionOptions.ClaimLease"/>; returns those it got.
    /// </summary>
    public async Task<List<NotificationRow>> ClaimAsync(int max, string claim, CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcTicks;
        var until = now + options.ClaimLease.Ticks;
        await using var db = await factory.CreateDbContextAsync(ct);
        var ids = await db.Notifications.Where(n => n.NextAttempt <= now && n.ClaimedUntil <= now)
            .OrderBy(n => n.Id).Select(n => n.Id).Take(max).ToListAsync(ct);
        if (ids.Count == 0) return [];
        // The condition is checked again by the UPDATE itself: of two instances claiming a row, one changes it.
        await WriteAsync(async w =>
        {
            await w.Notifications.Where(n => ids.Contains(n.Id) && n.ClaimedUntil <= now)
                .ExecuteUpdateAsync(s => s.SetProperty(n => n.ClaimedUntil, until).SetProperty(n => n.ClaimedBy, claim), ct);
            return true;
        }, ct);
        return await db.Notifications.AsNoTracking().Where(n => ids.Contains(n.Id) && n.ClaimedBy == claim).OrderBy(n => n.Id).ToListAsync(ct);
    }

    /// <summary>
    /// Replaces claimed markers by their notifications (each markers' match: the Subscriptions it matched), claimed
    /// by the same claim, in one transaction; returns the new rows. Nothing happens when the claim no longer holds
    /// every marker (its lease ran out and another worker took one): they are that worker's to match.
    /// </summary>
    public async Task<List<NotificationRow>> ResolveAsync(IReadOnlyList<NotificationRow> markers, IEnumerable<(NotificationRow Marker, string SubscriptionId)> matches,
        string claim, CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcTicks;
        var rows = matches.Select(m => new NotificationRow
        {
            SubscriptionId = m.SubscriptionId, ResourceType = m.Marker.ResourceType, ResourceId = m.Marker.ResourceId, Version = m.Marker.Version,
            Created = m.Marker.Created, NextAttempt = now, ClaimedUntil = m.Marker.ClaimedUntil, ClaimedBy = claim,
        }).ToList();
        var ids = markers.Select(m => m.Id).ToList();
        var done = await WriteAsync(async db =>
        {
            if (await db.Notifications.Where(n => ids.Contains(n.Id) && n.ClaimedBy == claim).ExecuteDeleteAsync(ct) != ids.Count) return false;
            db.Notifications.AddRange(rows);
            await db.SaveChangesAsync(ct);
            return true;
        }, ct);
        return done ? rows : [];
    }

    /// <summary>How many rows wait (operators, tests).</summary>
    public async Task<int> CountAsync(CancellationToken ct = default)
    {
        await using var db = await factory.CreateDbContextAsync(ct);
        return await db.Notifications.CountAsync(ct);
    }

    /// <summary>Removes delivered (or dropped) rows, in one statement.</summary>
    public Task RemoveAsync(IReadOnlyCollection<long> ids, CancellationToken ct) => ids.Count == 0 ? Task.CompletedTask
        : WriteAsync(async db => await db.Notifications.Where(n => ids.Contains(n.Id)).ExecuteDeleteAsync(ct) >= 0, ct);

    /// <summary>A failed attempt: the row waits until <paramref name="next"/>, released for any worker.</summary>
    public Task RetryLaterAsync(long id, int attempts, DateTimeOffset next, string error, CancellationToken ct) =>
        WriteAsync(async db => await db.Notifications.Where(n => n.Id == id).ExecuteUpdateAsync(s => s
            .SetProperty(n => n.Attempts, attempts).SetProperty(n => n.NextAttempt, next.UtcTicks).SetProperty(n => n.LastError, error)
            .SetProperty(n => n.ClaimedUntil, 0L).SetProperty(n => n.ClaimedBy, (string?)null), ct) >= 0, ct);

    /// <summary>Drops every waiting notification of a Subscription, in the given session (deleted, or set to error).</summary>
    public static Task DropAllAsync(IWriteSession s, string subscriptionId, CancellationToken ct) =>
        s.DbContext().Notifications.Where(n => n.SubscriptionId == subscriptionId).ExecuteDeleteAsync(ct);

    /// <summary>Runs a change in a session of the single writer; commits when it returns true.</summary>
    private Task<bool> WriteAsync(Func<FhirDbContext, Task<bool>> change, CancellationToken ct) => store.WriteOwnRowsAsync(change, ct);
}

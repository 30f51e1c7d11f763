using FhirArchive.Storage;
using FhirArchive.Storage.Writing;
using Microsoft.EntityFrameworkCore;

namespace FhirArchive.Rest.Subscriptions;

/// <summary>
/// The durable queue of notifications (SubscriptionOutbox). Appended to after a write commits, emptied by the worker
/// as deliveries succeed or are given up: a row outlives a restart, and one is removed only after its POST was
/// answered, so delivery is at least once. Changes go through the store's single writer, as every write does.
/// </summary>
public sealed class NotificationOutbox(IResourceStore store, IDbContextFactory<FhirDbContext> factory, TimeProvider clock)
{
    public async Task AppendAsync(IEnumerable<string> subscriptionIds, StoredResource written, CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcTicks;
        await WriteAsync(async db =>
        {
            foreach (var id in subscriptionIds)
                db.Notifications.Add(new NotificationRow
                {
                    SubscriptionId = id, ResourceType = written.ResourceType, ResourceId = written.Id, Version = written.Version,
                    Created = now, NextAttempt = now,
                });
            await db.SaveChangesAsync(ct);
        }, ct);
    }

    /// <summary>Rows whose time has come, oldest first.</summary>
    public async Task<List<NotificationRow>> DueAsync(int max, CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcTicks;
        await using var db = await factory.CreateDbContextAsync(ct);
        return await db.Notifications.Where(n => n.NextAttempt <= now).OrderBy(n => n.Id).Take(max).ToListAsync(ct);
    }

    /// <summary>How many notifications wait (operators, tests).</summary>
    public async Task<int> CountAsync(CancellationToken ct = default)
    {
        await using var db = await factory.CreateDbContextAsync(ct);
        return await db.Notifications.CountAsync(ct);
    }

    public Task RemoveAsync(long id, CancellationToken ct) =>
        WriteAsync(db => db.Notifications.Where(n => n.Id == id).ExecuteDeleteAsync(ct), ct);

    public Task RetryLaterAsync(long id, int attempts, DateTimeOffset next, string error, CancellationToken ct) =>
        WriteAsync(db => db.Notifications.Where(n => n.Id == id).ExecuteUpdateAsync(s => s
            .SetProperty(n => n.Attempts, attempts).SetProperty(n => n.NextAttempt, next.UtcTicks).SetProperty(n => n.LastError, error), ct), ct);

    /// <summary>Drops every waiting notification of a Subscription, in the given session (deleted, or set to error).</summary>
    public static Task DropAllAsync(IWriteSession s, string subscriptionId, CancellationToken ct) =>
        s.DbContext().Notifications.Where(n => n.SubscriptionId == subscriptionId).ExecuteDeleteAsync(ct);

    private async Task WriteAsync(Func<FhirDbContext, Task> change, CancellationToken ct)
    {
        await using var s = await store.BeginWriteAsync(ct);
        var db = s.DbContext();
        await change(db);
        db.ChangeTracker.Clear();
        await s.CommitAsync(ct);
    }
}

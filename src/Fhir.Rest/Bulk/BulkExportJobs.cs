using FhirArchive.Rest.Access;
using FhirArchive.Rest.Subscriptions;
using FhirArchive.Storage;
using FhirArchive.Storage.Writing;
using Microsoft.EntityFrameworkCore;

namespace FhirArchive.Rest.Bulk;

/// <summary>
/// The $export jobs in the database and their files in the data folder. A worker claims one job at a time for a lease
/// (an UPDATE that takes only a job whose lease ran out, so two instances never run one job, and the job of an instance
/// that stopped is taken again and resumed); each saved position renews the lease. Changes go through the store's
/// single writer, as every write does.
/// </summary>
public sealed class BulkExportJobs(IResourceStore store, IDbContextFactory<FhirDbContext> factory, BulkExportOptions options, StorageOptions storage, TimeProvider clock)
{
    public const string Accepted = "accepted", Running = "running", Completed = "completed", Failed = "failed", Expired = "expired";

    /// <summary>Who may poll a job and fetch its files: the requester's subject and client, exactly.</summary>
    public static string OwnerOf(Caller c) => $"{c.SubjectSystem}|{c.Subject}|{c.ClientId}";

    public string FolderOf(string jobId) => Path.Combine(Path.IsPathRooted(options.Folder) ? options.Folder : Path.Combine(storage.DataFolder, options.Folder), jobId);

    public async Task<BulkExportJobRow> CreateAsync(Caller requester, BulkExportSpec spec, CancellationToken ct)
    {
        await using var db = await factory.CreateDbContextAsync(ct);
        var snapshot = await db.Resources.MaxAsync(r => (long?)r.Id, ct) ?? 0;
        var job = new BulkExportJobRow
        {
            Id = Guid.NewGuid().ToString("N"), Status = Accepted, Requester = SubscriberCodec.Write(requester), Owner = OwnerOf(requester),
            Spec = spec.ToJson(), Progress = new BulkExportProgress().ToJson(), Created = clock.GetUtcNow().UtcTicks, Snapshot = snapshot,
        };
        await WriteAsync(w =>
        {
            w.Add(job);
            return Task.FromResult(true);
        }, ct);
        return job;
    }

    /// <summary>The resource types the store holds (current, not deleted), for a system-level export without _type.</summary>
    public async Task<IReadOnlyList<string>> StoredTypesAsync(CancellationToken ct)
    {
        await using var db = await factory.CreateDbContextAsync(ct);
        return await db.Resources.Where(r => r.IsCurrent && !r.IsDeleted).Select(r => r.ResourceType).Distinct().OrderBy(t => t).ToListAsync(ct);
    }

    public async Task<BulkExportJobRow?> FindAsync(string id, CancellationToken ct)
    {
        await using var db = await factory.CreateDbContextAsync(ct);
        return await db.BulkExportJobs.AsNoTracking().SingleOrDefaultAsync(j => j.Id == id, ct);
    }

    /// <summary>The requester's jobs still queued or running.</summary>
    public async Task<int> ActiveCountAsync(string owner, CancellationToken ct)
    {
        await using var db = await factory.CreateDbContextAsync(ct);
        return await db.BulkExportJobs.CountAsync(j => j.Owner == owner && (j.Status == Accepted || j.Status == Running), ct);
    }

    /// <summary>The oldest job to run (queued, or running under a lease that ran out), claimed for <paramref name="claim"/>; null when none.</summary>
    public async Task<BulkExportJobRow?> ClaimNextAsync(string claim, CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcTicks;
        await using var db = await factory.CreateDbContextAsync(ct);
        var id = await db.BulkExportJobs.Where(j => (j.Status == Accepted || j.Status == Running) && j.ClaimedUntil <= now)
            .OrderBy(j => j.Created).Select(j => j.Id).FirstOrDefaultAsync(ct);
        if (id is null) return null;
        var until = now + options.ClaimLease.Ticks;
        // The condition is checked again by the UPDATE itself: of two instances claiming the job, one changes it.
        var taken = await WriteAsync(async w => await w.BulkExportJobs.Where(j => j.Id == id && j.ClaimedUntil <= now)
            .ExecuteUpdateAsync(s => s.SetProperty(j => j.ClaimedUntil, until).SetProperty(j => j.ClaimedBy, claim).SetProperty(j => j.Status, Running), ct) == 1, ct);
        return taken ? await FindAsync(id, ct) : null;
    }

    /// <summary>Saves the worker's position and renews its lease; false when the job is gone (cancelled) or no longer its claim's.</summary>
    public Task<bool> SaveProgressAsync(string id, string claim, BulkExportProgress progress, CancellationToken ct)
    {
        var (json, until) = (progress.ToJson(), clock.GetUtcNow().UtcTicks + options.ClaimLease.Ticks);
        return WriteAsync(async w => await w.BulkExportJobs.Where(j => j.Id == id && j.ClaimedBy == claim)
            .ExecuteUpdateAsync(s => s.SetProperty(j => j.Progress, json).SetProperty(j => j.ClaimedUntil, until), ct) == 1, ct);
    }

    /// <summary>The job done (or failed with <paramref name="error"/>): its files kept until the expiry.</summary>
    public Task<bool> FinishAsync(string id, string claim, BulkExportProgress progress, string? error, CancellationToken ct)
    {
        var (json, expires) = (progress.ToJson(), clock.GetUtcNow().Add(options.FileLifetime).UtcTicks);
        var status = error is null ? Completed : Failed;
        return WriteAsync(async w => await w.BulkExportJobs.Where(j => j.Id == id && j.ClaimedBy == claim)
            .ExecuteUpdateAsync(s => s.SetProperty(j => j.Progress, json).SetProperty(j => j.Status, status).SetProperty(j => j.Error, error)
                .SetProperty(j => j.Expires, expires).SetProperty(j => j.ClaimedUntil, 0L).SetProperty(j => j.ClaimedBy, (string?)null), ct) == 1, ct);
    }

    /// <summary>Cancels a job: its row and its files are removed (a worker running it stops at its next save).</summary>
    public async Task DeleteAsync(string id, CancellationToken ct)
    {
        await WriteAsync(async w => await w.BulkExportJobs.Where(j => j.Id == id).ExecuteDeleteAsync(ct) >= 0, ct);
        DeleteFiles(id);
    }

    /// <summary>
    /// Finished jobs past their expiry lose their files and answer 410 from then on; their rows are removed one more
    /// lifetime later. Returns how many jobs expired now.
    /// </summary>
    public async Task<int> ExpireAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcTicks;
        await using var db = await factory.CreateDbContextAsync(ct);
        var due = await db.BulkExportJobs.Where(j => (j.Status == Completed || j.Status == Failed) && j.Expires <= now).Select(j => j.Id).ToListAsync(ct);
        var forgotten = now - options.FileLifetime.Ticks;
        // Nothing due (the usual round): no write, so the single writer is not taken every poll.
        if (due.Count == 0 && !await db.BulkExportJobs.AnyAsync(j => j.Status == Expired && j.Expires <= forgotten, ct)) return 0;
        await WriteAsync(async w =>
        {
            if (due.Count > 0) await w.BulkExportJobs.Where(j => due.Contains(j.Id)).ExecuteUpdateAsync(s => s.SetProperty(j => j.Status, Expired), ct);
            await w.BulkExportJobs.Where(j => j.Status == Expired && j.Expires <= forgotten).ExecuteDeleteAsync(ct);
            return true;
        }, ct);
        foreach (var id in due) DeleteFiles(id);
        return due.Count;
    }

    public void DeleteFiles(string id)
    {
        try
        {
            if (Directory.Exists(FolderOf(id))) Directory.Delete(FolderOf(id), recursive: true);
        }
        catch (IOException) { } // a file still open by the worker: it deletes the folder itself when it sees the job gone
    }

    private Task<bool> WriteAsync(Func<FhirDbContext, Task<bool>> change, CancellationToken ct) => store.WriteOwnRowsAsync(change, ct);
}

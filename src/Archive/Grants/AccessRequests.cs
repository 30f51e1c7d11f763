using FhirArchive.Storage;
using FhirArchive.Storage.Writing;
using Microsoft.EntityFrameworkCore;

namespace FhirArchive.Archive.Grants;

/// <summary>
/// The pending access requests, read and written inside a write session (the same transaction and the same single
/// writer as the Consent a grant writes, so a code is used once even when two grants race).
/// </summary>
public static class AccessRequests
{
    private static FhirDbContext Db(IWriteSession s) => s.DbContext();

    public static async Task AddAsync(IWriteSession s, AccessRequestRow row, CancellationToken ct = default)
    {
        var db = Db(s);
        db.AccessRequests.Add(row);
        await db.SaveChangesAsync(ct);
        db.ChangeTracker.Clear();
    }

    public static Task<AccessRequestRow?> FindAsync(IWriteSession s, string id, CancellationToken ct = default) =>
        Db(s).AccessRequests.AsNoTracking().FirstOrDefaultAsync(r => r.Id == id, ct);

    /// <summary>Requests made since <paramref name="since"/> (UTC ticks) by this requester: over all records, and about this subject.</summary>
    public static async Task<(int ByRequester, int ByRequesterAndSubject)> CountSinceAsync(IWriteSession s, string requester, string subject, long since, CancellationToken ct = default)
    {
        var mine = Db(s).AccessRequests.Where(r => r.Requester == requester && r.Created >= since);
        return (await mine.CountAsync(ct), await mine.CountAsync(r => r.Subject == subject, ct));
    }

    /// <summary>Saves the attempts, status and consent of a request.</summary>
    public static Task UpdateAsync(IWriteSession s, AccessRequestRow row, CancellationToken ct = default) =>
        Db(s).AccessRequests.Where(r => r.Id == row.Id).ExecuteUpdateAsync(u => u
            .SetProperty(r => r.Attempts, row.Attempts)
            .SetProperty(r => r.Status, row.Status)
            .SetProperty(r => r.Consent, row.Consent), ct);
}

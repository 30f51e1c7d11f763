using FhirArchive.Auth.State;
using FhirArchive.Storage.Schema;
using Microsoft.EntityFrameworkCore;

namespace FhirArchive.Storage.AuthState;

/// <summary>
/// The authorisation server's grant state (Auth's <see cref="IGrantState"/>, <see cref="IRevocationState"/> and
/// <see cref="ILoginState"/>), on either provider. Every "only once" decision (a code redeemed, a refresh token rotated,
/// a one-time-code step, an assertion id) is a single conditional statement whose affected-row count says who won,
/// so two server instances on one database cannot both succeed. On SQLite, writes take the database's one writer.
/// </summary>
public sealed class AuthStateStore(IDbContextFactory<FhirDbContext> factory, StorageOptions options, DatabaseWriter writer)
    : IGrantState, IRevocationState, ILoginState
{
    private async Task<T> WriteAsync<T>(Func<FhirDbContext, Task<T>> body, CancellationToken ct)
    {
        var sqlite = options.Dialect == SqlDialect.Sqlite;
        if (sqlite) await writer.Gate.WaitAsync(ct);
        try
        {
            await using var db = await factory.CreateDbContextAsync(ct);
            return await body(db);
        }
        finally
        {
            if (sqlite) writer.Gate.Release();
        }
    }

    private async Task<T> ReadAsync<T>(Func<FhirDbContext, Task<T>> body, CancellationToken ct)
    {
        await using var db = await factory.CreateDbContextAsync(ct);
        return await body(db);
    }

    // ---- authorisation codes ----

    public Task AddCodeAsync(AuthCodeRow row, CancellationToken ct = default) =>
        WriteAsync(async db => { db.AuthCodes.Add(row); return await db.SaveChangesAsync(ct); }, ct);

    public async Task<AuthCodeRow?> TakeCodeAsync(string hash, long now, CancellationToken ct = default)
    {
        var row = await ReadAsync(db => db.AuthCodes.FirstOrDefaultAsync(c => c.Hash == hash, ct), ct);
        if (row is null) return null;
        var taken = await WriteAsync(db => db.AuthCodes.Where(c => c.Hash == hash).ExecuteDeleteAsync(ct), ct);
        return taken == 1 && row.ExpiresAt > now ? row : null;
    }

    // ---- refresh tokens ----

    public Task AddRefreshAsync(RefreshTokenRow row, CancellationToken ct = default) =>
        WriteAsync(async db => { db.RefreshTokens.Add(row); return await db.SaveChangesAsync(ct); }, ct);

    public Task<RefreshTokenRow?> FindRefreshAsync(string hash, CancellationToken ct = default) =>
        ReadAsync(db => db.RefreshTokens.FirstOrDefaultAsync(r => r.Hash == hash, ct), ct);

    public async Task<bool> UseRefreshAsync(string hash, long now, CancellationToken ct = default) =>
        await WriteAsync(db => db.RefreshTokens.Where(r => r.Hash == hash && r.UsedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.UsedAt, now), ct), ct) == 1;

    public Task<int> RevokeFamilyAsync(string family, CancellationToken ct = default) =>
        WriteAsync(db => db.RefreshTokens.Where(r => r.Family == family && r.UsedAt == null).ExecuteDeleteAsync(ct), ct);

    // ---- revoked access tokens ----

    public Task RevokeTokenIdAsync(string tokenId, long expiresAt, long now, CancellationToken ct = default) =>
        WriteAsync(db => db.Database.ExecuteSqlAsync(
            $"""INSERT INTO "AuthRevokedToken" ("TokenId", "ExpiresAt", "RevokedAt") VALUES ({tokenId}, {expiresAt}, {now}) ON CONFLICT DO NOTHING""", ct), ct);

    public Task<List<RevokedTokenRow>> RevokedSinceAsync(long since, long now, CancellationToken ct = default) =>
        ReadAsync(db => db.RevokedTokens.Where(r => r.RevokedAt >= since && r.ExpiresAt > now).ToListAsync(ct), ct);

    // ---- used-once values ----

    public async Task<bool> UseOnceAsync(string key, long expiresAt, long now, CancellationToken ct = default) =>
        await WriteAsync(async db =>
        {
            await db.UsedOnce.Where(u => u.Key == key && u.ExpiresAt < now).ExecuteDeleteAsync(ct);
            return await db.Database.ExecuteSqlAsync(
                $"""INSERT INTO "AuthUsedOnce" ("Key", "ExpiresAt") VALUES ({key}, {expiresAt}) ON CONFLICT DO NOTHING""", ct);
        }, ct) == 1;

    public Task<bool> WasUsedAsync(string key, long now, CancellationToken ct = default) =>
        ReadAsync(db => db.UsedOnce.AnyAsync(u => u.Key == key && u.ExpiresAt >= now, ct), ct);

    // ---- logins ----

    public async Task<long?> LockedUntilAsync(string username, long now, CancellationToken ct = default)
    {
        var until = await ReadAsync(db => db.AccountStates.Where(a => a.Username == username).Select(a => a.LockedUntil).FirstOrDefaultAsync(ct), ct);
        return until > now ? until : null;
    }

    public Task<long?> FailLoginAsync(string username, long now, long windowStart, int max, long lockUntil, CancellationToken ct = default) =>
        WriteAsync<long?>(async db =>
        {
            db.LoginFailures.Add(new LoginFailureRow { Username = username, At = now });
            await db.SaveChangesAsync(ct);
            var recent = await db.LoginFailures.CountAsync(f => f.Username == username && f.At > windowStart, ct);
            if (recent < max) return null;
            await db.LoginFailures.Where(f => f.Username == username).ExecuteDeleteAsync(ct);
            await db.Database.ExecuteSqlAsync($"""
                INSERT INTO "AuthAccountState" ("Username", "LockedUntil", "LastTotpStep") VALUES ({username}, {lockUntil}, {long.MinValue})
                ON CONFLICT ("Username") DO UPDATE SET "LockedUntil" = excluded."LockedUntil"
                """, ct);
            return lockUntil;
        }, ct);

    public Task ClearLoginFailuresAsync(string username, CancellationToken ct = default) =>
        WriteAsync(db => db.LoginFailures.Where(f => f.Username == username).ExecuteDeleteAsync(ct), ct);

    public async Task<bool> UseTotpStepAsync(string username, long step, CancellationToken ct = default) =>
        await WriteAsync(db => db.Database.ExecuteSqlAsync($"""
            INSERT INTO "AuthAccountState" ("Username", "LockedUntil", "LastTotpStep") VALUES ({username}, NULL, {step})
            ON CONFLICT ("Username") DO UPDATE SET "LastTotpStep" = excluded."LastTotpStep"
            WHERE "AuthAccountState"."LastTotpStep" < excluded."LastTotpStep"
            """, ct), ct) == 1;

    // ---- clean-up ----

    public Task<int> DeleteExpiredAsync(long now, long revokedBefore, long failuresBefore, CancellationToken ct = default) =>
        WriteAsync(async db =>
            await db.AuthCodes.Where(c => c.ExpiresAt <= now).ExecuteDeleteAsync(ct)
            + await db.RefreshTokens.Where(r => r.ExpiresAt <= now).ExecuteDeleteAsync(ct)
            + await db.RevokedTokens.Where(r => r.ExpiresAt < revokedBefore).ExecuteDeleteAsync(ct)
            + await db.UsedOnce.Where(u => u.ExpiresAt <= now).ExecuteDeleteAsync(ct)
            + await db.LoginFailures.Where(f => f.At <= failuresBefore).ExecuteDeleteAsync(ct), ct);
}

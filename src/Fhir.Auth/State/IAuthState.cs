namespace FhirArchive.Auth.State;

// The authorisation server's grant state, shared by every server instance on one database and kept across restarts.
// Auth states what it needs; the storage implements it (FhirArchive.Storage.AuthState.AuthStateStore), so the OAuth
// server does not depend on EF or the FHIR store. Every "only once" decision (a code redeemed, a refresh token
// rotated, a one-time-code step, an assertion id) must be atomic across instances. Times are UTC ticks.

/// <summary>Authorisation codes, refresh tokens and used-once values (<see cref="Tokens.GrantStore"/>).</summary>
public interface IGrantState
{
    Task AddCodeAsync(AuthCodeRow row, CancellationToken ct = default);

    /// <summary>The code's row, deleted by this call; null when unknown, already taken (here or elsewhere) or expired.</summary>
    Task<AuthCodeRow?> TakeCodeAsync(string hash, long now, CancellationToken ct = default);

    Task AddRefreshAsync(RefreshTokenRow row, CancellationToken ct = default);

    Task<RefreshTokenRow?> FindRefreshAsync(string hash, CancellationToken ct = default);

    /// <summary>Marks a live refresh token used; false when it was used already (a concurrent rotation won).</summary>
    Task<bool> UseRefreshAsync(string hash, long now, CancellationToken ct = default);

    /// <summary>Ends every live token of the family (the used ones stay, so their reuse is still recognised).</summary>
    Task<int> RevokeFamilyAsync(string family, CancellationToken ct = default);

    /// <summary>True the first time <paramref name="key"/> is used; false again until it expires.</summary>
    Task<bool> UseOnceAsync(string key, long expiresAt, long now, CancellationToken ct = default);

    /// <summary>Whether <paramref name="key"/> was used and has not expired (read only).</summary>
    Task<bool> WasUsedAsync(string key, long now, CancellationToken ct = default);

    /// <summary>Deletes what can no longer matter: expired codes, refresh tokens, revocations and used-once values,
    /// and failures older than the lockout window. Returns the number of rows deleted.</summary>
    Task<int> DeleteExpiredAsync(long now, long revokedBefore, long failuresBefore, CancellationToken ct = default);
}

/// <summary>Revoked access-token ids and grants (<see cref="Tokens.RevocationList"/>).</summary>
public interface IRevocationState
{
    Task RevokeTokenIdAsync(string tokenId, long expiresAt, long now, CancellationToken ct = default);

    /// <summary>The token ids revoked at or after <paramref name="since"/> that have not expired by <paramref name="now"/>.</summary>
    Task<List<RevokedTokenRow>> RevokedSinceAsync(long since, long now, CancellationToken ct = default);
}

/// <summary>Failed logins, account locks and used one-time-code steps (<see cref="Accounts.LoginThrottle"/>).</summary>
public interface ILoginState
{
    /// <summary>The lock's end when the account is locked at <paramref name="now"/>; null otherwise.</summary>
    Task<long?> LockedUntilAsync(string username, long now, CancellationToken ct = default);

    /// <summary>Records a failure; when <paramref name="max"/> failures fall within the window, locks the account
    /// until <paramref name="lockUntil"/>, clears the failures and returns the lock's end.</summary>
    Task<long?> FailLoginAsync(string username, long now, long windowStart, int max, long lockUntil, CancellationToken ct = default);

    Task ClearLoginFailuresAsync(string username, CancellationToken ct = default);

    /// <summary>False when this step (or a later one) was already used by the account.</summary>
    Task<bool> UseTotpStepAsync(string username, long step, CancellationToken ct = default);
}

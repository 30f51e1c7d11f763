namespace FhirArchive.Storage.AuthState;

// The authorisation server's grant state, shared by every server instance on the database and kept across restarts.
// Codes and refresh tokens are stored by hash only; the payload is the grant (who, which scopes) as JSON, no secret.
// Times are UTC ticks, like ResourceVersion.LastUpdated.

/// <summary>An authorisation code waiting for its token request (single use).</summary>
public sealed class AuthCodeRow
{
    public string Hash { get; set; } = "";
    public string ClientId { get; set; } = "";
    public string Payload { get; set; } = "";
    public long ExpiresAt { get; set; }
}

/// <summary>A refresh token; once rotated (<see cref="UsedAt"/> set) it is kept until it expires, to detect reuse.</summary>
public sealed class RefreshTokenRow
{
    public string Hash { get; set; } = "";
    public string ClientId { get; set; } = "";
    /// <summary>The rotation family: every token renewed from one authorisation.</summary>
    public string Family { get; set; } = "";
    public string Payload { get; set; } = "";
    public long ExpiresAt { get; set; }
    public long? UsedAt { get; set; }
}

/// <summary>A revoked access token id (jti), or a revoked grant ("grant " + its id), until its tokens would have expired anyway.</summary>
public sealed class RevokedTokenRow
{
    public string TokenId { get; set; } = "";
    public long ExpiresAt { get; set; }
    public long RevokedAt { get; set; }
}

/// <summary>A value that may be used once until it expires (client assertion ids, used authorisation codes).</summary>
public sealed class UsedOnceRow
{
    public string Key { get; set; } = "";
    public long ExpiresAt { get; set; }
}

/// <summary>One failed login (the lockout counts those within its window).</summary>
public sealed class LoginFailureRow
{
    public long Id { get; set; }
    public string Username { get; set; } = "";
    public long At { get; set; }
}

/// <summary>Per account: the lock's end and the last one-time-code step used (no replay).</summary>
public sealed class AccountStateRow
{
    public string Username { get; set; } = "";
    public long? LockedUntil { get; set; }
    public long LastTotpStep { get; set; }
}

namespace FhirArchive.Auth.State;

// The grant state's records that cross IGrantState and IRevocationState (the storage maps them to its tables).
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

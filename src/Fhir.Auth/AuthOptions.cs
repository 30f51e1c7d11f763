namespace FhirArchive.Auth;

/// <summary>
/// Settings under "Security". BaseUrl is the FHIR base URL: it is both the tokens' issuer and their audience
/// (taken from the request when not set; set it in production so a forged Host header cannot move it).
/// </summary>
public sealed class AuthOptions
{
    public bool Enabled { get; set; } = true;
    public string? BaseUrl { get; set; }
    /// <summary>RS256 (default) or ES256.</summary>
    public string SigningAlgorithm { get; set; } = "RS256";
    /// <summary>PEM private key file; generated on first start when missing (relative paths are under the data folder).</summary>
    public string KeyFile { get; set; } = "auth/signing-key.pem";
    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromMinutes(15);
    public TimeSpan RefreshTokenLifetime { get; set; } = TimeSpan.FromHours(8);
    public TimeSpan AuthorizationCodeLifetime { get; set; } = TimeSpan.FromSeconds(60);
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary>Lockout: this many failed logins within the window lock the account for the window.</summary>
    public int MaxFailedLogins { get; set; } = 5;
    public TimeSpan LockoutWindow { get; set; } = TimeSpan.FromMinutes(15);
    /// <summary>How stale the in-memory list of revoked token ids may get: a revocation made by another server
    /// instance on the same database is seen within this time (one made here counts at once).</summary>
    public TimeSpan RevocationRefreshInterval { get; set; } = TimeSpan.FromSeconds(2);
    /// <summary>How often expired codes, refresh tokens, revocations and old failed logins are deleted.</summary>
    public TimeSpan StateCleanupInterval { get; set; } = TimeSpan.FromMinutes(10);
    /// <summary>External OpenID Connect providers whose tokens are trusted as well as the server's own.</summary>
    public List<ExternalProviderOptions> External { get; set; } = [];
}

/// <summary>An external OpenID Connect provider: its issuer and keys (a JWKS file or URL, never fetched from the internet by the tests).</summary>
public sealed class ExternalProviderOptions
{
    public string Issuer { get; set; } = "";
    public string? JwksFile { get; set; }
    public string? JwksUrl { get; set; }
    /// <summary>The audience its tokens must carry (default: the FHIR base URL).</summary>
    public string? Audience { get; set; }
    /// <summary>The claim holding the server roles (default "roles").</summary>
    public string RoleClaim { get; set; } = "roles";
}

namespace FhirArchive.Auth;

/// <summary>
/// Settings under "Security". BaseUrl is the FHIR base URL: it is both the tokens' issuer and their audience
/// (taken from the request when not set; set it in production so a forged Host header cannot move it).
/// </summary>
public sealed class AuthOptions
{
    public bool Enabled { get; set; } = true;
    public string? BaseUrl { get; set; }
    /// <summary>RS256 (default), ES256, or SM2 (JWS alg "SM2SM3", a local name: see Keys.SigningKeys).</summary>
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
    /// <summary>Registered clients (besides the demo ones): backend systems with a key set or a secret, public apps.</summary>
    public List<ClientOptions> Clients { get; set; } = [];
}

/// <summary>
/// A registered client (Security:Clients:N). A backend system (SMART Backend Services, client_credentials) gives its
/// public key set for private_key_jwt, inline (<see cref="Jwks"/>) or in a file, and/or the PBKDF2 hash of a secret;
/// its roles bound what it may do (the scopes are cut to the roles' ceiling). A public app gives its redirect URIs only.
/// </summary>
public sealed class ClientOptions
{
    public string ClientId { get; set; } = "";
    public string? Name { get; set; }
    /// <summary>The client's public keys as a JWKS document (JSON text).</summary>
    public string? Jwks { get; set; }
    /// <summary>A JWKS file (relative paths are under the data folder).</summary>
    public string? JwksFile { get; set; }
    /// <summary>"pbkdf2-sha256$iterations$salt$hash" of the client secret (never the secret itself).</summary>
    public string? SecretHash { get; set; }
    public List<string> Roles { get; set; } = [];
    /// <summary>The scope ceiling (default: the roles' ceiling; never more).</summary>
    public List<string> Scopes { get; set; } = [];
    /// <summary>The purposes of use it may claim, the first the default (default: the roles').</summary>
    public List<string> PurposesOfUse { get; set; } = [];
    /// <summary>The institution it acts for ("Organization/..."), and a division code where the role needs one.</summary>
    public string? Organization { get; set; }
    public string? Jurisdiction { get; set; }
    public List<string> RedirectUris { get; set; } = [];
}

/// <summary>An external OpenID Connect provider: its issuer and keys (a JWKS file or URL, never fetched from the internet by the tests).</summary>
public sealed class ExternalProviderOptions
{
    public string Issuer { get; set; } = "";
    public string? JwksFile { get; set; }
    public string? JwksUrl { get; set; }
    /// <summary>The provider's OpenID Connect discovery document (…/.well-known/openid-configuration); its jwks_uri gives the keys.</summary>
    public string? MetadataUrl { get; set; }
    /// <summary>The audience its tokens must carry (default: the FHIR base URL).</summary>
    public string? Audience { get; set; }
    /// <summary>The claim holding the server roles (default "roles").</summary>
    public string RoleClaim { get; set; } = "roles";
}

using FhirArchive.Auth.Keys;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace FhirArchive.Auth.Tokens;

/// <summary>
/// Creates and validates the server's access tokens: signed JWTs (RS256/ES256/SM2SM3) whose issuer and audience are the
/// FHIR base URL. Validation also accepts tokens of configured external OpenID Connect providers, each only with
/// its own keys, and refuses revoked token ids.
/// </summary>
public sealed class TokenService(AuthOptions options, SigningKeys keys, ExternalProviders external, RevocationList revocations, TimeProvider clock)
{
    /// <summary>Asymmetric algorithms only: "none" and the HMAC family (HS256 keyed with a public key) never validate.</summary>
    public static readonly string[] AllowedAlgorithms =
        [SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384, SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.EcdsaSha384];

    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };

    public (string Token, DateTimeOffset ExpiresAt) CreateAccessToken(TokenPrincipal p, string baseUrl) =>
        Create(p, baseUrl, baseUrl, options.AccessTokenLifetime, idToken: false);

    /// <summary>An OpenID Connect id_token for the client (audience: the client id).</summary>
    public string CreateIdToken(TokenPrincipal p, string baseUrl, string clientId) =>
        Create(p, baseUrl, clientId, options.AccessTokenLifetime, idToken: true).Token;

    private (string Token, DateTimeOffset ExpiresAt) Create(TokenPrincipal p, string issuer, string audience, TimeSpan lifetime, bool idToken)
    {
        var now = clock.GetUtcNow();
        var expires = now + lifetime;
        var claims = new Dictionary<string, object>
        {
            ["sub"] = p.Subject,
            ["jti"] = Guid.NewGuid().ToString("N"),
            ["sub_kind"] = p.IsPerson ? "person" : "system",
        };
        void Put(string name, string? value) { if (value is not null) claims[name] = value; }
        Put("name", p.DisplayName);
        Put("fhirUser", p.FhirUser);
        if (!idToken)
        {
            claims["scope"] = string.Join(' ', p.Scopes);
            claims["roles"] = p.Roles.ToArray();
            Put("client_id", p.ClientId);
            Put("patient", p.Patient);
            Put("organization", p.Organization);
            Put("jurisdiction", p.Jurisdiction);
            Put("purpose_of_use", p.PurposeOfUse);
            // The authorisation the token was issued under: revoking it (refresh or code reuse, revocation of its
            // refresh token) revokes this token too.
            Put("grant_id", p.GrantId);
        }
        claims["iss"] = issuer;
        claims["aud"] = audience;
        claims["iat"] = now.ToUnixTimeSeconds();
        claims["nbf"] = now.ToUnixTimeSeconds();
        claims["exp"] = expires.ToUnixTimeSeconds();
        // System.Text.Json's default encoder writes non-ASCII (names in Chinese) as \u escapes: clients that decode
        // the payload as ASCII or Latin-1 (fhirclient's node adapter, browsers' atob) still read valid JSON.
        var payload = System.Text.Json.JsonSerializer.Serialize(claims);
        var header = new Dictionary<string, object> { ["typ"] = idToken ? "JWT" : "at+jwt" };
        return (_handler.CreateToken(payload, keys.Credentials, header), expires);
    }

    public sealed record Result(TokenPrincipal? Principal, string? Error)
    {
        public bool IsValid => Principal is not null;
    }

    public async Task<Result> ValidateAsync(string token, string baseUrl)
    {
        JsonWebToken parsed;
        string? issuer;
        try
        {
            // Parsed once: the unvalidated issuer picks the keys, then the handler validates the same object.
            parsed = new JsonWebToken(token);
            issuer = parsed.Issuer;
        }
        catch (Exception e) when (e is ArgumentException or SecurityTokenException)
        {
            return new(null, "malformed token");
        }
        var own = IsOwnIssuer(issuer, baseUrl);
        var provider = own ? null : external.Find(issuer);
        if (!own && provider is null)
            return new(null, $"untrusted issuer: expected {Printable(baseUrl)} (this server), presented {Printable(issuer)}; fetch the token from the base URL you call");
        IList<SecurityKey> signingKeys;
        try { signingKeys = own ? [keys.Key] : await external.KeysAsync(provider!); }
        catch (Exception e) when (e is InvalidOperationException or IOException or HttpRequestException or ArgumentException or UnauthorizedAccessException)
        {
            // The provider's keys cannot be had (unreachable, not HTTPS, not a key set): its tokens cannot be checked now.
            return new(null, "the issuer's signing keys are unavailable");
        }
        var parameters = new TokenValidationParameters
        {
            ValidIssuer = issuer,
            // The server's own tokens name their base URL as audience too (the issuer's, under a loopback alias).
            ValidAudience = own ? issuer : provider!.Audience ?? baseUrl,
            IssuerSigningKeys = signingKeys,
            // The server's own tokens carry its one algorithm (RS256, ES256 or SM2SM3): a header naming another is refused.
            ValidAlgorithms = own ? [keys.Algorithm] : AllowedAlgorithms,
            ClockSkew = options.ClockSkew,
            RequireExpirationTime = true,
            RequireSignedTokens = true,
            ValidateLifetime = true,
            ValidateIssuerSigningKey = true,
            LifetimeValidator = (nbf, exp, _, p) => Lifetime(nbf, exp, p.ClockSkew),
        };
        var result = await _handler.ValidateTokenAsync(parsed, parameters);
        // A key the provider's set lacks (rotated since it was fetched): the set is fetched again in the background
        // (at most every five minutes), so tokens under the new key validate once it is in — as with JwtBearer.
        if (!own && result.Exception is SecurityTokenSignatureKeyNotFoundException) external.RequestRefresh(provider!);
        if (!result.IsValid || result.SecurityToken is not JsonWebToken jwt)
            return new(null, Describe(result.Exception));
        var principal = ToPrincipal(jwt, own ? "roles" : provider!.RoleClaim, own);
        if (await revocations.IsRevokedAsync(principal)) return new(null, "token revoked");
        if (own && principal.TokenId is null) return new(null, "token has no jti");
        return new(principal, null);
    }

    /// <summary>
    /// Whether a token's issuer is this server, called at <paramref name="baseUrl"/>. With Security:BaseUrl set, only
    /// that URL. Without it (a development or demo server, whose base follows the request's host), also its loopback
    /// aliases: http://localhost:5000, http://127.0.0.1:5000 and http://[::1]:5000 (same scheme, port and path) reach
    /// one listener on one machine, and the token must still carry this server's own signature, so a token fetched
    /// under one name is not refused under another, and no other server's token gets in.
    /// </summary>
    public bool IsOwnIssuer(string? issuer, string baseUrl) => IsOwnIssuer(issuer, baseUrl, aliases: options.BaseUrl is null);

    /// <param name="aliases">Whether loopback aliases count (Security:BaseUrl not set).</param>
    public static bool IsOwnIssuer(string? issuer, string baseUrl, bool aliases) =>
        issuer == baseUrl || (aliases && issuer is not null && LoopbackAliases(issuer, baseUrl));

    private static bool LoopbackAliases(string a, string b) =>
        Uri.TryCreate(a, UriKind.Absolute, out var x) && Uri.TryCreate(b, UriKind.Absolute, out var y)
        && x.IsLoopback && y.IsLoopback && x.Scheme == y.Scheme && x.Port == y.Port
        && x.AbsolutePath.TrimEnd('/') == y.AbsolutePath.TrimEnd('/') && x.UserInfo.Length == 0 && x.Query.Length == 0 && x.Fragment.Length == 0;

    /// <summary>A presented value as it may be shown in an error (a WWW-Authenticate header included): printable ASCII, short.</summary>
    private static string Printable(string? value)
    {
        if (string.IsNullOrEmpty(value)) return "no issuer";
        var shown = new string([.. value.Take(200).Select(c => c is >= ' ' and <= '~' and not '"' and not '\\' ? c : '?')]);
        return value.Length > 200 ? shown + "..." : shown;
    }

    /// <summary>Lifetime against the injected clock (the handler's own check uses the wall clock).</summary>
    private bool Lifetime(DateTime? nbf, DateTime? exp, TimeSpan skew)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        if (exp is null || exp.Value.ToUniversalTime() + skew < now) throw new SecurityTokenExpiredException("token expired");
        if (nbf is not null && nbf.Value.ToUniversalTime() - skew > now) throw new SecurityTokenNotYetValidException("token not yet valid");
        return true;
    }

    private static string Describe(Exception? e) => e switch
    {
        SecurityTokenExpiredException => "token expired",
        SecurityTokenNotYetValidException => "token not yet valid",
        SecurityTokenInvalidAudienceException => "wrong audience",
        SecurityTokenInvalidIssuerException => "wrong issuer",
        SecurityTokenInvalidAlgorithmException => "algorithm not allowed",
        SecurityTokenSignatureKeyNotFoundException or SecurityTokenInvalidSignatureException => "invalid signature",
        SecurityTokenNoExpirationException => "token has no expiry",
        _ => "invalid token",
    };

    private static TokenPrincipal ToPrincipal(JsonWebToken jwt, string roleClaim, bool own)
    {
        string? S(string name) => jwt.TryGetPayloadValue<string>(name, out var v) ? v : null;
        List<string> Many(string name)
        {
            if (jwt.TryGetPayloadValue<List<string>>(name, out var list)) return list;
            return S(name) is { } one ? [.. one.Split(' ', StringSplitOptions.RemoveEmptyEntries)] : [];
        }
        var scopes = S("scope") is { } scope ? ScopeGrantSplit(scope) : Many("scp");
        return new TokenPrincipal(
            jwt.Subject, S("sub_kind") != "system", S("name"), Many(roleClaim), scopes, S("client_id") ?? S("azp"),
            S("organization"), S("fhirUser"), S("patient"), S("jurisdiction"), S("purpose_of_use"))
        {
            TokenId = jwt.Id is { Length: > 0 } id ? id : null,
            GrantId = own ? S("grant_id") : null,
            Issuer = jwt.Issuer,
            ExpiresAt = jwt.ValidTo == DateTime.MinValue ? null : new DateTimeOffset(jwt.ValidTo, TimeSpan.Zero),
            IssuedAt = jwt.IssuedAt == DateTime.MinValue ? null : new DateTimeOffset(jwt.IssuedAt, TimeSpan.Zero),
        };
    }

    private static List<string> ScopeGrantSplit(string scope) => [.. Scopes.ScopeGrant.Split(scope)];
}

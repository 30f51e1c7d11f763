using System.Security.Cryptography;
using System.Text;
using FhirArchive.Auth.Accounts;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace FhirArchive.Auth.Tokens;

/// <summary>
/// SMART Backend Services client authentication (private_key_jwt): a JWT signed with RS384 or ES384 by a key of
/// the client's registered JWKS, iss = sub = client_id, aud = the token endpoint, at most five minutes of life
/// (from now to exp, and from iat to exp when it says when it was made), and a jti never seen before.
/// </summary>
public sealed class ClientAssertions(GrantStore grants, TimeProvider clock)
{
    public const string AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    private static readonly string[] Algorithms = [SecurityAlgorithms.RsaSha384, SecurityAlgorithms.EcdsaSha384];
    private static readonly TimeSpan MaxLifetime = TimeSpan.FromMinutes(5), Skew = TimeSpan.FromSeconds(30);
    private readonly JsonWebTokenHandler _handler = new();

    /// <summary>The client, or the reason the assertion is refused.</summary>
    public async Task<(ClientRegistration? Client, string? Error)> ValidateAsync(string assertion, string tokenEndpoint, IAuthDirectory directory)
    {
        JsonWebToken unverified;
        try { unverified = new JsonWebToken(assertion); }
        catch (Exception e) when (e is ArgumentException or SecurityTokenException) { return (null, "malformed client assertion"); }
        var clientId = unverified.Issuer;
        if (string.IsNullOrEmpty(clientId) || unverified.Subject != clientId) return (null, "client assertion iss and sub must both be the client_id");
        if (directory.FindClient(clientId) is not { Jwks: { } jwks } client) return (null, "unknown client or no registered JWKS");
        var now = clock.GetUtcNow();
        var result = await _handler.ValidateTokenAsync(assertion, new TokenValidationParameters
        {
            ValidIssuer = clientId,
            ValidAudience = tokenEndpoint,
            IssuerSigningKeys = jwks.GetSigningKeys(),
            ValidAlgorithms = Algorithms,
            RequireExpirationTime = true,
            RequireSignedTokens = true,
            ClockSkew = Skew,
            LifetimeValidator = (_, exp, _, _) => exp is { } e && e.ToUniversalTime() > now.UtcDateTime - Skew,
        });
        if (!result.IsValid) return (null, "client assertion rejected: " + (result.Exception?.GetType().Name ?? "invalid"));
        var jwt = (JsonWebToken)result.SecurityToken;
        var expires = new DateTimeOffset(jwt.ValidTo, TimeSpan.Zero);
        if (expires > now + MaxLifetime + Skew) return (null, "client assertion lives longer than five minutes");
        if (jwt.IssuedAt != DateTime.MinValue && expires - new DateTimeOffset(jwt.IssuedAt, TimeSpan.Zero) > MaxLifetime)
            return (null, "client assertion lives longer than five minutes (exp - iat)");
        if (string.IsNullOrEmpty(jwt.Id)) return (null, "client assertion has no jti");
        // Remembered as long as the assertion is accepted at all: its expiry plus the clock skew.
        if (!await grants.UseAssertionIdAsync(clientId, jwt.Id, expires + Skew)) return (null, "client assertion jti already used");
        return (client, null);
    }
}

/// <summary>PKCE (RFC 7636), S256 only.</summary>
public static class Pkce
{
    public static bool IsValidVerifier(string? v) =>
        v is { Length: >= 43 and <= 128 } && v.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '~');

    public static string Challenge(string verifier) => Base64UrlEncoder.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));

    public static bool Matches(string? verifier, string challenge) =>
        IsValidVerifier(verifier) && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Challenge(verifier!)), Encoding.ASCII.GetBytes(challenge));
}

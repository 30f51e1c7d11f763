using System.Net;
using System.Security.Cryptography;
using System.Text;
using FhirArchive.Auth.Keys;
using FhirArchive.Crypto;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Auth.Tests;

/// <summary>The server with Security:SigningAlgorithm=SM2: its tokens are JWS SM2SM3.</summary>
public sealed class Sm2SecurityFixture() : SecurityFixture(new Dictionary<string, string> { ["Security:SigningAlgorithm"] = "SM2" });

/// <summary>
/// SM2 access tokens (Security:SigningAlgorithm=SM2): issued, published in the JWKS and accepted by the server
/// itself; a token of another key, or whose header names another algorithm than SM2SM3 (RS256, ES256, HS256, none)
/// with the server's SM2 key id, is refused.
/// </summary>
public sealed class Sm2TokenTests(Sm2SecurityFixture fx) : IClassFixture<Sm2SecurityFixture>
{
    private static async Task AssertRefused(HttpResponseMessage r)
    {
        Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
        Assert.Contains("error=\"invalid_token\"", r.Headers.WwwAuthenticate.ToString());
        AssertOutcome(await r.JsonAsync());
    }

    private static string B64(string json) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(json));

    /// <summary>A token with the server's claims, key id and the header and signature given.</summary>
    private string Token(string alg, Func<byte[], byte[]> sign, string? kid = null)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = B64($$"""{"alg":"{{alg}}","kid":"{{kid ?? fx.Service<SigningKeys>().KeyId}}","typ":"at+jwt"}""");
        var payload = B64($$"""{"sub":"forged","jti":"{{Guid.NewGuid():N}}","sub_kind":"system","scope":"system/*.rs","roles":["system"],"iss":"{{SecurityFixture.BaseUrl}}","aud":"{{SecurityFixture.BaseUrl}}","iat":{{now}},"nbf":{{now}},"exp":{{now + 300}}}""");
        var input = Encoding.ASCII.GetBytes(header + "." + payload);
        return header + "." + payload + "." + Base64UrlEncoder.Encode(sign(input));
    }

    private Sm2Key ServerKey => ((Sm2SecurityKey)fx.Service<SigningKeys>().Key).Sm2;

    [FhirFact]
    public async Task A_token_from_the_token_endpoint_is_signed_SM2SM3_and_accepted()
    {
        var r = await fx.TokenRequestAsync(new() { ["grant_type"] = "client_credentials", ["client_id"] = "chaoyang-his", ["client_secret"] = "chaoyang-his-secret-2024", ["scope"] = "system/Patient.rs" });
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var token = (await r.JsonAsync()).GetProperty("access_token").GetString()!;
        var jwt = new JsonWebToken(token);
        Assert.Equal("SM2SM3", jwt.Alg);
        Assert.Equal(ServerKey.KeyId(), jwt.Kid);
        // The signature is the server's SM2 key's, r ‖ s over the JWS signing input: checkable without IdentityModel.
        var parts = token.Split('.');
        Assert.True(ServerKey.Verify(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), Base64UrlEncoder.DecodeBytes(parts[2]), Sm2SignatureFormat.Raw));
        Assert.Equal(HttpStatusCode.OK, (await fx.With(token).GetAsync("/Patient/zhang-wei")).StatusCode);
        // A token made here the same way is accepted too (the test's own forger is sound).
        Assert.Equal(HttpStatusCode.OK, (await fx.With(Token("SM2SM3", input => ServerKey.Sign(input, Sm2SignatureFormat.Raw))).GetAsync("/Patient/zhang-wei")).StatusCode);
    }

    [FhirFact]
    public async Task The_JWKS_publishes_the_SM2_public_key_under_a_local_curve_name()
    {
        var jwks = await (await fx.Bare().GetAsync("/auth/jwks")).JsonAsync();
        var key = Assert.Single(jwks.GetProperty("keys").EnumerateArray());
        Assert.Equal("EC", key.GetProperty("kty").GetString());
        Assert.Equal("SM2", key.GetProperty("crv").GetString());
        Assert.Equal("SM2SM3", key.GetProperty("alg").GetString());
        Assert.Equal("sig", key.GetProperty("use").GetString());
        Assert.Equal(ServerKey.KeyId(), key.GetProperty("kid").GetString());
        Assert.False(key.TryGetProperty("d", out _), "the JWKS must not publish the private key");
        // x and y are the public point: the key rebuilt from them verifies the server's signature.
        var point = new byte[] { 4 }.Concat(Base64UrlEncoder.DecodeBytes(key.GetProperty("x").GetString()!)).Concat(Base64UrlEncoder.DecodeBytes(key.GetProperty("y").GetString()!)).ToArray();
        Assert.True(Sm2Key.FromPublicPoint(point).Verify("x"u8, ServerKey.Sign("x"u8)));
    }

    [FhirFact]
    public async Task A_token_signed_by_another_SM2_key_is_refused_even_under_the_servers_key_id()
    {
        var other = Sm2Key.Generate();
        await AssertRefused(await fx.With(Token("SM2SM3", input => other.Sign(input, Sm2SignatureFormat.Raw))).GetAsync("/Patient/zhang-wei"));
        await AssertRefused(await fx.With(Token("SM2SM3", input => other.Sign(input, Sm2SignatureFormat.Raw), kid: other.KeyId())).GetAsync("/Patient/zhang-wei"));
        // The server's signature, DER-encoded instead of r ‖ s, or cut short.
        await AssertRefused(await fx.With(Token("SM2SM3", input => ServerKey.Sign(input))).GetAsync("/Patient/zhang-wei"));
        await AssertRefused(await fx.With(Token("SM2SM3", input => ServerKey.Sign(input, Sm2SignatureFormat.Raw)[..63])).GetAsync("/Patient/zhang-wei"));
    }

    [FhirFact]
    public async Task A_header_naming_another_algorithm_with_the_SM2_key_is_refused()
    {
        var sm2 = (byte[] input) => ServerKey.Sign(input, Sm2SignatureFormat.Raw);
        // The SM2 signature under another name.
        foreach (var alg in new[] { "RS256", "ES256", "ES384", "PS256" })
            await AssertRefused(await fx.With(Token(alg, sm2)).GetAsync("/Patient/zhang-wei"));
        // none: no signature at all.
        await AssertRefused(await fx.With(Token("none", _ => [])).GetAsync("/Patient/zhang-wei"));
        // HS256 keyed with what an attacker knows of the key: its public point, or its PEM.
        foreach (var secret in new[] { ServerKey.PublicPoint(), Encoding.ASCII.GetBytes(ServerKey.PublicKeyPem()) })
            await AssertRefused(await fx.With(Token("HS256", input => HMACSHA256.HashData(secret, input))).GetAsync("/Patient/zhang-wei"));
        // A real ES256 signature by a P-256 key presented under the server's key id.
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        await AssertRefused(await fx.With(Token("ES256", input => ec.SignData(input, HashAlgorithmName.SHA256))).GetAsync("/Patient/zhang-wei"));
    }
}

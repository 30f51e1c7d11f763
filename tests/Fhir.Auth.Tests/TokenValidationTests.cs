using System.Net;
using System.Security.Cryptography;
using System.Text;
using FhirArchive.Auth.Keys;
using Microsoft.IdentityModel.Tokens;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Auth.Tests;

/// <summary>Nothing answers without a valid token: missing, expired, not yet valid, forged, misdirected and revoked tokens are 401s.</summary>
public abstract class TokenValidationTestsBase<TFixture>(TFixture fx) where TFixture : SecurityFixture
{
    private static async Task AssertUnauthorized(HttpResponseMessage r, string? error = "invalid_token", string? why = null)
    {
        Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
        var challenge = r.Headers.WwwAuthenticate.ToString();
        Assert.StartsWith("Bearer", challenge);
        if (error is not null) Assert.Contains($"error=\"{error}\"", challenge);
        if (why is not null) Assert.Contains(why, challenge);
        AssertOutcome(await r.JsonAsync());
    }

    [FhirFact]
    public async Task Every_fhir_endpoint_needs_a_token()
    {
        var c = fx.Bare();
        foreach (var url in new[] { "/Patient/zhang-wei", "/Patient", "/Observation?subject=Patient/zhang-wei", "/_history", "/Patient/zhang-wei/_history",
                     "/Patient/zhang-wei/Observation", "/CodeSystem/$lookup?system=http://loinc.org&code=8480-6", "/", "/Patient/zhang-wei/_history/1" })
            await AssertUnauthorized(await c.GetAsync(url), error: null);
        await AssertUnauthorized(await c.PostAsync("/Patient", Body("""{"resourceType":"Patient"}""")), error: null);
        await AssertUnauthorized(await c.PutAsync("/Patient/zhang-wei", Body("""{"resourceType":"Patient","id":"zhang-wei"}""")), error: null);
        await AssertUnauthorized(await c.DeleteAsync("/Patient/zhang-wei"), error: null);
        await AssertUnauthorized(await c.PostAsync("/", Body("""{"resourceType":"Bundle","type":"batch"}""")), error: null);
        await AssertUnauthorized(await c.SendAsync(HttpMethod.Patch, "/Patient/zhang-wei", "[]"), error: null);
        await AssertUnauthorized(await c.GetAsync("/Patient/zhang-wei"), error: null);
        var notBearer = new HttpRequestMessage(HttpMethod.Get, "/Patient/zhang-wei");
        notBearer.Headers.TryAddWithoutValidation("Authorization", "Basic Zm9vOmJhcg==");
        await AssertUnauthorized(await c.SendAsync(notBearer), error: null);
        // Still unchanged: the refused writes did nothing.
        Assert.Equal(HttpStatusCode.OK, (await fx.Client.GetAsync("/Patient/zhang-wei")).StatusCode);
    }

    [FhirFact]
    public async Task Discovery_metadata_health_and_swagger_are_open()
    {
        var c = fx.Bare();
        var smart = await (await c.GetAsync("/.well-known/smart-configuration")).JsonAsync();
        Assert.Equal(SecurityFixture.TokenEndpoint, smart.GetProperty("token_endpoint").GetString());
        Assert.Contains(smart.GetProperty("code_challenge_methods_supported").EnumerateArray(), x => x.GetString() == "S256");
        Assert.Contains(smart.GetProperty("capabilities").EnumerateArray(), x => x.GetString() == "permission-v2");
        var jwks = await (await c.GetAsync("/auth/jwks")).JsonAsync();
        var key = jwks.GetProperty("keys")[0];
        Assert.Equal(fx.Service<SigningKeys>().KeyId, key.GetProperty("kid").GetString());
        Assert.False(key.TryGetProperty("d", out _), "the JWKS must not publish the private key");
        Assert.Equal(HttpStatusCode.OK, (await c.GetAsync("/health")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await c.GetAsync("/swagger/index.html")).StatusCode);
        var swagger = await (await c.GetAsync("/swagger/v1/swagger.json")).Content.ReadAsStringAsync();
        Assert.Contains("\"bearer\"", swagger);
        var cs = await (await c.GetAsync("/metadata")).JsonAsync();
        var security = cs.GetProperty("rest")[0].GetProperty("security");
        Assert.Equal("SMART-on-FHIR", security.GetProperty("service")[0].GetProperty("coding")[0].GetProperty("code").GetString());
        var uris = security.GetProperty("extension")[0];
        Assert.Equal("http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris", uris.GetProperty("url").GetString());
        Assert.Contains(uris.GetProperty("extension").EnumerateArray(), e => e.GetProperty("url").GetString() == "token" && e.GetProperty("valueUri").GetString() == SecurityFixture.TokenEndpoint);
    }

    [FhirFact]
    public async Task Expired_and_not_yet_valid_tokens_are_refused_within_a_small_clock_skew()
    {
        var now = DateTime.UtcNow;
        await AssertUnauthorized(await fx.With(fx.Craft(d => { d.IssuedAt = now.AddMinutes(-20); d.NotBefore = now.AddMinutes(-20); d.Expires = now.AddMinutes(-2); })).GetAsync("/Patient/zhang-wei"), why: "expired");
        await AssertUnauthorized(await fx.With(fx.Craft(d => { d.NotBefore = now.AddMinutes(3); d.Expires = now.AddMinutes(10); })).GetAsync("/Patient/zhang-wei"), why: "not yet valid");
        await AssertUnauthorized(await fx.With(fx.Craft(d => d.Expires = null)).GetAsync("/Patient/zhang-wei"));
        // Ten seconds past expiry is within the 30-second skew.
        Assert.Equal(HttpStatusCode.OK, (await fx.With(fx.Craft(d => { d.IssuedAt = now.AddMinutes(-5); d.NotBefore = now.AddMinutes(-5); d.Expires = now.AddSeconds(-10); })).GetAsync("/Patient/zhang-wei")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await fx.With(fx.Craft(_ => { })).GetAsync("/Patient/zhang-wei")).StatusCode);
    }

    [FhirFact]
    public async Task Forged_tokens_are_refused()
    {
        var keys = fx.Service<SigningKeys>();
        // Another key under the server's key id.
        using var other = RSA.Create(2048);
        var wrongKey = fx.Craft(_ => { }, new SigningCredentials(new RsaSecurityKey(other) { KeyId = keys.KeyId }, "RS256"));
        await AssertUnauthorized(await fx.With(wrongKey).GetAsync("/Patient/zhang-wei"), why: "signature");

        // alg "none": a valid payload with no signature.
        var good = fx.Craft(_ => { }).Split('.');
        static string B64(string s) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(s));
        await AssertUnauthorized(await fx.With($"{B64("{\"alg\":\"none\",\"typ\":\"JWT\"}")}.{good[1]}.").GetAsync("/Patient/zhang-wei"));
        await AssertUnauthorized(await fx.With($"{B64("{\"alg\":\"none\",\"typ\":\"JWT\"}")}.{good[1]}.{good[2]}").GetAsync("/Patient/zhang-wei"));

        // HS256 keyed with the public key (the classic algorithm-confusion attack): with the JWKS modulus and with the PEM.
        var pub = ((RsaSecurityKey)keys.Key).Rsa.ExportSubjectPublicKeyInfoPem();
        foreach (var secret in new[] { Encoding.UTF8.GetBytes(pub), Base64UrlEncoder.DecodeBytes(System.Text.Json.JsonDocument.Parse(keys.JwksJson).RootElement.GetProperty("keys")[0].GetProperty("n").GetString()!) })
        {
            var hs = fx.Craft(_ => { }, new SigningCredentials(new SymmetricSecurityKey(secret) { KeyId = keys.KeyId }, SecurityAlgorithms.HmacSha256));
            await AssertUnauthorized(await fx.With(hs).GetAsync("/Patient/zhang-wei"));
        }
        // A changed payload breaks the signature.
        var tampered = B64(Encoding.UTF8.GetString(Base64UrlEncoder.DecodeBytes(good[1])).Replace("system/*.rs", "system/*.cruds"));
        await AssertUnauthorized(await fx.With($"{good[0]}.{tampered}.{good[2]}").GetAsync("/Patient/zhang-wei"), why: "signature");
        await AssertUnauthorized(await fx.With("not-a-jwt").GetAsync("/Patient/zhang-wei"), why: "malformed");
    }

    [FhirFact]
    public async Task Wrong_audience_or_issuer_is_refused()
    {
        await AssertUnauthorized(await fx.With(fx.Craft(d => d.Audience = "http://other-server/fhir")).GetAsync("/Patient/zhang-wei"), why: "audience");
        await AssertUnauthorized(await fx.With(fx.Craft(d => d.Audience = null)).GetAsync("/Patient/zhang-wei"));
        await AssertUnauthorized(await fx.With(fx.Craft(d => d.Issuer = "http://evil.example")).GetAsync("/Patient/zhang-wei"), why: "issuer");
        // The external provider's issuer with the server's key, and the server's issuer with the provider's key: keys are bound to their issuer.
        await AssertUnauthorized(await fx.With(fx.Craft(d => d.Issuer = SecurityFixture.ExternalIssuer)).GetAsync("/Patient/zhang-wei"), why: "signature");
        var ext = new SigningCredentials(new RsaSecurityKey(SecurityFixture.ExternalKey) { KeyId = "ext-1" }, "RS256");
        await AssertUnauthorized(await fx.With(fx.Craft(_ => { }, ext)).GetAsync("/Patient/zhang-wei"), why: "signature");
    }

    [FhirFact]
    public async Task A_token_of_another_base_URL_is_refused_naming_the_issuer_expected_and_the_one_presented()
    {
        const string elsewhere = "http://fhir.example.cn:5000";
        var r = await fx.With(fx.Craft(d => d.Issuer = d.Audience = elsewhere)).GetAsync("/Patient/zhang-wei");
        var said = $"untrusted issuer: expected {SecurityFixture.BaseUrl} (this server), presented {elsewhere}";
        await AssertUnauthorized(r, why: said);
        Assert.Contains(said, (await r.JsonAsync()).GetProperty("issue")[0].GetProperty("diagnostics").GetString());
        // What the token claims is shown as printable ASCII only: the challenge header stays valid (a 401, not a 500).
        await AssertUnauthorized(await fx.With(fx.Craft(d => d.Issuer = "http://医院.example\r\nX-Evil: \"1\"")).GetAsync("/Patient/zhang-wei"),
            why: "presented http://??.example??X-Evil: ?1?");
    }

    [FhirFact]
    public async Task A_token_of_a_loopback_alias_of_this_server_is_its_own()
    {
        // The fixture's base is http://localhost (no Security:BaseUrl): 127.0.0.1 and [::1] on the same port name the same listener.
        foreach (var alias in new[] { "http://127.0.0.1", "http://[::1]" })
            Assert.Equal(HttpStatusCode.OK, (await fx.With(fx.Craft(d => d.Issuer = d.Audience = alias)).GetAsync("/Patient/zhang-wei")).StatusCode);
        await AssertUnauthorized(await fx.With(fx.Craft(d => d.Issuer = d.Audience = "http://127.0.0.1:5000")).GetAsync("/Patient/zhang-wei"), why: "untrusted issuer");
        await AssertUnauthorized(await fx.With(fx.Craft(d => d.Issuer = d.Audience = "https://127.0.0.1")).GetAsync("/Patient/zhang-wei"), why: "untrusted issuer");
    }

    [FhirFact]
    public async Task An_external_openid_provider_is_trusted_with_its_own_keys_but_cannot_make_anyone_the_server()
    {
        var ext = new SigningCredentials(new RsaSecurityKey(SecurityFixture.ExternalKey) { KeyId = "ext-1" }, "RS256");
        string Token(string role, string scope) => fx.Craft(d =>
        {
            d.Issuer = SecurityFixture.ExternalIssuer;
            d.Claims = new Dictionary<string, object> { ["sub"] = "ext-user", ["scope"] = scope, ["roles"] = new[] { role } };
        }, ext);
        Assert.Equal(HttpStatusCode.OK, (await fx.With(Token("clinician", "user/*.rs")).GetAsync("/Patient/zhang-wei")).StatusCode);
        // Roles are the server's: "server" from outside is dropped, leaving no role that may read.
        Assert.Equal(HttpStatusCode.Forbidden, (await fx.With(Token("server", "user/*.cruds")).GetAsync("/Patient/zhang-wei")).StatusCode);
        // A researcher's role does not write, whatever the token's scopes say.
        var r = await fx.With(Token("researcher", "user/*.cruds")).PostAsync("/Patient", Body("""{"resourceType":"Patient"}"""));
        Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
        AssertOutcome(await r.JsonAsync(), "role");
    }

    [FhirFact]
    public async Task Revoked_access_tokens_are_refused_and_introspection_says_so()
    {
        var t = await fx.TokenRequestAsync(new() { ["grant_type"] = "client_credentials", ["client_id"] = "chaoyang-his", ["client_secret"] = "chaoyang-his-secret-2024", ["scope"] = "system/*.rs" });
        Assert.Equal(HttpStatusCode.OK, t.StatusCode);
        var token = (await t.JsonAsync()).GetProperty("access_token").GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await fx.With(token).GetAsync("/Patient/zhang-wei")).StatusCode);

        var basic = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("chaoyang-his:chaoyang-his-secret-2024")));
        async Task<System.Text.Json.JsonElement> Introspect()
        {
            var req = new HttpRequestMessage(HttpMethod.Post, "/auth/introspect") { Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = token }) };
            req.Headers.Authorization = basic;
            var r = await fx.Bare().SendAsync(req);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            return await r.JsonAsync();
        }
        var active = await Introspect();
        Assert.True(active.GetProperty("active").GetBoolean());
        Assert.Equal("chaoyang-his", active.GetProperty("client_id").GetString());
        Assert.Equal("system/*.rs", active.GetProperty("scope").GetString());

        var revoke = new HttpRequestMessage(HttpMethod.Post, "/auth/revoke") { Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = token }) };
        revoke.Headers.Authorization = basic;
        Assert.Equal(HttpStatusCode.OK, (await fx.Bare().SendAsync(revoke)).StatusCode);
        await AssertUnauthorized(await fx.With(token).GetAsync("/Patient/zhang-wei"), why: "revoked");
        Assert.False((await Introspect()).GetProperty("active").GetBoolean());

        // Introspection is for authenticated confidential clients only.
        var anonymous = await fx.Bare().PostAsync("/auth/introspect", new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = token, ["client_id"] = SecurityFixture.TestApp }));
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }
}

public sealed class TokenValidationTests(SecurityFixture fx) : TokenValidationTestsBase<SecurityFixture>(fx), IClassFixture<SecurityFixture>;

public sealed class PostgresTokenValidationTests(PostgresSecurityFixture fx) : TokenValidationTestsBase<PostgresSecurityFixture>(fx), IClassFixture<PostgresSecurityFixture>;

/// <summary>Which issuers are the server's own: its base URL, and its loopback aliases only while Security:BaseUrl is not set.</summary>
public sealed class OwnIssuerTests
{
    [Theory]
    [InlineData("http://127.0.0.1:5000", "http://127.0.0.1:5000", true, true)]
    [InlineData("http://localhost:5000", "http://127.0.0.1:5000", true, true)]
    [InlineData("http://[::1]:5000/", "http://localhost:5000", true, true)]
    [InlineData("http://localhost:5000", "http://127.0.0.1:5000", false, false)] // Security:BaseUrl set: that URL only
    [InlineData("http://localhost:5001", "http://127.0.0.1:5000", true, false)] // another port, another server
    [InlineData("https://localhost:5000", "http://127.0.0.1:5000", true, false)]
    [InlineData("http://localhost:5000/fhir", "http://127.0.0.1:5000", true, false)]
    [InlineData("http://192.168.1.20:5000", "http://127.0.0.1:5000", true, false)] // the LAN address is not a loopback name
    [InlineData("http://user@localhost:5000", "http://127.0.0.1:5000", true, false)]
    [InlineData(null, "http://127.0.0.1:5000", true, false)]
    public void Own_issuer(string? issuer, string baseUrl, bool aliases, bool own) =>
        Assert.Equal(own, FhirArchive.Auth.Tokens.TokenService.IsOwnIssuer(issuer, baseUrl, aliases));
}

using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using FhirArchive.Auth;
using FhirArchive.Auth.Accounts;
using FhirArchive.Auth.Tokens;
using FhirArchive.Rest.Access;
using FhirArchive.Server.SampleData;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Xunit;
using static FhirArchive.Tests.Support.Http;
using Xunit.Abstractions;

namespace FhirArchive.Auth.Tests;

/// <summary>The security suites' server plus a backend client registered in configuration (ES384 key set in a file).</summary>
public sealed class SignInFixture() : SecurityFixture(new Dictionary<string, string>
{
    ["Security:Clients:0:ClientId"] = BackendClient,
    ["Security:Clients:0:Name"] = "Backend HIS",
    ["Security:Clients:0:JwksFile"] = BackendJwksFile,
    ["Security:Clients:0:Roles:0"] = Roles.SystemClient,
    // user/*.rs is outside the system role's ceiling: cut at registration.
    ["Security:Clients:0:Scopes:0"] = "system/*.rs",
    ["Security:Clients:0:Scopes:1"] = "user/*.rs",
    ["Security:Clients:0:Organization"] = DemoAccounts.Hospital,
})
{
    public const string BackendClient = "backend-his";
    public static readonly ECDsa BackendKey = ECDsa.Create(ECCurve.NamedCurves.nistP384);
    private static readonly string BackendJwksFile = WriteBackendJwks();

    public static string EcJwks(ECDsa key, string kid, bool withPrivate = false)
    {
        var p = key.ExportParameters(withPrivate);
        var jwk = new Dictionary<string, string> { ["kty"] = "EC", ["crv"] = "P-384", ["kid"] = kid, ["use"] = "sig", ["alg"] = "ES384", ["x"] = Base64UrlEncoder.Encode(p.Q.X), ["y"] = Base64UrlEncoder.Encode(p.Q.Y) };
        if (withPrivate) jwk["d"] = Base64UrlEncoder.Encode(p.D);
        return JsonSerializer.Serialize(new { keys = new[] { jwk } });
    }

    private static string WriteBackendJwks()
    {
        var file = Path.Combine(Path.GetTempPath(), $"fhirarchive-test-backend-jwks-{Guid.NewGuid():N}.json");
        File.WriteAllText(file, EcJwks(BackendKey, "backend-1"));
        AppDomain.CurrentDomain.ProcessExit += (_, _) => File.Delete(file);
        return file;
    }

    /// <summary>A Backend Services client assertion; every claim can be bent (null leaves it out).</summary>
    public static string BackendAssertion(DateTime? expires = null, DateTime? issuedAt = null, string? jti = null, string iss = BackendClient,
        string sub = BackendClient, string aud = TokenEndpoint, ECDsa? key = null)
    {
        var now = DateTime.UtcNow;
        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = iss, Audience = aud, Expires = expires ?? now.AddMinutes(4), IssuedAt = issuedAt ?? now,
            Claims = new Dictionary<string, object> { ["sub"] = sub, ["jti"] = jti ?? Guid.NewGuid().ToString("N") },
            SigningCredentials = new SigningCredentials(new ECDsaSecurityKey(key ?? BackendKey) { KeyId = "backend-1" }, "ES384"),
        });
    }
}

/// <summary>
/// The sign-in findings of the attack on the authorisation server: account enumeration by timing, clickjacking of the
/// login page, the Basic challenge on a failed client authentication, code and refresh reuse and refresh-token
/// revocation ending the grant's access tokens, backend clients registered with a key set (private_key_jwt).
/// </summary>
public sealed class SignInHardeningTests(SignInFixture fx, ITestOutputHelper output) : IClassFixture<SignInFixture>
{
    // ---- account enumeration by timing ----

    private const int Tries = 20;

    [FhirFact]
    public async Task An_unknown_username_takes_as_long_as_a_wrong_password_for_a_known_one()
    {
        // Known accounts with a hash at the real cost (one account per try: the lockout stays out of the way).
        var hash = PasswordHasher.Hash("right-" + Guid.NewGuid().ToString("N"));
        var known = Enumerable.Range(0, Tries).Select(_ => fx.NewUser(Roles.Clinician, passwordHash: hash).User).ToList();
        var unknown = Enumerable.Range(0, Tries).Select(i => $"nobody-{Guid.NewGuid():N}").ToList();
        var form = await fx.LoginFormAsync("user/*.rs", SecurityFixture.NewPkce().Challenge);
        async Task<double> Attempt(string user)
        {
            var fields = new Dictionary<string, string>(form) { ["username"] = user, ["password"] = "wrong-password", ["otp"] = "123456" };
            var c = fx.Bare();
            var watch = Stopwatch.StartNew();
            var r = await c.PostAsync("/auth/authorize", new FormUrlEncodedContent(fields));
            watch.Stop();
            Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
            return watch.Elapsed.TotalMilliseconds;
        }
        // Warm-up (first use of each path), not counted.
        await Attempt(fx.NewUser(Roles.Clinician, passwordHash: hash).User);
        await Attempt("nobody-warm-up");
        var (knownTimes, unknownTimes) = (new List<double>(), new List<double>());
        for (var i = 0; i < Tries; i++)
        {
            knownTimes.Add(await Attempt(known[i]));
            unknownTimes.Add(await Attempt(unknown[i]));
        }
        static double Median(List<double> xs) => xs.Order().Skip(xs.Count / 2 - 1).Take(2).Average();
        var (k, u) = (Median(knownTimes), Median(unknownTimes));
        output.WriteLine($"median over {Tries} interleaved tries: known user, wrong password {k:F1} ms; unknown user {u:F1} ms; ratio {k / u:F2}");
        Assert.True(k / u < 2 && u / k < 2, $"known {k:F1} ms vs unknown {u:F1} ms");
    }

    [FhirFact]
    public async Task A_locked_account_costs_a_password_verification_too()
    {
        var hash = PasswordHasher.Hash("right-" + Guid.NewGuid().ToString("N"));
        var (user, _, _) = fx.NewUser(Roles.Clinician, passwordHash: hash);
        var form = await fx.LoginFormAsync("user/*.rs", SecurityFixture.NewPkce().Challenge);
        async Task<(double Ms, string Page)> Attempt(string name)
        {
            var watch = Stopwatch.StartNew();
            var r = await fx.Bare().PostAsync("/auth/authorize", new FormUrlEncodedContent(new Dictionary<string, string>(form) { ["username"] = name, ["password"] = "wrong" }));
            watch.Stop();
            Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
            return (watch.Elapsed.TotalMilliseconds, await r.Content.ReadAsStringAsync());
        }
        for (var i = 0; i < 5; i++) await Attempt(user);
        var locked = new List<double>();
        var wrong = new List<double>();
        for (var i = 0; i < 5; i++)
        {
            var (ms, page) = await Attempt(user);
            Assert.Contains("locked", page);
            locked.Add(ms);
            wrong.Add((await Attempt(fx.NewUser(Roles.Clinician, passwordHash: hash).User)).Ms);
        }
        var (l, w) = (locked.Order().ElementAt(2), wrong.Order().ElementAt(2));
        output.WriteLine($"median of 5: locked account {l:F1} ms, wrong password {w:F1} ms");
        Assert.True(l / w > 0.5, $"locked {l:F1} ms vs wrong password {w:F1} ms");
    }

    // ---- clickjacking: the login page ----

    private static void AssertPageHeaders(HttpResponseMessage r, bool withRedirectOrigin = true)
    {
        Assert.Equal("DENY", string.Join(",", r.Headers.GetValues("X-Frame-Options")));
        var csp = string.Join(",", r.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("frame-ancestors 'none'", csp);
        Assert.Contains("default-src 'none'", csp);
        Assert.Contains("base-uri 'none'", csp);
        Assert.DoesNotContain("unsafe-inline", csp);
        Assert.DoesNotContain("script-src", csp);
        Assert.Contains(withRedirectOrigin ? "form-action 'self' http://127.0.0.1;" : "form-action 'self';", csp);
        Assert.True(r.Headers.CacheControl?.NoStore, "Cache-Control: no-store");
        Assert.Equal("no-referrer", string.Join(",", r.Headers.GetValues("Referrer-Policy")));
        Assert.Equal("nosniff", string.Join(",", r.Headers.GetValues("X-Content-Type-Options")));
    }

    [FhirFact]
    public async Task The_login_page_may_not_be_framed_or_stored_and_runs_only_its_own_style()
    {
        var (_, challenge) = SecurityFixture.NewPkce();
        var page = await fx.Bare().GetAsync(SecurityFixture.AuthorizeQuery("user/*.rs", challenge));
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        AssertPageHeaders(page);
        // The inline style is allowed by its hash; there is no script at all.
        var html = await page.Content.ReadAsStringAsync();
        Assert.DoesNotContain("<script", html);
        var style = html[(html.IndexOf("<style>", StringComparison.Ordinal) + 7)..html.IndexOf("</style>", StringComparison.Ordinal)];
        var csp = page.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains($"style-src 'sha256-{Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(style)))}'", csp);

        // An unknown client's error page: the same, without the (unverified) redirect origin.
        AssertPageHeaders(await fx.Bare().GetAsync(SecurityFixture.AuthorizeQuery("user/*.rs", challenge, client: "nobody")), withRedirectOrigin: false);
        // The page's answers: a wrong password (the page again) and a success (the redirect carrying the code).
        var (user, password, totp) = fx.NewUser(Roles.Clinician);
        var wrong = await fx.PostLoginAsync("user/*.rs", challenge, user, "wrong", null);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        AssertPageHeaders(wrong);
        var ok = await fx.PostLoginAsync("user/*.rs", challenge, user, password, Totp.Compute(totp, DateTimeOffset.UtcNow));
        Assert.Equal(HttpStatusCode.Redirect, ok.StatusCode);
        AssertPageHeaders(ok);
    }

    // ---- RFC 6749 §5.2: the Basic challenge ----

    [FhirFact]
    public async Task A_failed_basic_client_authentication_is_challenged_for_basic()
    {
        async Task<HttpResponseMessage> Post(string path, string id, string secret, Dictionary<string, string> form)
        {
            var req = new HttpRequestMessage(HttpMethod.Post, path) { Content = new FormUrlEncodedContent(form) };
            req.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{id}:{secret}")));
            return await fx.Bare().SendAsync(req);
        }
        var cc = new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["scope"] = "system/*.rs" };
        foreach (var r in new[]
                 {
                     await Post("/auth/token", DemoAccounts.HospitalClient, "wrong-secret", cc),
                     await Post("/auth/token", "no-such-client", "x", cc),
                     await Post("/auth/introspect", DemoAccounts.HospitalClient, "wrong-secret", new() { ["token"] = "x" }),
                     await Post("/auth/revoke", DemoAccounts.HospitalClient, "wrong-secret", new() { ["token"] = "x" }),
                 })
        {
            Assert.Equal("invalid_client", await OAuthError(r, HttpStatusCode.Unauthorized));
            var challenge = Assert.Single(r.Headers.WwwAuthenticate);
            Assert.Equal("Basic", challenge.Scheme);
            Assert.Contains("realm=", challenge.Parameter);
        }
        var good = await Post("/auth/token", DemoAccounts.HospitalClient, "chaoyang-his-secret-2024", cc);
        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        Assert.Empty(good.Headers.WwwAuthenticate);
    }

    // ---- a grant's access tokens end with it ----

    private async Task<(string Access, string Refresh, Dictionary<string, string> Exchange)> GrantAsync()
    {
        var (user, password, totp) = fx.NewUser(Roles.Clinician);
        var (verifier, challenge) = SecurityFixture.NewPkce();
        var code = SecurityFixture.CodeFrom(await fx.PostLoginAsync("user/*.rs offline_access", challenge, user, password, Totp.Compute(totp, DateTimeOffset.UtcNow)));
        var exchange = new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = SecurityFixture.TestRedirect,
            ["code_verifier"] = verifier, ["client_id"] = SecurityFixture.TestApp,
        };
        var t = await fx.TokenRequestAsync(exchange);
        Assert.Equal(HttpStatusCode.OK, t.StatusCode);
        var json = await t.JsonAsync();
        var access = json.GetProperty("access_token").GetString()!;
        // Read once, so the token is in the validated-token cache: revocation must reach it there too.
        Assert.Equal(HttpStatusCode.OK, await ReadWith(access));
        return (access, json.GetProperty("refresh_token").GetString()!, exchange);
    }

    private async Task<HttpStatusCode> ReadWith(string token) => (await fx.With(token).GetAsync("/Patient/zhang-wei")).StatusCode;

    private static Dictionary<string, string> Refresh(string rt) =>
        new() { ["grant_type"] = "refresh_token", ["refresh_token"] = rt, ["client_id"] = SecurityFixture.TestApp };

    [FhirFact]
    public async Task A_code_used_twice_revokes_the_tokens_issued_for_its_first_use()
    {
        var (access, refresh, exchange) = await GrantAsync();
        var (otherAccess, _, _) = await GrantAsync();
        var again = await fx.TokenRequestAsync(exchange);
        Assert.Equal("invalid_grant", await OAuthError(again, HttpStatusCode.BadRequest));
        Assert.Equal(HttpStatusCode.Unauthorized, await ReadWith(access));
        Assert.Equal("invalid_grant", await OAuthError(await fx.TokenRequestAsync(Refresh(refresh)), HttpStatusCode.BadRequest));
        // Another grant of the same client is untouched; a code never issued revokes nothing and says so.
        Assert.Equal(HttpStatusCode.OK, await ReadWith(otherAccess));
        var unknown = await fx.TokenRequestAsync(new Dictionary<string, string>(exchange) { ["code"] = GrantStore.NewHandle() });
        Assert.Equal("invalid_grant", await OAuthError(unknown, HttpStatusCode.BadRequest));
        Assert.Equal(HttpStatusCode.OK, await ReadWith(otherAccess));
    }

    [FhirFact]
    public async Task A_reused_refresh_token_revokes_the_grants_access_tokens_too()
    {
        var (first, r1, _) = await GrantAsync();
        var renewed = await fx.TokenRequestAsync(Refresh(r1));
        Assert.Equal(HttpStatusCode.OK, renewed.StatusCode);
        var second = (await renewed.JsonAsync()).GetProperty("access_token").GetString()!;
        Assert.Equal(HttpStatusCode.OK, await ReadWith(second));
        Assert.Equal("invalid_grant", await OAuthError(await fx.TokenRequestAsync(Refresh(r1)), HttpStatusCode.BadRequest));
        Assert.Equal(HttpStatusCode.Unauthorized, await ReadWith(first));
        Assert.Equal(HttpStatusCode.Unauthorized, await ReadWith(second));
    }

    [FhirFact]
    public async Task Revoking_a_refresh_token_revokes_its_grants_access_tokens()
    {
        var (access, refresh, _) = await GrantAsync();
        var (otherAccess, _, _) = await GrantAsync();
        var revoke = await fx.Bare().PostAsync("/auth/revoke", new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = refresh, ["client_id"] = SecurityFixture.TestApp }));
        Assert.Equal(HttpStatusCode.OK, revoke.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, await ReadWith(access));
        Assert.Equal("invalid_grant", await OAuthError(await fx.TokenRequestAsync(Refresh(refresh)), HttpStatusCode.BadRequest));
        Assert.Equal(HttpStatusCode.OK, await ReadWith(otherAccess));
    }

    // ---- backend clients registered with a key set (private_key_jwt) ----

    private static Dictionary<string, string> Backend(string assertion, string scope = "system/Patient.rs system/Observation.cruds user/*.rs") => new()
    {
        ["grant_type"] = "client_credentials", ["scope"] = scope,
        ["client_assertion_type"] = ClientAssertions.AssertionType, ["client_assertion"] = assertion,
    };

    [FhirFact]
    public async Task A_backend_client_registered_with_its_key_set_gets_a_token_without_a_secret()
    {
        var smart = await (await fx.Bare().GetAsync("/.well-known/smart-configuration")).JsonAsync();
        Assert.Contains(smart.GetProperty("token_endpoint_auth_methods_supported").EnumerateArray(), m => m.GetString() == "private_key_jwt");
        Assert.Contains(smart.GetProperty("token_endpoint_auth_signing_alg_values_supported").EnumerateArray(), m => m.GetString() == "ES384");

        var ok = await fx.TokenRequestAsync(Backend(SignInFixture.BackendAssertion()));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        var body = await ok.JsonAsync();
        // Its registered ceiling is read-only system access (user/*.rs was cut at registration).
        Assert.Equal("system/Patient.rs system/Observation.rs", body.GetProperty("scope").GetString());
        var token = body.GetProperty("access_token").GetString()!;
        Assert.Equal(HttpStatusCode.OK, await ReadWith(token));
        var claims = new JsonWebToken(token);
        Assert.Equal(SignInFixture.BackendClient, claims.Subject);
        Assert.Equal(DemoAccounts.Hospital, claims.GetPayloadValue<string>("organization"));
    }

    [FhirFact]
    public async Task A_backend_clients_assertion_is_refused_when_replayed_long_lived_misaddressed_or_not_its_own()
    {
        var now = DateTime.UtcNow;
        async Task Refused(string assertion, string? why = null)
        {
            var r = await fx.TokenRequestAsync(Backend(assertion));
            Assert.Equal("invalid_client", await OAuthError(r, HttpStatusCode.Unauthorized));
            if (why is not null) Assert.Contains(why, (await r.JsonAsync()).GetProperty("error_description").GetString());
        }
        // Lifetimes over five minutes: from now, and from when it says it was made.
        await Refused(SignInFixture.BackendAssertion(expires: now.AddMinutes(10)), "five minutes");
        await Refused(SignInFixture.BackendAssertion(expires: now.AddMinutes(2), issuedAt: now.AddMinutes(-8)), "five minutes");
        // aud must be the token endpoint; iss and sub must both be the client.
        await Refused(SignInFixture.BackendAssertion(aud: SecurityFixture.BaseUrl));
        await Refused(SignInFixture.BackendAssertion(sub: "someone-else"), "iss and sub");
        await Refused(SignInFixture.BackendAssertion(iss: DemoAccounts.HospitalClient, sub: DemoAccounts.HospitalClient));
        // Another key, and a client named in the assertion but not registered with keys.
        await Refused(SignInFixture.BackendAssertion(key: ECDsa.Create(ECCurve.NamedCurves.nistP384)));

        // A jti is used once, also while an assertion just past its expiry is still accepted (the clock skew).
        var jti = "jti-" + Guid.NewGuid().ToString("N");
        var late = SignInFixture.BackendAssertion(expires: now.AddSeconds(-10), issuedAt: now.AddMinutes(-2), jti: jti);
        Assert.Equal(HttpStatusCode.OK, (await fx.TokenRequestAsync(Backend(late))).StatusCode);
        await Refused(late, "jti");
        await Refused(SignInFixture.BackendAssertion(jti: jti), "jti");
    }

    [Fact]
    public void A_misconfigured_client_stops_the_start()
    {
        static ConfiguredClients.RoleRule? Rule(string role) =>
            RolePolicy.Rules.TryGetValue(role, out var r) ? new ConfiguredClients.RoleRule(r.Ceiling, r.Purposes) : null;
        ClientRegistration Register(ClientOptions o) => ConfiguredClients.ToRegistration(o, Path.GetTempPath(), Rule);
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var jwks = SignInFixture.EcJwks(key, "k1");

        var ok = Register(new ClientOptions { ClientId = "his", Jwks = jwks, Roles = [Roles.SystemClient], Scopes = ["system/*.cruds", "user/*.rs"], PurposesOfUse = ["TREAT", "HRESCH"] });
        Assert.Equal(new[] { "system/*.cruds" }, ok.ScopeCeiling);
        Assert.Equal(new[] { "TREAT" }, ok.PurposesOfUse);
        Assert.True(ok.CanActForItself);
        Assert.Null(ok.SecretHash);

        foreach (var (bad, why) in new (ClientOptions, string)[]
                 {
                     (new() { ClientId = "his", Jwks = jwks, Roles = ["superuser"] }, "unknown role"),
                     (new() { ClientId = "his", Roles = [Roles.SystemClient] }, "needs Jwks"),
                     (new() { ClientId = "his", Jwks = SignInFixture.EcJwks(key, "k1", withPrivate: true), Roles = [Roles.SystemClient] }, "private"),
                     (new() { ClientId = "his", Jwks = """{"keys":[]}""", Roles = [Roles.SystemClient] }, "no usable"),
                     (new() { ClientId = "his", SecretHash = "plain-secret", Roles = [Roles.SystemClient] }, "PBKDF2"),
                     (new() { ClientId = "", Jwks = jwks, Roles = [Roles.SystemClient] }, "ClientId"),
                 })
            Assert.Contains(why, Assert.Throws<InvalidOperationException>(() => Register(bad)).Message);
    }
}

using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using System.Web;
using FhirArchive.Auth;
using FhirArchive.Auth.Accounts;
using FhirArchive.Auth.Keys;
using FhirArchive.Auth.Tokens;
using FhirArchive.Rest.Access;
using FhirArchive.Server.SampleData;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Xunit;

namespace FhirArchive.Tests.Support;

/// <summary>
/// A server with the sample data and demo accounts, an external OpenID Connect provider (its JWKS in a temp file),
/// a private_key_jwt client and a public test app registered; helpers that drive the real login and token flows.
/// </summary>
public class SecurityFixture : ServerFixture
{
    public const string BaseUrl = "http://localhost";
    public const string TokenEndpoint = BaseUrl + "/auth/token";
    public const string ExternalIssuer = "https://idp.example.test";
    public const string TestApp = "test-app";
    public const string TestRedirect = "http://127.0.0.1/cb";
    public const string JwtClient = "jwt-his";

    public static readonly RSA ExternalKey = RSA.Create(2048);
    private static readonly string ExternalJwksFile = WriteJwks(ExternalKey, "ext-1", "RS256");

    public RSA ClientKey { get; } = RSA.Create(2048);
    private readonly Dictionary<string, string> _tokens = [];
    private int _users;

    public SecurityFixture() : this(null) { }

    /// <param name="shippedRecordProfiles">true: the record profiles as shipped (appsettings.json), as on a demo server.</param>
    protected SecurityFixture(IDictionary<string, string>? extra, bool shippedRecordProfiles = false) : base(Settings(extra), null, shippedRecordProfiles)
    {
        var directory = Factory.Services.GetRequiredService<InMemoryAuthDirectory>();
        directory.Add(new ClientRegistration(TestApp, "Test app", null, null, [TestRedirect], [], [], []));
        var jwks = new JsonWebKeySet(Jwks(ClientKey, "client-1", "RS384"));
        directory.Add(new ClientRegistration(JwtClient, "JWT HIS", null, jwks, [], [Roles.SystemClient], ["system/*.rs"], ["TREAT"], DemoAccounts.Hospital));
    }

    private static Dictionary<string, string> Settings(IDictionary<string, string>? extra)
    {
        var s = new Dictionary<string, string>
        {
            ["SampleData:Load"] = "true",
            ["Security:External:0:Issuer"] = ExternalIssuer,
            ["Security:External:0:JwksFile"] = ExternalJwksFile,
            // These suites test the token layer (scopes, roles, divisions) alone; tests/Consent test the consent
            // rules on top of it with the same tokens.
            ["Consent:Enabled"] = "false",
        };
        foreach (var (k, v) in extra ?? new Dictionary<string, string>()) s[k] = v;
        return s;
    }

    public static string Jwks(RSA key, string kid, string alg)
    {
        var p = key.ExportParameters(false);
        return JsonSerializer.Serialize(new { keys = new[] { new { kty = "RSA", kid, use = "sig", alg, n = Base64UrlEncoder.Encode(p.Modulus), e = Base64UrlEncoder.Encode(p.Exponent) } } });
    }

    private static string WriteJwks(RSA key, string kid, string alg)
    {
        var file = Path.Combine(Path.GetTempPath(), $"fhirarchive-test-jwks-{Guid.NewGuid():N}.json");
        File.WriteAllText(file, Jwks(key, kid, alg));
        AppDomain.CurrentDomain.ProcessExit += (_, _) => File.Delete(file);
        return file;
    }

    /// <summary>No token, no redirects followed.</summary>
    public HttpClient Bare() => Factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });

    public T Service<T>() where T : notnull => Factory.Services.GetRequiredService<T>();

    /// <summary>A token minted in-process with exactly these roles and scopes (the scope/role checks, not the grant).</summary>
    public string Mint(string[] roles, string[] scopes, string? patient = null, string? jurisdiction = null, bool person = false) =>
        Service<TokenService>().CreateAccessToken(new TokenPrincipal("t-" + Guid.NewGuid().ToString("N")[..6], person, null, roles, scopes, "test", null, null, patient, jurisdiction), BaseUrl).Token;

    /// <summary>A JWT signed with the server's key but with the claims and times given (expired, wrong audience...).</summary>
    public string Craft(Action<SecurityTokenDescriptor> change, SigningCredentials? credentials = null)
    {
        var now = DateTime.UtcNow;
        var d = new SecurityTokenDescriptor
        {
            Issuer = BaseUrl, Audience = BaseUrl, IssuedAt = now, NotBefore = now, Expires = now.AddMinutes(5),
            Claims = new Dictionary<string, object> { ["sub"] = "crafted", ["jti"] = Guid.NewGuid().ToString("N"), ["scope"] = "system/*.rs", ["roles"] = new[] { Roles.SystemClient }, ["sub_kind"] = "system" },
            SigningCredentials = credentials ?? Service<SigningKeys>().Credentials,
        };
        change(d);
        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(d);
    }

    /// <summary>A fresh person with a known password and TOTP secret (cheap hash), so each test logs in its own account.</summary>
    /// <param name="passwordHash">Another hash instead (then the password returned is not its password).</param>
    public (string User, string Password, string Totp) NewUser(string role, string? patient = null, string? division = null, string? passwordHash = null)
    {
        var user = $"{role}-{Interlocked.Increment(ref _users)}";
        var secret = "JBSWY3DPEHPK3PXP" + (char)('A' + _users % 26) + "Q";
        var rule = RolePolicy.Rules[role];
        Service<InMemoryAuthDirectory>().Add(new UserAccount(user, user, passwordHash ?? PasswordHasher.Hash("pw-" + user, 10_000), secret, [role],
            [.. rule.Ceiling, "openid", "fhirUser", "launch/patient", "offline_access"], rule.Purposes, patient, patient, null, division));
        return (user, "pw-" + user, secret);
    }

    public static (string Verifier, string Challenge) NewPkce()
    {
        var verifier = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32));
        return (verifier, Pkce.Challenge(verifier));
    }

    public static string AuthorizeQuery(string scope, string challenge, string client = TestApp, string redirect = TestRedirect, string? purpose = null) =>
        $"/auth/authorize?response_type=code&client_id={client}&redirect_uri={Uri.EscapeDataString(redirect)}&scope={Uri.EscapeDataString(scope)}" +
        $"&state=st-1&aud={Uri.EscapeDataString(BaseUrl)}&code_challenge={challenge}&code_challenge_method=S256" + (purpose is null ? "" : "&purpose_of_use=" + purpose);

    /// <summary>The login form posted as a browser would (hidden fields + credentials); the answer is not followed.</summary>
    public Task<HttpResponseMessage> PostLoginAsync(string scope, string challenge, string user, string password, string? otp, string? purpose = null) =>
        PostLoginAsync(Bare, AuthorizeQuery(scope, challenge, purpose: purpose), user, password, otp);

    /// <summary>The login page's hidden fields (the authorize request riding along), as a browser would post them back.</summary>
    public Task<Dictionary<string, string>> LoginFormAsync(string scope, string challenge, string? purpose = null) =>
        LoginFormAsync(Bare(), AuthorizeQuery(scope, challenge, purpose: purpose));

    /// <summary>The login form of this authorize request posted as a browser would (its hidden fields + the credentials),
    /// each request on a fresh client without redirects; the answer is not followed.</summary>
    public static async Task<HttpResponseMessage> PostLoginAsync(Func<HttpClient> bare, string authorizeQuery, string user, string password, string? otp)
    {
        var fields = await LoginFormAsync(bare(), authorizeQuery);
        fields["username"] = user;
        fields["password"] = password;
        if (otp is not null) fields["otp"] = otp;
        return await bare().PostAsync("/auth/authorize", new FormUrlEncodedContent(fields));
    }

    /// <summary>The login page's hidden fields for this authorize request.</summary>
    public static async Task<Dictionary<string, string>> LoginFormAsync(HttpClient bare, string authorizeQuery)
    {
        var page = await bare.GetAsync(authorizeQuery);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var html = await page.Content.ReadAsStringAsync();
        return System.Text.RegularExpressions.Regex.Matches(html, "<input type=\"hidden\" name=\"([^\"]+)\" value=\"([^\"]*)\">")
            .ToDictionary(m => m.Groups[1].Value, m => WebUtility.HtmlDecode(m.Groups[2].Value));
    }

    /// <summary>The code from a successful login's redirect.</summary>
    public static string CodeFrom(HttpResponseMessage r)
    {
        Assert.Equal(HttpStatusCode.Redirect, r.StatusCode);
        var location = r.Headers.Location!;
        Assert.StartsWith(TestRedirect, location.ToString());
        var q = HttpUtility.ParseQueryString(location.Query);
        Assert.Equal("st-1", q["state"]);
        return q["code"] ?? throw new Xunit.Sdk.XunitException("no code in " + location);
    }

    public async Task<HttpResponseMessage> TokenRequestAsync(Dictionary<string, string> form) =>
        await Bare().PostAsync("/auth/token", new FormUrlEncodedContent(form));

    /// <summary>The whole people flow: login page, password + TOTP, code, token with the PKCE verifier.</summary>
    public async Task<JsonElement> LoginAsync(string user, string password, string totpSecret, string scope, string? purpose = null)
    {
        var (verifier, challenge) = NewPkce();
        var r = await PostLoginAsync(scope, challenge, user, password, Totp.Compute(totpSecret, DateTimeOffset.UtcNow), purpose);
        var code = CodeFrom(r);
        var t = await TokenRequestAsync(new() { ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = TestRedirect, ["code_verifier"] = verifier, ["client_id"] = TestApp });
        Assert.Equal(HttpStatusCode.OK, t.StatusCode);
        return await t.JsonAsync();
    }

    /// <summary>The demo passwords as the README prints them.</summary>
    public static readonly Dictionary<string, string> DemoPasswords = new()
    {
        ["zhangwei"] = "Zhangwei#2024", ["liuqiang"] = "Liuqiang#2024", ["drzhao"] = "Drzhao#2024", ["drchen"] = "Drchen#2024",
        ["recadmin"] = "Recadmin#2024", ["cdc-chaoyang"] = "CdcChaoyang#2024", ["hc-shanghai"] = "HcShanghai#2024",
        ["researcher"] = "Researcher#2024", ["auditor"] = "Auditor#2024", ["drwu"] = "Drwu#2024", ["mh-wuhou"] = "MhWuhou#2024",
    };

    /// <summary>A demo person's token through the real flow (README's password and TOTP secret), once per fixture.</summary>
    public async Task<string> DemoTokenAsync(string user, string scope)
    {
        var key = user + " " + scope;
        lock (_tokens) if (_tokens.TryGetValue(key, out var cached)) return cached;
        var p = DemoAccounts.People.Single(x => x.User == user);
        var password = DemoPasswords[user];
        var json = await LoginAsync(user, password, p.Totp, scope);
        var token = json.GetProperty("access_token").GetString()!;
        lock (_tokens) _tokens[key] = token;
        return token;
    }

    public HttpClient With(string token)
    {
        var c = Bare();
        c.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return c;
    }

    public string ClientAssertion(RSA key, string alg = "RS384", DateTime? expires = null, string? jti = null, string kid = "client-1", string aud = TokenEndpoint)
    {
        var now = DateTime.UtcNow;
        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = JwtClient, Audience = aud, Expires = expires ?? now.AddMinutes(4), IssuedAt = now.AddMinutes(-1),
            Claims = new Dictionary<string, object> { ["sub"] = JwtClient, ["jti"] = jti ?? Guid.NewGuid().ToString("N") },
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(key) { KeyId = kid }, alg),
        });
    }
}

public sealed class PostgresSecurityFixture() : SecurityFixture(PostgresCluster.Settings());

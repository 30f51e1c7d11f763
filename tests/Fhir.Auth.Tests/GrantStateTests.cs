using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using FhirArchive.Auth;
using FhirArchive.Auth.Accounts;
using FhirArchive.Rest.Access;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Auth.Tests;

/// <summary>
/// Server instances on one database (one SQLite file, or one PostgreSQL database) and one data folder (the signing
/// key), started and stopped by the test. The audit trail has a single writer per database, so these instances
/// leave it out (Audit:Enabled=false, no auth events) and make no FHIR writes.
/// </summary>
public sealed class SharedDatabase : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "fhirarchive-tests-" + Guid.NewGuid().ToString("N"));
    private readonly Dictionary<string, string> _settings;
    private readonly List<Instance> _instances = [];
    private readonly string _passwordHash;
    /// <summary>Without a one-time code (each TOTP step is usable once per account, which would tie the tests to the clock).</summary>
    public string User { get; } = "drli-" + Http.Unique();
    /// <summary>With one, for the replay and lockout test.</summary>
    public string TotpUser { get; } = "drwu-" + Http.Unique();
    public string Password { get; } = "pw-" + Http.Unique();
    public string TotpSecret { get; } = "JBSWY3DPEHPK3PXPQQ";

    public SharedDatabase(IDictionary<string, string>? storage)
    {
        Directory.CreateDirectory(_folder);
        _settings = new Dictionary<string, string>
        {
            ["Storage:DataFolder"] = _folder,
            ["SampleData:Load"] = "false",
            ["ConformanceResources:Load"] = "false",
            ["Audit:Enabled"] = "false",
            // Another instance's revocations are seen on the next request (the staleness bound itself: AuthStateTests).
            ["Security:RevocationRefreshInterval"] = "00:00:00",
        };
        foreach (var (k, v) in storage ?? new Dictionary<string, string>()) _settings[k] = v;
        _passwordHash = PasswordHasher.Hash(Password, 10_000);
    }

    public Instance Start()
    {
        var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            foreach (var (k, v) in _settings) b.UseSetting(k, v);
            b.ConfigureTestServices(s => s.AddSingleton<IAuthEvents, NoAuthEvents>());
        });
        var directory = factory.Services.GetRequiredService<InMemoryAuthDirectory>();
        directory.Add(new ClientRegistration(SecurityFixture.TestApp, "Test app", null, null, [SecurityFixture.TestRedirect], [], [], []));
        var rule = RolePolicy.Rules[Roles.Clinician];
        directory.Add(new UserAccount(User, User, _passwordHash, null, [Roles.Clinician], [.. rule.Ceiling, "offline_access"], rule.Purposes, null, null, null, null));
        directory.Add(new UserAccount(TotpUser, TotpUser, _passwordHash, TotpSecret, [Roles.Clinician], [.. rule.Ceiling, "offline_access"], rule.Purposes, null, null, null, null));
        var instance = new Instance(factory);
        _instances.Add(instance);
        return instance;
    }

    public void Dispose()
    {
        foreach (var i in _instances) i.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }

    /// <summary>One running server: the login, token and revocation flows against it.</summary>
    public sealed class Instance(WebApplicationFactory<Program> factory) : IDisposable
    {
        private bool _disposed;

        public HttpClient Bare() => factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });

        /// <summary>The login form posted as a browser would; the answer (redirect with the code, or the page) is not followed.</summary>
        public Task<HttpResponseMessage> PostLoginAsync(string challenge, string user, string password, string? otp = null, string scope = "user/*.rs offline_access") =>
            SecurityFixture.PostLoginAsync(Bare, SecurityFixture.AuthorizeQuery(scope, challenge), user, password, otp);

        public Task<HttpResponseMessage> ExchangeAsync(string code, string verifier) => TokenAsync(new()
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = SecurityFixture.TestRedirect,
            ["code_verifier"] = verifier, ["client_id"] = SecurityFixture.TestApp,
        });

        public Task<HttpResponseMessage> RefreshAsync(string refreshToken) => TokenAsync(new()
            { ["grant_type"] = "refresh_token", ["refresh_token"] = refreshToken, ["client_id"] = SecurityFixture.TestApp });

        public Task<HttpResponseMessage> TokenAsync(Dictionary<string, string> form) => Bare().PostAsync("/auth/token", new FormUrlEncodedContent(form));

        public Task<HttpResponseMessage> RevokeAsync(string token) =>
            Bare().PostAsync("/auth/revoke", new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = token, ["client_id"] = SecurityFixture.TestApp }));

        /// <summary>A search with the token: 200 when it is valid, 401 when not.</summary>
        public async Task<HttpStatusCode> SearchWithAsync(string token)
        {
            var c = Bare();
            c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            return (await c.GetAsync("/Patient?_count=1")).StatusCode;
        }

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            factory.Dispose();
        }
    }
}

public abstract class GrantStateTestsBase
{
    protected abstract IDictionary<string, string>? Storage();

    private static async Task<JsonElement> Ok(HttpResponseMessage r)
    {
        Assert.True(r.StatusCode == HttpStatusCode.OK, $"{r.StatusCode}: {await r.Content.ReadAsStringAsync()}");
        return await r.JsonAsync();
    }

    private static string Otp(SharedDatabase db) => Totp.Compute(db.TotpSecret, DateTimeOffset.UtcNow);

    private static async Task<(string Code, string Verifier)> CodeAsync(SharedDatabase db, SharedDatabase.Instance on)
    {
        var (verifier, challenge) = SecurityFixture.NewPkce();
        var r = await on.PostLoginAsync(challenge, db.User, db.Password);
        return (SecurityFixture.CodeFrom(r), verifier);
    }

    [FhirFact]
    public async Task A_refresh_token_and_a_revocation_survive_a_restart()
    {
        using var db = new SharedDatabase(Storage());
        var first = db.Start();
        var (code, verifier) = await CodeAsync(db, first);
        var tokens = await Ok(await first.ExchangeAsync(code, verifier));
        var access = tokens.GetProperty("access_token").GetString()!;
        var refresh = tokens.GetProperty("refresh_token").GetString()!;
        Assert.Equal(HttpStatusCode.OK, await first.SearchWithAsync(access));
        Assert.Equal(HttpStatusCode.OK, (await first.RevokeAsync(access)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, await first.SearchWithAsync(access));
        first.Dispose();

        var restarted = db.Start();
        // The revocation is remembered, and the refresh token still renews the grant.
        Assert.Equal(HttpStatusCode.Unauthorized, await restarted.SearchWithAsync(access));
        var renewed = await Ok(await restarted.RefreshAsync(refresh));
        Assert.Equal(HttpStatusCode.OK, await restarted.SearchWithAsync(renewed.GetProperty("access_token").GetString()!));
        // Its rotation is remembered too: the used token is refused, and that reuse ends the renewed one as well.
        Assert.Equal("invalid_grant", await OAuthError(await restarted.RefreshAsync(refresh)));
        Assert.Equal("invalid_grant", await OAuthError(await restarted.RefreshAsync(renewed.GetProperty("refresh_token").GetString()!)));
    }

    [FhirFact]
    public async Task A_code_is_redeemed_once_across_instances()
    {
        using var db = new SharedDatabase(Storage());
        var (a, b) = (db.Start(), db.Start());
        var (code, verifier) = await CodeAsync(db, a);
        // Issued by one instance, redeemed at the other: the state is shared.
        Assert.Equal(HttpStatusCode.OK, await b.SearchWithAsync((await Ok(await b.ExchangeAsync(code, verifier))).GetProperty("access_token").GetString()!));
        Assert.Equal("invalid_grant", await OAuthError(await a.ExchangeAsync(code, verifier)));
        Assert.Equal("invalid_grant", await OAuthError(await b.ExchangeAsync(code, verifier)));

        // Presented to both at the same moment: exactly one gets tokens.
        var (second, verifier2) = await CodeAsync(db, b);
        var answers = await Task.WhenAll(a.ExchangeAsync(second, verifier2), b.ExchangeAsync(second, verifier2), a.ExchangeAsync(second, verifier2));
        Assert.Single(answers, r => r.StatusCode == HttpStatusCode.OK);
        Assert.Equal(2, answers.Count(r => r.StatusCode == HttpStatusCode.BadRequest));
    }

    [FhirFact]
    public async Task A_code_reused_at_another_instance_revokes_the_grant_at_both()
    {
        using var db = new SharedDatabase(Storage());
        var (a, b) = (db.Start(), db.Start());
        var (code, verifier) = await CodeAsync(db, a);
        var tokens = await Ok(await a.ExchangeAsync(code, verifier));
        var access = tokens.GetProperty("access_token").GetString()!;
        Assert.Equal(HttpStatusCode.OK, await a.SearchWithAsync(access));
        Assert.Equal(HttpStatusCode.OK, await b.SearchWithAsync(access));
        Assert.Equal("invalid_grant", await OAuthError(await b.ExchangeAsync(code, verifier)));
        Assert.Equal(HttpStatusCode.Unauthorized, await a.SearchWithAsync(access));
        Assert.Equal(HttpStatusCode.Unauthorized, await b.SearchWithAsync(access));
        Assert.Equal("invalid_grant", await OAuthError(await a.RefreshAsync(tokens.GetProperty("refresh_token").GetString()!)));
    }

    [FhirFact]
    public async Task Rotation_reuse_and_revocation_count_on_every_instance()
    {
        using var db = new SharedDatabase(Storage());
        var (a, b) = (db.Start(), db.Start());
        var (code, verifier) = await CodeAsync(db, a);
        var t1 = await Ok(await a.ExchangeAsync(code, verifier));
        var r1 = t1.GetProperty("refresh_token").GetString()!;
        var t2 = await Ok(await b.RefreshAsync(r1));
        var r2 = t2.GetProperty("refresh_token").GetString()!;
        var renewed = t2.GetProperty("access_token").GetString()!;
        Assert.Equal(HttpStatusCode.OK, await b.SearchWithAsync(renewed));
        // r1 was rotated away at b: presenting it at a is reuse, which ends r2 as well (also when the public client
        // names itself only through the token, as SMART allows), and the grant's access tokens, cached at b or not.
        Assert.Equal("invalid_grant", await OAuthError(await a.TokenAsync(new() { ["grant_type"] = "refresh_token", ["refresh_token"] = r1 })));
        Assert.Equal("invalid_grant", await OAuthError(await b.RefreshAsync(r2)));
        Assert.Equal(HttpStatusCode.Unauthorized, await b.SearchWithAsync(renewed));
        Assert.Equal(HttpStatusCode.Unauthorized, await b.SearchWithAsync(t1.GetProperty("access_token").GetString()!));

        // An access token validated (and cached) at b is refused there once a revokes it.
        var (code2, verifier2) = await CodeAsync(db, b);
        var t3 = await Ok(await b.ExchangeAsync(code2, verifier2));
        var access = t3.GetProperty("access_token").GetString()!;
        Assert.Equal(HttpStatusCode.OK, await b.SearchWithAsync(access));
        Assert.Equal(HttpStatusCode.OK, (await a.RevokeAsync(access)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, await b.SearchWithAsync(access));
        // A refresh token revoked at one instance is dead at the other.
        var r3 = t3.GetProperty("refresh_token").GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await b.RevokeAsync(r3)).StatusCode);
        Assert.Equal("invalid_grant", await OAuthError(await a.RefreshAsync(r3)));
    }

    [FhirFact]
    public async Task Lockout_and_used_one_time_codes_persist_across_instances_and_restarts()
    {
        using var db = new SharedDatabase(Storage());
        var (a, b) = (db.Start(), db.Start());
        var (_, challenge) = SecurityFixture.NewPkce();
        // A one-time code used at a cannot be replayed at b.
        var otp = Otp(db);
        Assert.Equal(HttpStatusCode.Redirect, (await a.PostLoginAsync(challenge, db.TotpUser, db.Password, otp)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await b.PostLoginAsync(challenge, db.TotpUser, db.Password, otp)).StatusCode);
        // Failures count together, whichever instance sees them (the replay above was the first of five).
        for (var i = 0; i < 4; i++)
            Assert.Equal(HttpStatusCode.Unauthorized, (await (i % 2 == 0 ? a : b).PostLoginAsync(challenge, db.TotpUser, "wrong", Otp(db))).StatusCode);
        // Locked: even the right password and a fresh code are refused, at either instance.
        var locked = await a.PostLoginAsync(challenge, db.TotpUser, db.Password, Otp(db));
        Assert.Equal(HttpStatusCode.Unauthorized, locked.StatusCode);
        Assert.Contains("locked", await locked.Content.ReadAsStringAsync());
        a.Dispose();
        b.Dispose();

        var restarted = db.Start();
        var still = await restarted.PostLoginAsync(challenge, db.TotpUser, db.Password, Otp(db));
        Assert.Equal(HttpStatusCode.Unauthorized, still.StatusCode);
        Assert.Contains("locked", await still.Content.ReadAsStringAsync());
    }
}

public sealed class GrantStateTests : GrantStateTestsBase
{
    protected override IDictionary<string, string>? Storage() => null;
}

public sealed class PostgresGrantStateTests : GrantStateTestsBase
{
    protected override IDictionary<string, string>? Storage() => PostgresCluster.Settings();
}

using System.Net;
using System.Security.Cryptography;
using System.Web;
using FhirArchive.Auth.Accounts;
using FhirArchive.Rest.Access;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Auth.Tests;

/// <summary>The OAuth grants: client_credentials (secret, private_key_jwt), authorization code + PKCE, refresh rotation, lockout.</summary>
public abstract class GrantTestsBase<TFixture>(TFixture fx) where TFixture : SecurityFixture
{
    [FhirFact]
    public async Task Client_credentials_with_a_secret_grant_only_what_the_client_may_have()
    {
        var ok = await fx.TokenRequestAsync(new() { ["grant_type"] = "client_credentials", ["client_id"] = "chaoyang-his", ["client_secret"] = "chaoyang-his-secret-2024", ["scope"] = "system/Patient.rs system/Observation.cruds patient/*.rs" });
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal("no-store", ok.Headers.CacheControl?.ToString());
        var body = await ok.JsonAsync();
        Assert.Equal("Bearer", body.GetProperty("token_type").GetString());
        Assert.Equal("system/Patient.rs system/Observation.cruds", body.GetProperty("scope").GetString());
        Assert.False(body.TryGetProperty("refresh_token", out _));
        Assert.Equal("invalid_client", await OAuthError(await fx.TokenRequestAsync(new() { ["grant_type"] = "client_credentials", ["client_id"] = "chaoyang-his", ["client_secret"] = "wrong", ["scope"] = "system/*.rs" }), HttpStatusCode.Unauthorized));
        Assert.Equal("invalid_client", await OAuthError(await fx.TokenRequestAsync(new() { ["grant_type"] = "client_credentials", ["client_id"] = "nobody", ["client_secret"] = "x", ["scope"] = "system/*.rs" }), HttpStatusCode.Unauthorized));
        Assert.Equal("invalid_scope", await OAuthError(await fx.TokenRequestAsync(new() { ["grant_type"] = "client_credentials", ["client_id"] = "chaoyang-his", ["client_secret"] = "chaoyang-his-secret-2024", ["scope"] = "user/*.rs" }), HttpStatusCode.BadRequest));
        // A public client cannot act for itself.
        Assert.Equal("invalid_client", await OAuthError(await fx.TokenRequestAsync(new() { ["grant_type"] = "client_credentials", ["client_id"] = SecurityFixture.TestApp, ["scope"] = "system/*.rs" }), HttpStatusCode.Unauthorized));
        Assert.Equal("unsupported_grant_type", await OAuthError(await fx.TokenRequestAsync(new() { ["grant_type"] = "password", ["client_id"] = SecurityFixture.TestApp }), HttpStatusCode.BadRequest));
        // The purpose of use must be one the client's role may claim.
        Assert.Equal("invalid_request", await OAuthError(await fx.TokenRequestAsync(new() { ["grant_type"] = "client_credentials", ["client_id"] = "chaoyang-his", ["client_secret"] = "chaoyang-his-secret-2024", ["scope"] = "system/*.rs", ["purpose_of_use"] = "HRESCH" }), HttpStatusCode.BadRequest));
    }

    private Dictionary<string, string> Assertion(string assertion) => new()
    {
        ["grant_type"] = "client_credentials", ["scope"] = "system/*.rs",
        ["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", ["client_assertion"] = assertion,
    };

    [FhirFact]
    public async Task Private_key_jwt_needs_the_registered_key_a_short_life_and_a_fresh_jti()
    {
        var good = await fx.TokenRequestAsync(Assertion(fx.ClientAssertion(fx.ClientKey)));
        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        var token = (await good.JsonAsync()).GetProperty("access_token").GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await fx.With(token).GetAsync("/Patient/zhang-wei")).StatusCode);
        // The client's ceiling is read-only.
        Assert.Equal(HttpStatusCode.Forbidden, (await fx.With(token).DeleteAsync("/Patient/zhang-wei")).StatusCode);

        using var other = RSA.Create(2048);
        Assert.Equal("invalid_client", await OAuthError(await fx.TokenRequestAsync(Assertion(fx.ClientAssertion(other))), HttpStatusCode.Unauthorized));
        Assert.Equal("invalid_client", await OAuthError(await fx.TokenRequestAsync(Assertion(fx.ClientAssertion(fx.ClientKey, expires: DateTime.UtcNow.AddMinutes(-2)))), HttpStatusCode.Unauthorized));
        Assert.Equal("invalid_client", await OAuthError(await fx.TokenRequestAsync(Assertion(fx.ClientAssertion(fx.ClientKey, expires: DateTime.UtcNow.AddMinutes(30)))), HttpStatusCode.Unauthorized));
        Assert.Equal("invalid_client", await OAuthError(await fx.TokenRequestAsync(Assertion(fx.ClientAssertion(fx.ClientKey, aud: "http://localhost/other"))), HttpStatusCode.Unauthorized));
        // RS256 is not a Backend Services algorithm.
        Assert.Equal("invalid_client", await OAuthError(await fx.TokenRequestAsync(Assertion(fx.ClientAssertion(fx.ClientKey, alg: "RS256"))), HttpStatusCode.Unauthorized));
        var once = fx.ClientAssertion(fx.ClientKey, jti: "jti-" + Guid.NewGuid().ToString("N"));
        Assert.Equal(HttpStatusCode.OK, (await fx.TokenRequestAsync(Assertion(once))).StatusCode);
        var replay = await fx.TokenRequestAsync(Assertion(once));
        Assert.Equal(HttpStatusCode.Unauthorized, replay.StatusCode);
        Assert.Contains("jti", (await replay.JsonAsync()).GetProperty("error_description").GetString());
    }

    [FhirFact]
    public async Task Authorization_code_with_pkce_and_two_factors_gives_a_patient_token()
    {
        var (user, password, totp) = fx.NewUser(Roles.Resident, patient: "Patient/zhang-wei");
        var json = await fx.LoginAsync(user, password, totp, "openid fhirUser launch/patient patient/*.rs user/*.cruds offline_access");
        Assert.Equal("zhang-wei", json.GetProperty("patient").GetString());
        // The resident's ceiling removes user/*.cruds.
        Assert.Equal("openid fhirUser launch/patient patient/*.rs offline_access", json.GetProperty("scope").GetString());
        Assert.True(json.TryGetProperty("id_token", out _));
        Assert.True(json.TryGetProperty("refresh_token", out _));
        var token = json.GetProperty("access_token").GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await fx.With(token).GetAsync("/Patient/zhang-wei")).StatusCode);
    }

    [FhirFact]
    public async Task Pkce_wrong_verifier_reused_code_and_missing_challenge_are_refused()
    {
        var (user, password, totp) = fx.NewUser(Roles.Clinician);
        var (verifier, challenge) = SecurityFixture.NewPkce();
        var code = SecurityFixture.CodeFrom(await fx.PostLoginAsync("user/*.rs", challenge, user, password, Totp.Compute(totp, DateTimeOffset.UtcNow)));
        Dictionary<string, string> Exchange(string v) => new() { ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = SecurityFixture.TestRedirect, ["code_verifier"] = v, ["client_id"] = SecurityFixture.TestApp };
        Assert.Equal("invalid_grant", await OAuthError(await fx.TokenRequestAsync(Exchange(SecurityFixture.NewPkce().Verifier)), HttpStatusCode.BadRequest));
        // The failed attempt used the code up: the right verifier is too late now.
        Assert.Equal("invalid_grant", await OAuthError(await fx.TokenRequestAsync(Exchange(verifier)), HttpStatusCode.BadRequest));

        var plain = await fx.Bare().GetAsync(SecurityFixture.AuthorizeQuery("user/*.rs", "abc").Replace("S256", "plain"));
        Assert.Equal(HttpStatusCode.Redirect, plain.StatusCode);
        Assert.Equal("invalid_request", HttpUtility.ParseQueryString(plain.Headers.Location!.Query)["error"]);
        // An unregistered redirect URI is never redirected to.
        var evil = await fx.Bare().GetAsync(SecurityFixture.AuthorizeQuery("user/*.rs", challenge, redirect: "http://evil.example/cb"));
        Assert.Equal(HttpStatusCode.BadRequest, evil.StatusCode);
        Assert.Null(evil.Headers.Location);
    }

    [FhirFact]
    public async Task Login_needs_the_one_time_code_and_locks_after_five_failures()
    {
        var (user, password, totp) = fx.NewUser(Roles.FamilyDoctor);
        var (_, challenge) = SecurityFixture.NewPkce();
        Assert.Equal(HttpStatusCode.Unauthorized, (await fx.PostLoginAsync("user/*.rs", challenge, user, password, null)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await fx.PostLoginAsync("user/*.rs", challenge, user, password, "000000")).StatusCode);
        for (var i = 0; i < 3; i++)
            Assert.Equal(HttpStatusCode.Unauthorized, (await fx.PostLoginAsync("user/*.rs", challenge, user, "wrong", Totp.Compute(totp, DateTimeOffset.UtcNow))).StatusCode);
        // Five failures: even the right password and code are refused now.
        var locked = await fx.PostLoginAsync("user/*.rs", challenge, user, password, Totp.Compute(totp, DateTimeOffset.UtcNow));
        Assert.Equal(HttpStatusCode.Unauthorized, locked.StatusCode);
        var page = await locked.Content.ReadAsStringAsync();
        Assert.Contains("锁定", page);
        Assert.Contains("locked", page);

        // Another account is not affected, and a one-time code works once only.
        var (user2, password2, totp2) = fx.NewUser(Roles.FamilyDoctor);
        var code = Totp.Compute(totp2, DateTimeOffset.UtcNow);
        Assert.Equal(HttpStatusCode.Redirect, (await fx.PostLoginAsync("user/*.rs", challenge, user2, password2, code)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await fx.PostLoginAsync("user/*.rs", challenge, user2, password2, code)).StatusCode);
    }

    [FhirFact]
    public async Task Refresh_tokens_rotate_and_a_reused_one_revokes_the_grant()
    {
        var (user, password, totp) = fx.NewUser(Roles.Clinician);
        var first = await fx.LoginAsync(user, password, totp, "user/*.rs offline_access");
        var r1 = first.GetProperty("refresh_token").GetString()!;
        Dictionary<string, string> Refresh(string rt) => new() { ["grant_type"] = "refresh_token", ["refresh_token"] = rt, ["client_id"] = SecurityFixture.TestApp };
        var second = await fx.TokenRequestAsync(Refresh(r1));
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        var body = await second.JsonAsync();
        var r2 = body.GetProperty("refresh_token").GetString()!;
        Assert.NotEqual(r1, r2);
        Assert.Equal(HttpStatusCode.OK, (await fx.With(body.GetProperty("access_token").GetString()!).GetAsync("/Patient/zhang-wei")).StatusCode);
        // r1 was rotated away: using it again is a theft signal, and r2 dies with it.
        Assert.Equal("invalid_grant", await OAuthError(await fx.TokenRequestAsync(Refresh(r1)), HttpStatusCode.BadRequest));
        Assert.Equal("invalid_grant", await OAuthError(await fx.TokenRequestAsync(Refresh(r2)), HttpStatusCode.BadRequest));

        // Revoking a refresh token (RFC 7009) ends it; another client cannot use it either.
        var third = await fx.LoginAsync(fx.NewUser(Roles.Clinician) is var u ? u.User : "", u.Password, u.Totp, "user/*.rs offline_access");
        var r3 = third.GetProperty("refresh_token").GetString()!;
        Assert.Equal("invalid_grant", await OAuthError(await fx.TokenRequestAsync(new() { ["grant_type"] = "refresh_token", ["refresh_token"] = r3, ["client_id"] = DemoClient }), HttpStatusCode.BadRequest));
        Assert.Equal(HttpStatusCode.OK, (await fx.Bare().PostAsync("/auth/revoke", new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = r3, ["client_id"] = SecurityFixture.TestApp }))).StatusCode);
        Assert.Equal("invalid_grant", await OAuthError(await fx.TokenRequestAsync(Refresh(r3)), HttpStatusCode.BadRequest));
    }

    private const string DemoClient = "fhirarchive-cli";

    [FhirFact]
    public async Task Demo_accounts_log_in_with_the_readme_credentials()
    {
        foreach (var user in new[] { "drchen", "recadmin", "auditor" })
        {
            var token = await fx.DemoTokenAsync(user, "openid fhirUser user/*.cruds user/AuditEvent.rs");
            var claims = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(token);
            Assert.Equal(user, claims.Subject);
        }
        var doctor = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(await fx.DemoTokenAsync("drchen", "openid fhirUser user/*.cruds user/AuditEvent.rs"));
        Assert.Equal("Practitioner/dr-chen-jing", doctor.GetPayloadValue<string>("fhirUser"));
        Assert.Equal("Organization/bj-chaoyang-hospital", doctor.GetPayloadValue<string>("organization"));
        Assert.Equal("TREAT", doctor.GetPayloadValue<string>("purpose_of_use"));
        var auditor = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(await fx.DemoTokenAsync("auditor", "openid fhirUser user/*.cruds user/AuditEvent.rs"));
        Assert.Equal("openid fhirUser user/AuditEvent.rs", auditor.GetPayloadValue<string>("scope"));
    }
}

public sealed class GrantTests(SecurityFixture fx) : GrantTestsBase<SecurityFixture>(fx), IClassFixture<SecurityFixture>;

public sealed class PostgresGrantTests(PostgresSecurityFixture fx) : GrantTestsBase<PostgresSecurityFixture>(fx), IClassFixture<PostgresSecurityFixture>;

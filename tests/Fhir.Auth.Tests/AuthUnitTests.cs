using System.Text;
using FhirArchive.Auth.Accounts;
using FhirArchive.Auth.Scopes;
using FhirArchive.Auth.Tokens;
using FhirArchive.Rest.Access;
using Xunit;

namespace FhirArchive.Auth.Tests;

/// <summary>The building blocks against their specifications' own examples.</summary>
public sealed class AuthUnitTests
{
    [Theory]
    // RFC 6238 appendix B (SHA-1 secret "12345678901234567890"), last six of the eight digits.
    [InlineData(59, "287082")]
    [InlineData(1111111109, "081804")]
    [InlineData(1234567890, "005924")]
    [InlineData(2000000000, "279037")]
    public void Totp_matches_rfc_6238(long unix, string code)
    {
        var secret = Base32("12345678901234567890");
        Assert.Equal(code, Totp.Compute(secret, DateTimeOffset.FromUnixTimeSeconds(unix)));
        Assert.NotNull(Totp.Verify(secret, code, DateTimeOffset.FromUnixTimeSeconds(unix + 30)));
        Assert.Null(Totp.Verify(secret, code, DateTimeOffset.FromUnixTimeSeconds(unix + 95)));
    }

    private static string Base32(string ascii)
    {
        const string A = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var sb = new StringBuilder();
        int buffer = 0, bits = 0;
        foreach (var b in Encoding.ASCII.GetBytes(ascii))
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5) { sb.Append(A[(buffer >> (bits - 5)) & 31]); bits -= 5; }
        }
        if (bits > 0) sb.Append(A[(buffer << (5 - bits)) & 31]);
        return sb.ToString();
    }

    [Fact]
    public void Pkce_matches_rfc_7636_appendix_b()
    {
        Assert.Equal("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", Pkce.Challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
        Assert.True(Pkce.Matches("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        Assert.False(Pkce.Matches("short", Pkce.Challenge("short")));
    }

    [Fact]
    public void Passwords_are_salted_pbkdf2_hashes()
    {
        var a = PasswordHasher.Hash("秘密 secret", 10_000);
        var b = PasswordHasher.Hash("秘密 secret", 10_000);
        Assert.NotEqual(a, b);
        Assert.StartsWith("pbkdf2-sha256$10000$", a);
        Assert.DoesNotContain("secret", a);
        Assert.True(PasswordHasher.Verify("秘密 secret", a));
        Assert.False(PasswordHasher.Verify("秘密 secreT", a));
        Assert.False(PasswordHasher.Verify("x", "plain-text"));
    }

    [Theory]
    [InlineData("patient/*.rs", "patient", "*", Permission.Read | Permission.Search, null)]
    [InlineData("user/Observation.cruds", "user", "Observation", Permission.All, null)]
    [InlineData("system/*.rs", "system", "*", Permission.Read | Permission.Search, null)]
    [InlineData("patient/Observation.rs?category=laboratory", "patient", "Observation", Permission.Read | Permission.Search, "category=laboratory")]
    [InlineData("patient/*.read", "patient", "*", Permission.Read | Permission.Search, null)]
    [InlineData("user/*.write", "user", "*", Permission.Create | Permission.Update | Permission.Delete, null)]
    [InlineData("user/*.*", "user", "*", Permission.All, null)]
    [InlineData("system/Patient.d", "system", "Patient", Permission.Delete, null)]
    public void Smart_scopes_parse_in_v1_and_v2_forms(string text, string context, string type, Permission p, string? query)
    {
        var s = SmartScope.Parse(text)!;
        Assert.Equal((context, type, p, query), (s.Context, s.ResourceType, s.Permissions, s.Query));
    }

    [Theory]
    [InlineData("patient/*.sr")]
    [InlineData("patient/*.rr")]
    [InlineData("doctor/*.rs")]
    [InlineData("patient/observation.rs")]
    [InlineData("patient/*.")]
    [InlineData("patient/*.rs?")]
    [InlineData("openid")]
    public void Malformed_scopes_are_not_scopes(string text) => Assert.Null(SmartScope.Parse(text));

    [Fact]
    public void Granting_cuts_requests_to_the_ceiling()
    {
        var granted = ScopeGrant.Grant(["user/*.cruds", "user/Observation.rs?category=laboratory", "patient/*.rs", "launch", "user/*.write"], ["user/*.rs"], person: true);
        Assert.Equal(["user/*.rs", "user/Observation.rs?category=laboratory", "launch"], granted);
        Assert.Equal(["system/Patient.r"], ScopeGrant.Grant(["system/Patient.r", "launch"], ["system/*.cruds"], person: false));
    }

    [Theory]
    [InlineData("GET", "/Patient/1", Permission.Read, "Patient")]
    [InlineData("GET", "/Patient/1/_history/2", Permission.Read, "Patient")]
    [InlineData("GET", "/Patient/1/_history", Permission.Search, "Patient")]
    [InlineData("GET", "/Patient", Permission.Search, "Patient")]
    [InlineData("POST", "/Patient/_search", Permission.Search, "Patient")]
    [InlineData("POST", "/Patient", Permission.Create, "Patient")]
    [InlineData("PUT", "/Patient/1", Permission.Update, "Patient")]
    [InlineData("PATCH", "/Patient/1", Permission.Update, "Patient")]
    [InlineData("DELETE", "/Patient?identifier=x", Permission.Delete, "Patient")]
    [InlineData("GET", "/Patient/1/Observation", Permission.Search, "Observation")]
    [InlineData("POST", "/ValueSet/$expand", Permission.Read, "ValueSet")]
    [InlineData("GET", "/_history", Permission.Search, null)]
    [InlineData("HEAD", "/Patient/1", Permission.Read, "Patient")]
    [InlineData("GET", "/Patient/_history", Permission.Search, "Patient")]
    [InlineData("POST", "/_search", Permission.Search, null)]
    [InlineData("GET", "/", Permission.Search, null)]
    [InlineData("DELETE", "/Patient/1", Permission.Delete, "Patient")]
    [InlineData("GET", "/Patient/1/$everything", Permission.Read, "Patient")]
    [InlineData("POST", "/$export", Permission.Read, null)]
    public void Interactions_are_classified_from_method_and_path(string method, string path, Permission p, string? type)
    {
        var i = FhirInteraction.Classify(method, path.Split('?')[0])!.Value;
        Assert.Equal((p, type), (i.Permission, i.ResourceType));
        Assert.False(i.IsBundle);
    }

    [Theory]
    [InlineData("POST", "/Patient/1")]
    [InlineData("OPTIONS", "/Patient")]
    [InlineData("PUT", "/_history")]
    [InlineData("POST", "/Patient/_history")]
    [InlineData("GET", "/metadata")]
    [InlineData("GET", "/Patient/1/Observation/2")]
    public void What_needs_no_permission_of_its_own_is_left_to_routing(string method, string path) =>
        Assert.Null(FhirInteraction.Classify(method, path));

    [Fact]
    public void A_batch_or_transaction_is_a_bundle_its_entries_are_checked_one_by_one() =>
        Assert.True(FhirInteraction.Classify("POST", "/")!.Value.IsBundle);

    [Theory]
    [InlineData("GET", "/Patient/1", "read", "R", "Patient", "1", null)]
    [InlineData("head", "/Patient/1/_history/2", "vread", "R", "Patient", "1", null)]
    [InlineData("GET", "/Patient/1/_history", "history-instance", "R", "Patient", "1", null)]
    [InlineData("GET", "/Observation", "search-type", "E", "Observation", null, null)]
    [InlineData("GET", "/Patient/1/Observation", "search-type", "E", "Observation", null, null)]
    [InlineData("POST", "/Observation/_search", "search-type", "E", "Observation", null, null)]
    [InlineData("POST", "/Observation", "create", "C", "Observation", null, null)]
    [InlineData("PUT", "/Observation/o1", "update", "U", "Observation", "o1", null)]
    [InlineData("PATCH", "/Observation/o1", "patch", "U", "Observation", "o1", null)]
    [InlineData("DELETE", "/Observation", "delete", "D", "Observation", null, null)]
    [InlineData("GET", "/Patient/p1/$everything", "operation", "E", "Patient", "p1", "$everything")]
    [InlineData("POST", "/", "batch", "E", null, null, null)]
    [InlineData("GET", "/metadata", "capabilities", "R", null, null, null)]
    [InlineData("POST", "/Patient/1", "other", "E", null, null, null)]
    public void Requests_are_named_as_the_audit_records_them(string method, string path, string code, string action, string? type, string? id, string? op) =>
        Assert.Equal(new Interaction(code, action, type, id, op), Interaction.Classify(method, path));

    [Theory]
    [InlineData("110105", "110105")]
    [InlineData("110100", "1101")]
    [InlineData("110000", "11")]
    public void Division_codes_match_by_level(string code, string prefix) => Assert.Equal(prefix, PatientLinks.DivisionPrefix(code));

    [Fact]
    public void Loopback_redirects_may_use_any_port_others_must_match_exactly()
    {
        Assert.True(AuthServer.RedirectMatches("http://127.0.0.1/callback", "http://127.0.0.1:53100/callback"));
        Assert.False(AuthServer.RedirectMatches("http://127.0.0.1/callback", "http://127.0.0.1:53100/other"));
        Assert.False(AuthServer.RedirectMatches("https://app.example/cb", "https://app.example:8443/cb"));
        Assert.False(AuthServer.RedirectMatches("http://127.0.0.1/callback", "http://127.0.0.1.evil.example/callback"));
    }
}

using System.Net;
using FhirArchive.Auth;
using FhirArchive.Auth.Keys;
using FhirArchive.Auth.Tokens;
using Xunit;

namespace FhirArchive.Auth.Tests;

public sealed class SecurityDisabledFixture() : ServerFixtureWith(new Dictionary<string, string> { ["Security:Enabled"] = "false" }, null);

public sealed class PostgresSecurityDisabledFixture() : ServerFixtureWith(PostgresCluster.Settings(new Dictionary<string, string> { ["Security:Enabled"] = "false" }), null);

/// <summary>Security:Enabled=false (benchmarks, development): requests need no token.</summary>
public abstract class SecurityDisabledTestsBase<TFixture>(TFixture fx) where TFixture : ServerFixture
{
    [FhirFact]
    public async Task With_security_off_no_token_is_needed()
    {
        var c = fx.BareClient();
        var id = await c.CreateAsync("""{"resourceType":"Patient","name":[{"family":"测"}]}""");
        Assert.Equal(HttpStatusCode.OK, (await c.GetAsync($"/Patient/{id}")).StatusCode);
    }
}

public sealed class SecurityDisabledTests(SecurityDisabledFixture fx) : SecurityDisabledTestsBase<SecurityDisabledFixture>(fx), IClassFixture<SecurityDisabledFixture>;

public sealed class PostgresSecurityDisabledTests(PostgresSecurityDisabledFixture fx) : SecurityDisabledTestsBase<PostgresSecurityDisabledFixture>(fx), IClassFixture<PostgresSecurityDisabledFixture>;

public sealed class SigningKeyTests
{
    [Theory]
    [InlineData("RS256")]
    [InlineData("ES256")]
    [InlineData("SM2")]
    public async Task The_key_is_generated_once_and_reused_after_a_restart(string alg)
    {
        var folder = Path.Combine(Path.GetTempPath(), "fhirarchive-keys-" + Guid.NewGuid().ToString("N"));
        await using var state = await TempAuthState.CreateAsync();
        try
        {
            var options = new AuthOptions { SigningAlgorithm = alg };
            var file = Path.Combine(folder, "auth", "signing-key.pem");
            var first = new SigningKeys(options, file);
            Assert.True(File.Exists(file));
            if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            var token = Service(options, first, state).CreateAccessToken(new TokenPrincipal("s", false, null, ["system"], ["system/*.rs"], "c"), "http://x").Token;
            var restarted = new SigningKeys(options, file);
            Assert.Equal(first.KeyId, restarted.KeyId);
            Assert.True((await Service(options, restarted, state).ValidateAsync(token, "http://x")).IsValid);
            Assert.Equal(alg == "SM2" ? "SM2SM3" : alg, new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(token).Alg);
        }
        finally { Directory.Delete(folder, true); }
    }

    [Fact]
    public void Switching_to_SM2_with_the_former_key_file_stops_with_the_reason_and_keeps_the_file()
    {
        var folder = Path.Combine(Path.GetTempPath(), "fhirarchive-keys-" + Guid.NewGuid().ToString("N"));
        try
        {
            var file = Path.Combine(folder, "signing-key.pem");
            _ = new SigningKeys(new AuthOptions { SigningAlgorithm = "RS256" }, file);
            var rsa = File.ReadAllText(file);
            var e = Assert.Throws<InvalidOperationException>(() => new SigningKeys(new AuthOptions { SigningAlgorithm = "SM2" }, file));
            Assert.Contains("not an SM2 private key", e.Message);
            Assert.Equal(rsa, File.ReadAllText(file));
        }
        finally { Directory.Delete(folder, true); }
    }

    private static TokenService Service(AuthOptions o, SigningKeys k, TempAuthState state) =>
        new(o, k, new ExternalProviders(o), new RevocationList(state.Store, o, TimeProvider.System), TimeProvider.System);
}

/// <summary>The validated-token cache answers like full validation: expiry and revocation still count on a hit.</summary>
public sealed class ValidatedTokenCacheTests
{
    [Fact]
    public async Task A_cached_token_still_expires_and_can_be_revoked()
    {
        var folder = Path.Combine(Path.GetTempPath(), "fhirarchive-keys-" + Guid.NewGuid().ToString("N"));
        await using var state = await TempAuthState.CreateAsync();
        try
        {
            var clock = new ManualClock();
            var options = new AuthOptions();
            var revocations = new RevocationList(state.Store, options, clock);
            var grants = new GrantStore(state.Store, revocations, options, clock);
            var service = new TokenService(options, new SigningKeys(options, Path.Combine(folder, "key.pem")), new ExternalProviders(options), revocations, clock);
            var cache = new ValidatedTokenCache(service, revocations, options, clock);
            var (token, expires) = service.CreateAccessToken(new TokenPrincipal("s", false, null, ["system"], ["system/*.rs"], "c"), "http://x");

            Assert.True((await cache.ValidateAsync(token, "http://x")).IsValid);
            Assert.True((await cache.ValidateAsync(token, "http://x")).IsValid);
            Assert.False((await cache.ValidateAsync(token, "http://other")).IsValid); // another audience is not a hit

            clock.Now = expires + options.ClockSkew + TimeSpan.FromSeconds(1);
            Assert.Equal("token expired", (await cache.ValidateAsync(token, "http://x")).Error);

            clock.Now = DateTimeOffset.UtcNow;
            var (second, secondExpires) = service.CreateAccessToken(new TokenPrincipal("s", false, null, ["system"], ["system/*.rs"], "c"), "http://x");
            var principal = (await cache.ValidateAsync(second, "http://x")).Principal!;
            await grants.RevokeAccessTokenAsync(principal.TokenId!, secondExpires);
            Assert.Equal("token revoked", (await cache.ValidateAsync(second, "http://x")).Error);
        }
        finally { Directory.Delete(folder, true); }
    }
}

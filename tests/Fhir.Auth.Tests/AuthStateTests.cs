using FhirArchive.Auth;
using FhirArchive.Auth.Accounts;
using FhirArchive.Auth.Tokens;
using Xunit;

namespace FhirArchive.Auth.Tests;

/// <summary>The grant state in the database, without a server: staleness of the revocation list, clean-up, lockout.</summary>
public sealed class AuthStateTests
{
    private static TokenPrincipal Someone() => new("s", true, null, ["clinician"], ["user/*.rs"], "c");

    [Fact]
    public async Task Another_instances_revocation_counts_within_the_refresh_interval_and_after_a_restart()
    {
        await using var state = await TempAuthState.CreateAsync();
        var clock = new ManualClock();
        var options = new AuthOptions { RevocationRefreshInterval = TimeSpan.FromSeconds(2) };
        var here = new RevocationList(state.Store, options, clock);
        var there = new RevocationList(state.Store, options, clock);
        Assert.False(await there.IsRevokedAsync("jti-1"));

        await here.RevokeAsync("jti-1", clock.Now.AddMinutes(10));
        Assert.True(await here.IsRevokedAsync("jti-1"));
        // The other instance answers from memory until its interval has passed, then knows.
        clock.Now += TimeSpan.FromSeconds(1);
        Assert.False(await there.IsRevokedAsync("jti-1"));
        clock.Now += TimeSpan.FromSeconds(1.5);
        Assert.True(await there.IsRevokedAsync("jti-1"));
        // A new instance (a restart) loads it at once.
        Assert.True(await new RevocationList(state.Store, options, clock).IsRevokedAsync("jti-1"));
        Assert.False(await new RevocationList(state.Store, options, clock).IsRevokedAsync("jti-2"));
    }

    [Fact]
    public async Task A_revoked_grant_revokes_its_access_tokens_on_every_instance_until_they_would_have_expired()
    {
        await using var state = await TempAuthState.CreateAsync();
        var clock = new ManualClock();
        var options = new AuthOptions { RevocationRefreshInterval = TimeSpan.FromSeconds(2) };
        var here = new RevocationList(state.Store, options, clock);
        var there = new RevocationList(state.Store, options, clock);
        var inGrant = Someone() with { TokenId = "jti-a", GrantId = "g-1" };
        var renewed = Someone() with { TokenId = "jti-b", GrantId = "g-1" };
        var otherGrant = Someone() with { TokenId = "jti-c", GrantId = "g-2" };
        Assert.False(await there.IsRevokedAsync(inGrant));

        await new GrantStore(state.Store, here, options, clock).RevokeGrantAsync("g-1");
        Assert.True(await here.IsRevokedAsync(inGrant));
        Assert.True(await here.IsRevokedAsync(renewed));
        Assert.False(await here.IsRevokedAsync(otherGrant));
        // A grant id is no token id (and the other way round).
        Assert.False(await here.IsRevokedAsync("g-1"));
        Assert.False(await here.IsRevokedAsync(Someone() with { TokenId = "g-1" }));
        clock.Now += TimeSpan.FromSeconds(2.5);
        Assert.True(await there.IsRevokedAsync(renewed));
        Assert.True(await new RevocationList(state.Store, options, clock).IsRevokedAsync(inGrant));

        // Kept while a token of the grant may live (the access-token lifetime), then forgotten.
        clock.Now += options.AccessTokenLifetime + options.ClockSkew + TimeSpan.FromSeconds(1);
        here.ForgetExpired();
        Assert.False(await here.IsRevokedAsync(inGrant));
        Assert.False(await new RevocationList(state.Store, options, clock).IsRevokedAsync(inGrant));
    }

    [Fact]
    public async Task Expired_state_is_deleted_and_live_state_is_kept()
    {
        await using var state = await TempAuthState.CreateAsync();
        var clock = new ManualClock();
        var options = new AuthOptions();
        var revocations = new RevocationList(state.Store, options, clock);
        var grants = new GrantStore(state.Store, revocations, options, clock);
        var throttle = new LoginThrottle(state.Store, options, clock);
        var now = clock.Now;

        var oldCode = await grants.AddCodeAsync(new AuthorizationCode(Someone(), "c", "http://127.0.0.1/cb", "x", now.AddSeconds(60)));
        var oldRefresh = await grants.AddRefreshAsync(new RefreshGrant(Someone(), "c", "f1", now.AddHours(1)));
        await grants.RevokeAccessTokenAsync("old-jti", now.AddMinutes(15));
        Assert.True(await grants.UseAssertionIdAsync("c", "a1", now.AddMinutes(5)));
        await throttle.FailAsync("Someone");

        clock.Now = now.AddHours(2);
        var liveCode = await grants.AddCodeAsync(new AuthorizationCode(Someone(), "c", "http://127.0.0.1/cb", "x", clock.Now.AddSeconds(60)));
        var liveRefresh = await grants.AddRefreshAsync(new RefreshGrant(Someone(), "c", "f2", clock.Now.AddHours(1)));
        await grants.RevokeAccessTokenAsync("live-jti", clock.Now.AddMinutes(15));
        Assert.Equal(5, await grants.DeleteExpiredAsync());
        Assert.Equal(0, await grants.DeleteExpiredAsync());

        Assert.Null(await grants.TakeCodeAsync(oldCode));
        Assert.Null(await grants.PeekRefreshAsync(oldRefresh));
        Assert.NotNull(await grants.TakeCodeAsync(liveCode));
        Assert.Equal("s", (await grants.PeekRefreshAsync(liveRefresh))!.Principal.Subject);
        Assert.True(await new RevocationList(state.Store, options, clock).IsRevokedAsync("live-jti"));
        // The expired assertion id may be used again.
        Assert.True(await grants.UseAssertionIdAsync("c", "a1", clock.Now.AddMinutes(5)));
        Assert.False(await grants.UseAssertionIdAsync("c", "a1", clock.Now.AddMinutes(5)));
    }

    [Fact]
    public async Task A_code_keeps_its_grant_and_is_taken_once_by_two_stores()
    {
        await using var state = await TempAuthState.CreateAsync();
        var clock = new ManualClock();
        var options = new AuthOptions();
        GrantStore Store() => new(state.Store, new RevocationList(state.Store, options, clock), options, clock);
        var (one, two) = (Store(), Store());
        var principal = Someone() with { Patient = "Patient/li-na", PurposeOfUse = "TREAT", TokenId = null };
        var code = await one.AddCodeAsync(new AuthorizationCode(principal, "c", "http://127.0.0.1/cb", "challenge", clock.Now.AddSeconds(60)));
        var taken = await Task.WhenAll(one.TakeCodeAsync(code), two.TakeCodeAsync(code), two.TakeCodeAsync(code));
        var grant = Assert.Single(taken, t => t is not null)!;
        Assert.Equal(principal.Patient, grant.Principal.Patient);
        Assert.Equal(principal.Scopes, grant.Principal.Scopes);
        Assert.Equal("challenge", grant.CodeChallenge);

        // An expired code is refused (and used up).
        var late = await one.AddCodeAsync(new AuthorizationCode(principal, "c", "http://127.0.0.1/cb", "challenge", clock.Now.AddSeconds(60)));
        clock.Now += TimeSpan.FromSeconds(61);
        Assert.Null(await two.TakeCodeAsync(late));
    }

    [Fact]
    public async Task Lockout_counts_failures_within_the_window_whatever_the_case_of_the_name()
    {
        await using var state = await TempAuthState.CreateAsync();
        var clock = new ManualClock();
        var options = new AuthOptions { MaxFailedLogins = 3, LockoutWindow = TimeSpan.FromMinutes(15) };
        var throttle = new LoginThrottle(state.Store, options, clock);
        Assert.Null(await throttle.FailAsync("DrLi"));
        clock.Now += TimeSpan.FromMinutes(16); // the first failure falls out of the window
        Assert.Null(await throttle.FailAsync("drli"));
        Assert.Null(await throttle.FailAsync("drli"));
        var until = await throttle.FailAsync("DRLI");
        Assert.Equal(clock.Now + options.LockoutWindow, until);
        Assert.Equal(until, await new LoginThrottle(state.Store, options, clock).LockedUntilAsync("drli"));
        clock.Now = until!.Value.AddSeconds(1);
        Assert.Null(await throttle.LockedUntilAsync("drli"));

        Assert.True(await throttle.UseTotpStepAsync("drli", 100));
        Assert.False(await throttle.UseTotpStepAsync("DrLi", 100));
        Assert.False(await throttle.UseTotpStepAsync("drli", 99));
        Assert.True(await throttle.UseTotpStepAsync("drli", 101));
    }
}

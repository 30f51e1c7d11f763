using FhirArchive.Auth.State;

namespace FhirArchive.Auth.Accounts;

/// <summary>
/// Counts failed logins per account, in the database (so a restart or another server instance does not reset them):
/// MaxFailedLogins failures within the window lock the account for the window. Also remembers the last one-time-code
/// step used per account, so a code cannot be replayed (on any instance).
/// </summary>
public sealed class LoginThrottle(ILoginState store, AuthOptions options, TimeProvider clock)
{
    // Account names are matched without regard to case.
    private static string Key(string username) => username.ToLowerInvariant();

    public async Task<DateTimeOffset?> LockedUntilAsync(string username) =>
        await store.LockedUntilAsync(Key(username), clock.GetUtcNow().UtcTicks) is { } until ? new DateTimeOffset(until, TimeSpan.Zero) : null;

    /// <summary>Records a failure; returns the lock end when this failure locked the account.</summary>
    public async Task<DateTimeOffset?> FailAsync(string username)
    {
        var now = clock.GetUtcNow();
        var until = await store.FailLoginAsync(Key(username), now.UtcTicks, (now - options.LockoutWindow).UtcTicks,
            options.MaxFailedLogins, (now + options.LockoutWindow).UtcTicks);
        return until is { } t ? new DateTimeOffset(t, TimeSpan.Zero) : null;
    }

    public Task SucceedAsync(string username) => store.ClearLoginFailuresAsync(Key(username));

    /// <summary>False when this step (or a later one) was already used by the account.</summary>
    public Task<bool> UseTotpStepAsync(string username, long step) => store.UseTotpStepAsync(Key(username), step);
}

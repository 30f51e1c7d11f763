namespace FhirArchive.Auth.Accounts;

/// <summary>
/// Counts failed logins per account: MaxFailedLogins failures within the window lock the account for the window.
/// Also remembers the last one-time-code step used per account, so a code cannot be replayed.
/// </summary>
public sealed class LoginThrottle(AuthOptions options, TimeProvider clock)
{
    private sealed class State
    {
        public readonly Queue<DateTimeOffset> Failures = new();
        public DateTimeOffset? LockedUntil;
        public long LastTotpStep = long.MinValue;
    }

    private readonly Dictionary<string, State> _states = new(StringComparer.OrdinalIgnoreCase);

    public DateTimeOffset? LockedUntil(string username)
    {
        lock (_states)
        {
            var s = Get(username);
            if (s.LockedUntil is { } until && until > clock.GetUtcNow()) return until;
            return null;
        }
    }

    /// <summary>Records a failure; returns the lock end when this failure locked the account.</summary>
    public DateTimeOffset? Fail(string username)
    {
        var now = clock.GetUtcNow();
        lock (_states)
        {
            var s = Get(username);
            s.Failures.Enqueue(now);
            while (s.Failures.Count > 0 && s.Failures.Peek() <= now - options.LockoutWindow) s.Failures.Dequeue();
            if (s.Failures.Count < options.MaxFailedLogins) return null;
            s.Failures.Clear();
            s.LockedUntil = now + options.LockoutWindow;
            return s.LockedUntil;
        }
    }

    public void Succeed(string username)
    {
        lock (_states) Get(username).Failures.Clear();
    }

    /// <summary>False when this step (or a later one) was already used by the account.</summary>
    public bool UseTotpStep(string username, long step)
    {
        lock (_states)
        {
            var s = Get(username);
            if (step <= s.LastTotpStep) return false;
            s.LastTotpStep = step;
            return true;
        }
    }

    private State Get(string username)
    {
        if (!_states.TryGetValue(username, out var s)) _states[username] = s = new State();
        return s;
    }
}

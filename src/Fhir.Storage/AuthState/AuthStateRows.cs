namespace FhirArchive.Storage.AuthState;

// The grant state's rows that only the store itself reads (those Auth sees are in FhirArchive.Auth.State).
// Times are UTC ticks, like ResourceVersion.LastUpdated.

/// <summary>A value that may be used once until it expires (client assertion ids, used authorisation codes).</summary>
public sealed class UsedOnceRow
{
    public string Key { get; set; } = "";
    public long ExpiresAt { get; set; }
}

/// <summary>One failed login (the lockout counts those within its window).</summary>
public sealed class LoginFailureRow
{
    public long Id { get; set; }
    public string Username { get; set; } = "";
    public long At { get; set; }
}

/// <summary>Per account: the lock's end and the last one-time-code step used (no replay).</summary>
public sealed class AccountStateRow
{
    public string Username { get; set; } = "";
    public long? LockedUntil { get; set; }
    public long LastTotpStep { get; set; }
}

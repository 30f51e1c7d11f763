using FhirArchive.Archive.Consent;

namespace FhirArchive.Archive.Grants;

/// <summary>Configuration "Consent:Grants": the limits of the authorisation operations.</summary>
public sealed class GrantOptions
{
    /// <summary>The longest authorisation a clinician may ask for (days).</summary>
    public int MaxDays { get; set; } = 30;

    /// <summary>The period asked when the request names none (days).</summary>
    public int DefaultDays { get; set; } = 7;

    /// <summary>How long a one-time code is valid (minutes).</summary>
    public int CodeMinutes { get; set; } = 5;

    /// <summary>Wrong codes accepted before the request is void.</summary>
    public int MaxAttempts { get; set; } = 5;

    /// <summary>At most this many requests by one requester for one record within <see cref="RateWindowMinutes"/>.</summary>
    public int RateLimit { get; set; } = 5;

    /// <summary>At most this many requests by one requester over all records within <see cref="RateWindowMinutes"/>.</summary>
    public int RequesterRateLimit { get; set; } = 100;

    public int RateWindowMinutes { get; set; } = 10;

    /// <summary>How long a break-glass access lasts (hours).</summary>
    public int BreakGlassHours { get; set; } = 4;
}

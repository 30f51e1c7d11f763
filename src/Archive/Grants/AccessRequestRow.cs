namespace FhirArchive.Archive.Grants;

/// <summary>
/// A request for a resident's one-time code (Patient/$request-access, or a transfer confirmed by SMS): who asks for
/// which record, for what purpose and how long, and the one-time code sent to the resident or guardian — only its salted SM3 hash, with expiry and the
/// attempts made. Kept after it is decided (granted, void, expired): the rate limits count every request.
/// </summary>
public sealed class AccessRequestRow
{
    /// <summary>Random, unguessable (32 hex digits): it is half of what $grant-access needs, the code the other half.</summary>
    public string Id { get; set; } = "";
    /// <summary>
    /// What the caller named, the per-record limit's key (<see cref="RequestSubjects"/>): "Patient/{id}", or
    /// "identifier:" and a keyed hash of the identifier — never the number in clear, nor what it resolved to.
    /// </summary>
    public string Subject { get; set; } = "";
    /// <summary>"Patient/{id}" of the record found (what a code confirms); null when none was.</summary>
    public string? Patient { get; set; }
    /// <summary>Who asks (the practitioner, else the client or user subject): the per-requester rate limit's key.</summary>
    public string Requester { get; set; } = "";
    public string Organization { get; set; } = "";
    public string? Practitioner { get; set; }
    /// <summary>Who receives the code and consents: Patient/{id} or RelatedPerson/{id}; null when no code was sent.</summary>
    public string? Recipient { get; set; }
    public string Purpose { get; set; } = "";
    /// <summary>The period asked for, UTC ticks.</summary>
    public long PeriodStart { get; set; }
    public long PeriodEnd { get; set; }
    public byte[] Salt { get; set; } = [];
    public byte[] CodeHash { get; set; } = [];
    /// <summary>UTC ticks.</summary>
    public long Created { get; set; }
    public long Expires { get; set; }
    public int Attempts { get; set; }
    /// <summary>pending, granted, void (attempts used up, or nothing was sent) or expired.</summary>
    public string Status { get; set; } = AccessRequestStatus.Pending;
    /// <summary>What the code confirmed, once granted: Consent/{id} (an authorisation) or Task/{id} (a transfer request).</summary>
    public string? Consent { get; set; }
}

public static class AccessRequestStatus
{
    public const string Pending = "pending";
    public const string Granted = "granted";
    public const string Void = "void";
    public const string Expired = "expired";
}

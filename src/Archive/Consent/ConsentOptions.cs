namespace FhirArchive.Archive.Consent;

/// <summary>
/// Configuration "Consent": the record-opening rules. The defaults are the safe reading of the Chongqing rules
/// (chapter 4) and the Qinghai plan; each switch that opens more is a documented policy decision of the operator.
/// </summary>
public sealed class ConsentOptions
{
    /// <summary>Off: no consent rules (scopes, roles and divisions still apply).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Qinghai plan: a record opens to its resident (and guardians) only after the signed family doctor authorised it.</summary>
    public bool ResidentOpeningRequired { get; set; } = true;

    /// <summary>
    /// Whether a resident's authorisation also opens the severe-mental-disorder information to another institution.
    /// Default no: it stays with the responsible institution and the mental-health programme staff.
    /// </summary>
    public bool MentalHealthOpensWithAuthorisation { get; set; }

    /// <summary>Whether break-glass also opens the severe-mental-disorder information (default no).</summary>
    public bool BreakGlassOpensMentalHealth { get; set; }

    /// <summary>Age below which a record is a minor's (opens only on the statutory guardian's application).</summary>
    public int AdultAge { get; set; } = 18;

    /// <summary>
    /// System clients not bound to an institution that act for the platform operator (e.g. the regional platform's
    /// own integration, a conformance harness): they read ordinary data of every record, never restricted data.
    /// Unbound clients not listed see only what they wrote themselves.
    /// </summary>
    public string[] PlatformClients { get; set; } = [];

    // Consent:MaxCountedTotal and Consent:MaxScannedPerPage bind to the engine's PagingOptions.

    /// <summary>
    /// Whether every caller may create with an id of its own choosing (PUT to a new id). Off by default: then only the
    /// server itself and <see cref="PlatformClients"/> may, since for anyone else "created" against "not found" would
    /// tell an id that exists but is hidden from one that does not. Turn on only where every writer is trusted.
    /// </summary>
    public bool UpdateCreateForAll { get; set; }

    /// <summary>How long a record's facts and Consents stay cached (other instances' writes show up within this).</summary>
    public int CacheSeconds { get; set; } = 30;
}

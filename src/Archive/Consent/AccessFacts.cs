namespace FhirArchive.Archive.Consent;

/// <summary>What the decision needs of one resource: whose record it is in, its labels, who wrote it.</summary>
/// <param name="PatientIds">The records (Patient ids) it belongs to; null when its type is no one's record data.</param>
/// <param name="Labels">Its sensitivity labels (PSY, HIV) from meta.security.</param>
/// <param name="Source">meta.source: the institution that wrote it ("Organization/…").</param>
/// <param name="Actors">For Consents: the grantees named in provision.actor (they may see their own grants); for transfer Tasks: the
/// requesting and the owning institution (both follow the request to its end, whoever holds the record).</param>
/// <param name="Redactable">For summary types: the sensitive labels of parts that are cut out for callers not cleared.</param>
public sealed record ResourceFacts(
    string Type,
    string Id,
    IReadOnlyList<string>? PatientIds,
    IReadOnlySet<string> Labels,
    string? Source,
    IReadOnlyList<string> Actors,
    IReadOnlySet<string>? Redactable = null);

/// <summary>What the decision needs of one record (a Patient): who holds it, its flags.</summary>
public sealed record RecordFacts(
    string PatientId,
    bool Exists,
    string? ManagingOrganization,
    IReadOnlyList<string> FamilyDoctors,
    bool Classified,
    DateOnly? BirthDate)
{
    public static RecordFacts Missing(string id) => new(id, false, null, [], false, null);

    public bool IsMinor(DateOnly today, int adultAge) => BirthDate is { } b && IsMinor(b, today, adultAge);

    public static bool IsMinor(DateOnly birthDate, DateOnly today, int adultAge) => birthDate.AddYears(adultAge) > today;
}

/// <summary>A record-opening Consent on file, as the decision reads it (see <see cref="ConsentTerms"/>).</summary>
public sealed record ConsentGrant(
    string Id,
    string Category,
    DateTimeOffset? Start,
    DateTimeOffset? End,
    IReadOnlyList<string> Actors,
    IReadOnlyList<string> Purposes,
    IReadOnlyList<string> Performers)
{
    public bool InForce(DateTimeOffset now) => (Start is null || Start <= now) && (End is null || now < End);
}

/// <summary>A RelatedPerson as a guardian: of whom, whether active, statutory or voluntary (null: not recorded).</summary>
public sealed record GuardianFacts(string RelatedPersonId, string? PatientId, bool Active, string? Guardianship);

/// <summary>What one record holds for the decision: its facts, its Consents in force or not, the caller's guardianship.</summary>
public sealed record RecordContext(RecordFacts Record, IReadOnlyList<ConsentGrant> Consents, GuardianFacts? Guardian);

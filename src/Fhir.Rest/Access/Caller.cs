namespace FhirArchive.Rest.Access;

/// <summary>Whether a request comes from a person, a system (hospital HIS, background job) or nobody known.</summary>
public enum CallerKind { Anonymous, Person, System }

/// <summary>The server's roles (who may do what is decided from these, the scopes and the relationships on file).</summary>
public static class Roles
{
    public const string Resident = "resident";
    public const string Guardian = "guardian";
    public const string Clinician = "clinician";
    public const string FamilyDoctor = "family-doctor";
    public const string RecordAdministrator = "record-admin";
    public const string PublicHealthOfficer = "public-health";
    public const string HealthAdministrationOfficer = "health-admin";
    public const string Researcher = "researcher";
    /// <summary>Staff of the severe-mental-disorder programme of a division (精神卫生防治): the only ones outside the responsible institution who see that information.</summary>
    public const string MentalHealthStaff = "mental-health";
    public const string Auditor = "auditor";
    /// <summary>A hospital or primary-care system client, bound to its institution.</summary>
    public const string SystemClient = "system";
    /// <summary>The server itself: sample data, start-up loaders, background jobs.</summary>
    public const string Server = "server";

    public static readonly IReadOnlyList<string> All =
        [Resident, Guardian, Clinician, FamilyDoctor, RecordAdministrator, PublicHealthOfficer, HealthAdministrationOfficer, MentalHealthStaff, Researcher, Auditor, SystemClient, Server];
}

/// <summary>
/// Who is calling: who (person or system), on behalf of which institution, in which role, for which purpose of use.
/// Set once per request by authentication; read by access decisions, audit, and the write rules (meta.source,
/// Provenance). References are relative FHIR references ("Organization/123"); <c>FhirUser</c> is the person's own
/// resource (Practitioner, Patient or RelatedPerson — a guardian's).
/// </summary>
public sealed record Caller(
    CallerKind Kind,
    string Subject,
    string? DisplayName,
    IReadOnlySet<string> Roles,
    IReadOnlyList<string> Scopes,
    string? Organization = null,
    string? Practitioner = null,
    string? Patient = null,
    string? Jurisdiction = null,
    string? PurposeOfUse = null,
    string? ClientId = null,
    string? FhirUser = null)
{
    public static readonly Caller Anonymous = new(CallerKind.Anonymous, "anonymous", null, new HashSet<string>(), []);

    /// <summary>The server acting for itself (start-up loaders, jobs): every role's reach, no person behind it.</summary>
    public static readonly Caller Server = new(CallerKind.System, "fhirarchive-server", "FhirArchive", new HashSet<string> { Access.Roles.Server }, ["system/*.*"]);

    public bool HasRole(string role) => Roles.Contains(role);

    /// <summary>The identifier system of <see cref="Subject"/>: a signed-in user's login or a client's id.</summary>
    public string SubjectSystem => Kind == CallerKind.System ? "urn:fhirarchive:client" : "urn:fhirarchive:user";
}

public static class CallerHttpContextExtensions
{
    private static readonly object Key = typeof(Caller);

    /// <summary>The request's caller; <see cref="Caller.Anonymous"/> when authentication has set none.</summary>
    public static Caller GetCaller(this HttpContext http) =>
        http.Items.TryGetValue(Key, out var c) && c is Caller caller ? caller : Caller.Anonymous;

    public static void SetCaller(this HttpContext http, Caller caller) => http.Items[Key] = caller;
}

using FhirArchive.Auth.Scopes;

namespace FhirArchive.Rest.Access;

/// <summary>
/// What each role may reach (rights matched to duties): the widest scopes it may hold, and the HL7 v3
/// PurposeOfUse codes it may claim (the first is its default). A token's scopes are cut to the ceiling when
/// issued, and every request is checked against it again (tokens of external providers included).
/// </summary>
public static class RolePolicy
{
    public sealed record Rule(IReadOnlyList<string> Ceiling, IReadOnlyList<string> Purposes);

    /// <summary>HL7 v3 PurposeOfUse (urn:oid:2.16.840.1.113883.1.11.20448) codes the server knows.</summary>
    public const string PurposeSystem = "http://terminology.hl7.org/CodeSystem/v3-ActReason";

    public static readonly IReadOnlyDictionary<string, Rule> Rules = new Dictionary<string, Rule>
    {
        [Roles.Resident] = new(["patient/*.rs"], ["PATRQT"]),
        [Roles.Guardian] = new(["patient/*.rs"], ["FAMRQT", "PATRQT"]),
        [Roles.Clinician] = new(["user/*.cruds", "patient/*.cruds"], ["TREAT", "ETREAT"]),
        [Roles.FamilyDoctor] = new(["user/*.cruds", "patient/*.cruds"], ["TREAT", "ETREAT", "PUBHLTH"]),
        [Roles.RecordAdministrator] = new(["user/*.cruds"], ["HOPERAT", "TREAT"]),
        [Roles.PublicHealthOfficer] = new(["user/*.rs"], ["PUBHLTH"]),
        [Roles.HealthAdministrationOfficer] = new(["user/*.rs"], ["HOPERAT", "PUBHLTH"]),
        [Roles.MentalHealthStaff] = new(["user/*.rs"], ["PUBHLTH", "TREAT"]),
        [Roles.Researcher] = new(["user/*.rs"], ["HRESCH"]),
        [Roles.Auditor] = new(["user/AuditEvent.rs", "user/Provenance.rs"], ["HOPERAT", "COMPL"]),
        [Roles.SystemClient] = new(["system/*.cruds"], ["TREAT", "ETREAT", "HOPERAT", "PUBHLTH"]),
        [Roles.Server] = new(["system/*.cruds"], ["HOPERAT"]),
    };

    /// <summary>Roles whose reach is bounded by their division code (a county officer sees only that county).</summary>
    public static bool BoundToDivision(string role) => role is Roles.PublicHealthOfficer or Roles.HealthAdministrationOfficer or Roles.MentalHealthStaff;

    /// <summary>Whether any of the roles may perform the interaction on the type, whatever the scope's context.</summary>
    public static bool Permits(IEnumerable<string> roles, string? resourceType, Permission permission) =>
        roles.Any(r => Rules.TryGetValue(r, out var rule) && rule.Ceiling.Select(SmartScope.Parse).Any(s =>
            s is not null && (resourceType is null || s.AppliesTo(resourceType)) && s.Permissions.HasFlag(permission)));

    public static bool MayClaim(IEnumerable<string> roles, string purpose) =>
        roles.Any(r => Rules.TryGetValue(r, out var rule) && rule.Purposes.Contains(purpose));
}

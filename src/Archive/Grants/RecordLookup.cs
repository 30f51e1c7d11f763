using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Access;
using FhirArchive.Archive.Records;
using FhirArchive.Rest.Search;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;

using FhirArchive.Archive.Consent;

namespace FhirArchive.Archive.Grants;

/// <summary>
/// What the operations read about a record, as the server (the caller may not see it yet): the Patient by id or
/// identifier, its responsible institution, phones, guardians. Whatever a caller may not learn about — an unknown
/// record, a closed (classified) one — is answered as "no such record", the same way every time.
/// </summary>
public sealed class RecordLookup(SearchParser parser)
{
    /// <summary>
    /// The Patient, or null when it is unknown, deleted, ambiguous, or classified and the caller is not its
    /// responsible institution (a classified person's record must not even be seen to exist).
    /// </summary>
    public async Task<ElementNode?> PatientAsync(IWriteSession s, Caller caller, string? id, string? identifier, CancellationToken ct)
    {
        ElementNode? patient = null;
        if (id is not null) patient = RecordScope.Parse(await s.ReadAsync("Patient", id, ct));
        else if (!string.IsNullOrWhiteSpace(identifier))
        {
            var (query, _) = await parser.ParseAsync("Patient", [new("identifier", identifier)], strict: true, ct, s);
            query.Count = 2;
            query.IncludeTotal = false;
            var matches = (await s.SearchAsync(query, ct)).Matches;
            if (matches.Count == 1) patient = RecordScope.Parse(matches[0]);
        }
        if (patient is null) return null;
        if (IsClassified(patient) && ResponsibleInstitution(patient) != caller.Organization) return null;
        return patient;
    }

    public static bool IsClassified(ElementNode resource) =>
        resource.Child("meta")?.ChildrenNamed("security").Any(c =>
            c.Child("system")?.Value == ConsentTerms.SensitivitySystem && c.Child("code")?.Value == ConsentTerms.Classified) == true;

    /// <summary>The record's responsible institution (Patient.managingOrganization), "Organization/…".</summary>
    public static string? ResponsibleInstitution(ElementNode patient) => patient.Child("managingOrganization")?.Child("reference")?.Value;

    /// <summary>The mobile phone of a Patient or RelatedPerson: a phone of use "mobile", else the first phone.</summary>
    public static string? MobilePhone(ElementNode person)
    {
        var phones = person.ChildrenNamed("telecom").Where(t => t.Child("system")?.Value is "phone" or "sms" && t.Child("value")?.Value is { Length: > 0 }).ToList();
        var mobile = phones.FirstOrDefault(t => t.Child("use")?.Value == "mobile") ?? phones.FirstOrDefault();
        return mobile?.Child("value")?.Value;
    }

    /// <summary>RelatedPerson/{id} when it is an active RelatedPerson of Patient/{patientId}; null otherwise.</summary>
    public static async Task<ElementNode?> RelatedPersonOfAsync(IWriteSession s, string? reference, string patientId, CancellationToken ct)
    {
        if (reference?.Split('/') is not ["RelatedPerson", var id]) return null;
        var person = RecordScope.Parse(await s.ReadAsync("RelatedPerson", id, ct));
        if (person is null || person.Child("active")?.Value == "false") return null;
        return person.Child("patient")?.Child("reference")?.Value == "Patient/" + patientId ? person : null;
    }

    /// <summary>statutory or voluntary, from the cn-guardianship extension's coding; null when not recorded.</summary>
    public static string? Guardianship(ElementNode relatedPerson) =>
        relatedPerson.ChildrenNamed("extension").Where(x => x.Child("url")?.Value == ConsentTerms.GuardianshipExtension)
            .SelectMany(x => x.Child("value")?.ChildrenNamed("coding") ?? [])
            .Where(c => c.Child("system")?.Value == ConsentTerms.GuardianshipSystem).Select(c => c.Child("code")?.Value).FirstOrDefault();

    /// <summary>The active RelatedPersons of Patient/{patientId} (at most 20).</summary>
    public async Task<List<ElementNode>> RelatedPersonsAsync(IWriteSession s, string patientId, CancellationToken ct)
    {
        var (query, _) = await parser.ParseAsync("RelatedPerson", [new("patient", "Patient/" + patientId)], strict: true, ct, s);
        query.Count = 20;
        query.IncludeTotal = false;
        return (await s.SearchAsync(query, ct)).Matches.Select(RecordScope.Parse).OfType<ElementNode>()
            .Where(p => p.Child("active")?.Value != "false").ToList();
    }

    /// <summary>An institution's clinician, family doctor or system client: the grantees of authorisations.</summary>
    public static void RequireInstitutionClinician(Caller caller, string what)
    {
        if (caller.Organization is null || !(caller.HasRole(Roles.Clinician) || caller.HasRole(Roles.FamilyDoctor) || caller.HasRole(Roles.SystemClient)))
            throw new FhirException(403, "forbidden", $"{what} is for a clinician, family doctor or system client acting for an institution / 仅医疗机构的医生或系统可发起");
    }

    /// <summary>Under 18 on the given day (birthDate as written: year, year-month or date).</summary>
    public static bool IsMinor(ElementNode patient, DateTimeOffset now) =>
        RecordDirectory.LatestBirthDate(patient.Child("birthDate")?.Value) is { } birth
        && RecordFacts.IsMinor(birth, ConsentDecision.ChinaDate(now), 18);
}

using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Outcomes;
using FhirArchive.Fhir.Validation;
using FhirArchive.Profiles.Identifiers;
using FhirArchive.Terminology;

namespace FhirArchive.Profiles.Validation;

/// <summary>
/// Validation as FhirArchive applies it: the base definitions, the national terminology, the profiles a
/// resource claims (local or official), and the identifier rules no profile can state — the ID card's check
/// character, birth date and sex against the record, the record number's division codes.
/// </summary>
public sealed class RecordValidator
{
    private readonly InstanceValidator _validator;
    private readonly IDivisionDirectory _divisions;

    public RecordValidator(TerminologyService? terminology = null)
    {
        var t = terminology ?? TerminologyService.Default;
        _divisions = new TerminologyDivisionDirectory(t);
        _validator = new InstanceValidator(new ValidationSettings { CodeInValueSet = t.CodeInValueSet, ResolveProfile = CnProfiles.Find });
    }

    /// <param name="profile">A profile to check against besides those the resource claims (the $validate parameter).</param>
    public IReadOnlyList<FhirIssue> Validate(ElementNode resource, string? profile = null)
    {
        var issues = _validator.Validate(resource).ToList();
        var claimed = resource.Child("meta")?.ChildrenNamed("profile").Any(p => p.Value == profile) ?? false;
        if (profile is not null && !claimed)
        {
            if (CnProfiles.Find(profile) is { } p) issues.AddRange(ProfileValidator.Validate(resource, p));
            else issues.Add(new FhirIssue(IssueSeverity.Error, "not-found", $"The profile {profile} is not known here", resource.Location));
        }
        foreach (var patient in resource.Descendants().Prepend(resource).Where(n => n.Type == "Patient"))
            CheckIdentifiers(patient, issues);
        return issues;
    }

    private void CheckIdentifiers(ElementNode patient, List<FhirIssue> issues)
    {
        foreach (var identifier in patient.ChildrenNamed("identifier"))
        {
            var system = identifier.Child("system")?.Value;
            var value = identifier.Child("value")?.Value;
            var where = identifier.Location + ".value";
            switch (system)
            {
                case ResidentIdCard.OidSystem:
                    if (!ResidentIdCard.TryParse(value, _divisions, null, out var parsed, out var problems))
                    {
                        foreach (var p in problems) issues.Add(new FhirIssue(IssueSeverity.Error, "value", $"身份证号无效 / invalid ID card number: {p}", where));
                        break;
                    }
                    if (patient.Child("birthDate")?.Value is { } birthDate && birthDate != parsed!.BirthDate.ToString("yyyy-MM-dd"))
                        issues.Add(new FhirIssue(IssueSeverity.Error, "business-rule",
                            $"出生日期 {birthDate} 与身份证号不符（{parsed.BirthDate:yyyy-MM-dd}）/ the birth date contradicts the ID card number", patient.Location + ".birthDate"));
                    if (patient.Child("gender")?.Value is "male" or "female" && patient.Child("gender")!.Value != (parsed!.IsMale ? "male" : "female"))
                        issues.Add(new FhirIssue(IssueSeverity.Error, "business-rule",
                            $"性别与身份证号不符（应为{(parsed.IsMale ? "男" : "女")}）/ the sex contradicts the ID card number", patient.Location + ".gender"));
                    break;
                case HealthRecordNumber.OidSystem:
                    foreach (var p in HealthRecordNumber.Check(value, _divisions).Problems)
                        issues.Add(new FhirIssue(IssueSeverity.Error, "value", $"健康档案编号无效 / invalid health record number: {p}", where));
                    break;
                case BirthCertificateNumber.System:
                    foreach (var p in BirthCertificateNumber.Check(value).Problems)
                        issues.Add(new FhirIssue(IssueSeverity.Error, "value", $"出生医学证明编号无效 / invalid birth certificate number: {p}", where));
                    break;
            }
        }
    }
}

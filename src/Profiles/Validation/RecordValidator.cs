using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Outcomes;
using FhirArchive.Fhir.Validation;
using FhirArchive.Profiles.Identifiers;
using FhirArchive.Terminology;
using FhirArchive.Terminology.Sources;

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
    private readonly TerminologyService _terminology;

    public RecordValidator(TerminologyService? terminology = null)
    {
        var t = terminology ?? TerminologyService.Default;
        _terminology = t;
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
        {
            CheckIdentifiers(patient, issues);
            CheckAddressDivisions(patient, issues);
        }
        return issues;
    }

    private static readonly Dictionary<string, string> AddressDivisions = new(StringComparer.Ordinal)
    {
        [CnProfiles.Canonical + "cn-household-division"] = "户籍地址 / household-registration address",
        [CnProfiles.Canonical + "cn-residence-division"] = "现住址 / current address",
    };

    /// <summary>
    /// The division code of a household-registration or current address names a current GB/T 2260 division of
    /// county level at least (a 6-digit county code, or a 9-digit township code).
    /// </summary>
    private void CheckAddressDivisions(ElementNode patient, List<FhirIssue> issues)
    {
        foreach (var address in patient.ChildrenNamed("address"))
        foreach (var extension in address.ChildrenNamed("extension"))
        {
            if (extension.Child("url")?.Value is not { } url || !AddressDivisions.TryGetValue(url, out var what)) continue;
            if (extension.Child("value") is not { Value: { } code } value) continue; // a missing value is the profile's to report
            var concept = _terminology.Lookup(CnTerminology.AdminDivision, code)?.Concept;
            var problem = concept is null ? $"代码 {code} 不在 GB/T 2260 行政区划中 / {code} is not a GB/T 2260 division code"
                : concept.Inactive ? $"代码 {code} 已撤销 / {code} is a retired division code"
                : !(code.Length == 6 && concept.Properties.GetValueOrDefault("county-level") == "true" || code.Length == 9 && concept.Properties.GetValueOrDefault("level") == "township")
                    ? $"代码 {code} 不是县级或乡级区划 / {code} is not a county- or township-level division" : null;
            if (problem is not null)
                issues.Add(new FhirIssue(IssueSeverity.Error, "code-invalid", $"{what}行政区划无效 / invalid division of the {what}: {problem}", value.Location));
        }
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

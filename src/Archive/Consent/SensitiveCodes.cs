using FhirArchive.Fhir.Model;
using FhirArchive.Terminology.Sources;

namespace FhirArchive.Archive.Consent;

/// <summary>
/// Which codes make data sensitive, and with which label: the six severe mental disorders (ICD-10 F20, F22, F25,
/// F31, F06.x with G40, F70-F79) and the severe-mental-disorder programme (key population SMD, its code system) are
/// psychiatry information (v3-ActCode PSY); HIV infection and AIDS (ICD-10 B20-B24, Z21, R75) are HIV information.
/// Matching is on ICD-10 code prefixes in any ICD-10 code system (WHO, ICD-10-CN, the national OID).
/// </summary>
public static class SensitiveCodes
{
    private static readonly string[] PsychiatryPrefixes = ["F20", "F22", "F25", "F31", "F70", "F71", "F72", "F73", "F74", "F75", "F76", "F77", "F78", "F79"];
    private static readonly string[] HivPrefixes = ["B20", "B21", "B22", "B23", "B24", "Z21", "R75"];

    /// <summary>The label a single coding carries, or null. F06 counts only beside G40 (epilepsy), so it is decided per resource.</summary>
    public static string? LabelOf(string? system, string? code)
    {
        if (code is null) return null;
        if (system == CnTerminology.SevereMentalDisorder) return ConsentTerms.Psychiatry;
        if (system == CnTerminology.KeyPopulation && code == "SMD") return ConsentTerms.Psychiatry;
        if (!IsIcd10(system)) return null;
        var c = code.Trim().ToUpperInvariant();
        if (PsychiatryPrefixes.Any(c.StartsWith)) return ConsentTerms.Psychiatry;
        if (HivPrefixes.Any(c.StartsWith)) return ConsentTerms.Hiv;
        return null;
    }

    public static bool IsIcd10(string? system) =>
        system is not null && (system.Contains("icd-10", StringComparison.OrdinalIgnoreCase) || system.Contains("icd10", StringComparison.OrdinalIgnoreCase)
                               || system == "urn:oid:2.16.156.10011.2.3.3.11" || system == "urn:oid:2.16.840.1.113883.6.3");

    /// <summary>Every Coding anywhere in the resource (contained resources included).</summary>
    public static IEnumerable<ElementNode> Codings(ElementNode resource) =>
        resource.Descendants().Where(n => n.Type == "Coding");

    /// <summary>The sensitivity labels the resource's own content calls for.</summary>
    public static HashSet<string> LabelsOf(ElementNode resource)
    {
        var labels = new HashSet<string>();
        bool f06 = false, g40 = false;
        foreach (var coding in Codings(resource))
        {
            var system = coding.Child("system")?.Value;
            var code = coding.Child("code")?.Value;
            if (LabelOf(system, code) is { } label) labels.Add(label);
            if (IsIcd10(system) && code is not null)
            {
                f06 |= code.StartsWith("F06", StringComparison.OrdinalIgnoreCase);
                g40 |= code.StartsWith("G40", StringComparison.OrdinalIgnoreCase);
            }
        }
        if (f06 && g40) labels.Add(ConsentTerms.Psychiatry);
        return labels;
    }

    /// <summary>Whether this element's subtree holds a coding with one of the labels (what redaction removes).</summary>
    public static bool Holds(ElementNode element, IReadOnlySet<string> labels) =>
        (element.Type == "Coding" ? [element] : element.Descendants().Where(n => n.Type == "Coding"))
        .Any(c => LabelOf(c.Child("system")?.Value, c.Child("code")?.Value) is { } l && labels.Contains(l));
}

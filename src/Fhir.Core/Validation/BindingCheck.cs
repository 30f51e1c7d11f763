using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Outcomes;

namespace FhirArchive.Fhir.Validation;

/// <summary>
/// A terminology binding checked on one coded node (code, Coding, CodeableConcept, Quantity): required bindings give
/// errors, extensible ones warnings; a verdict the terminology cannot give (null) raises nothing.
/// </summary>
internal static class BindingCheck
{
    public static FhirIssue? Check(ElementNode node, string strength, string valueSet, Func<string, string?, string, bool?> inValueSet)
    {
        if (strength is not ("required" or "extensible")) return null;
        var severity = strength == "required" ? IssueSeverity.Error : IssueSeverity.Warning;
        FhirIssue Issue(string message) => new(severity, "code-invalid", message, node.Location);
        switch (node.Type)
        {
            case "code":
                return node.Value is { } code && inValueSet(valueSet, null, code) == false
                    ? Issue($"The code '{code}' is not in the value set {valueSet} ({strength})")
                    : null;
            // A bound Quantity (or Age, Duration...) is bound by its unit: system and code.
            case "Coding" or "Quantity" or "Age" or "Count" or "Distance" or "Duration" or "SimpleQuantity" or "MoneyQuantity":
                return Verdict(node, valueSet, inValueSet) == false
                    ? Issue($"The {(node.Type == "Coding" ? "coding" : "unit")} {node.Child("system")?.Value}#{node.Child("code")?.Value} is not in the value set {valueSet} ({strength})")
                    : null;
            case "CodeableConcept":
                var anyCoding = false;
                bool? verdict = false;
                foreach (var coding in node.ChildrenNamed("coding"))
                {
                    anyCoding = true;
                    var r = Verdict(coding, valueSet, inValueSet);
                    if (r == true) return null;
                    if (r is null) verdict = null;
                }
                // Extensible bindings allow text alone (the concept is not in the value set); required do not.
                if (!anyCoding)
                    return strength == "required" ? Issue($"A code from the value set {valueSet} is required") : null;
                return verdict == false ? Issue($"None of the codings is in the value set {valueSet} ({strength})") : null;
            default:
                return null;
        }
    }

    private static bool? Verdict(ElementNode coding, string valueSet, Func<string, string?, string, bool?> inValueSet)
    {
        var code = coding.Child("code")?.Value;
        var system = coding.Child("system")?.Value;
        if (code is null || system is null) return null; // nothing to check against (extensions only)
        return inValueSet(valueSet, system, code);
    }
}

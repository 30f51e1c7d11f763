using FhirArchive.Fhir.Model;
using FhirArchive.Terminology;

namespace FhirArchive.Conformance;

/// <summary>
/// Value set membership for one validator case: the value sets the case brings (as the reference harness loads its
/// supporting files into its terminology context), else the default terminology service. A case's value set is
/// read from its compose: included systems (all codes, or listed ones), imported value sets, exclusions; a filter
/// cannot be judged here (null).
/// </summary>
internal sealed class CaseTerminology(IReadOnlyDictionary<string, ElementNode> resources)
{
    public bool? CodeInValueSet(string valueSet, string? system, string code) =>
        Find(valueSet, "ValueSet") is { } vs ? Contains(vs, system, code, 0) : TerminologyService.Default.CodeInValueSet(valueSet, system, code);

    private ElementNode? Find(string url, string type) =>
        resources.GetValueOrDefault(url.Split('|')[0]) is { } r && r.Type == type ? r : null;

    private bool? Contains(ElementNode vs, string? system, string code, int depth)
    {
        if (depth > 10 || vs.Child("compose") is not { } compose) return null;
        bool? included = false;
        foreach (var include in compose.ChildrenNamed("include"))
        {
            var r = IncludeContains(include, system, code, depth);
            if (r == true)
            {
                included = true;
                break;
            }
            if (r is null) included = null;
        }
        if (included != true) return included;
        foreach (var exclude in compose.ChildrenNamed("exclude"))
            if (IncludeContains(exclude, system, code, depth) == true) return false;
        return true;
    }

    private bool? IncludeContains(ElementNode include, string? system, string code, int depth)
    {
        bool? result = true;
        if (include.Child("system")?.Value is { } includedSystem)
        {
            if (system is not null && system != includedSystem) return false;
            if (include.ChildrenNamed("filter").Any()) return null;
            var concepts = include.ChildrenNamed("concept").Select(c => c.Child("code")?.Value).ToList();
            if (concepts.Count > 0) result = concepts.Contains(code);
            else if (Find(includedSystem, "CodeSystem") is { } cs && cs.Child("content")?.Value == "complete") result = Defines(cs, code);
            else result = TerminologyService.Default.ValidateCode(null, includedSystem, code).Result;
        }
        foreach (var imported in include.ChildrenNamed("valueSet"))
        {
            if (result == false || imported.Value is not { } url) break;
            var r = Find(url, "ValueSet") is { } vs ? Contains(vs, system, code, depth + 1) : TerminologyService.Default.CodeInValueSet(url, system, code);
            result = r == false ? false : result is null || r is null ? null : true;
        }
        return result;
    }

    private static bool Defines(ElementNode holder, string code) =>
        holder.ChildrenNamed("concept").Any(c => c.Child("code")?.Value == code || Defines(c, code));
}

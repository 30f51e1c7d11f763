using System.Text.RegularExpressions;
using FhirArchive.Fhir.Model;

namespace FhirArchive.Fhir.Validation;

/// <summary>
/// Invariant dom-3 (every contained resource is referenced from the container, or refers to it), checked natively:
/// the FHIRPath of R4 misses references made from the narrative (an &lt;img src="#id"&gt; or &lt;a href="#id"&gt;),
/// which the specification counts, as the reference validator does.
/// </summary>
internal static partial class ContainedReferences
{
    [GeneratedRegex("""(?:href|src)\s*=\s*["']#([^"']+)["']""")]
    private static partial Regex NarrativeLink();

    /// <summary>true when dom-3 holds for the resource.</summary>
    public static bool Hold(ElementNode resource)
    {
        var contained = resource.ChildrenNamed("contained").ToList();
        if (contained.Count == 0) return true;
        var referenced = new HashSet<string>(StringComparer.Ordinal);
        foreach (var n in resource.Descendants())
        {
            if (!n.IsPrimitive || n.Value is not { } v) continue;
            if (n.Type == "xhtml")
            {
                foreach (Match m in NarrativeLink().Matches(v)) referenced.Add(m.Groups[1].Value);
                continue;
            }
            if (v.Length > 1 && v[0] == '#') referenced.Add(v[1..]);
        }
        return contained.All(c => c.ResourceId is { } id && referenced.Contains(id)
            || c.Descendants().Any(d => d.Name == "reference" && d.Value == "#"));
    }
}

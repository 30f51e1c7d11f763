using System.Xml;
using System.Xml.Linq;
using FhirArchive.Fhir.Model;

namespace FhirArchive.Fhir.Validation;

/// <summary>
/// The narrative-language-control extension on a profile's Narrative element: the narrative is split into language
/// sections (top-level divs with lang / xml:lang). "_no" forbids them, "_yes" requires them, "_resource" requires
/// one in the resource's language, and language codes require a section for each.
/// </summary>
internal static class NarrativeLanguages
{
    public static IEnumerable<string> Problems(ElementNode narrative, IReadOnlyList<string> control)
    {
        if (narrative.Child("div")?.Value is not { } xhtml || Sections(xhtml) is not { } sections) yield break;
        var found = sections.Count == 0 ? "none" : string.Join(", ", sections.Order(StringComparer.Ordinal));
        foreach (var rule in control)
        {
            switch (rule)
            {
                case "_no" when sections.Count > 0:
                    yield return $"The narrative has language sections ({found}), but the profile prohibits them";
                    break;
                case "_yes" when sections.Count == 0:
                    yield return "The narrative has no language sections, but the profile requires them";
                    break;
                case "_resource":
                    if (narrative.ContainingResource?.Child("language")?.Value is { } language && !sections.Contains(language))
                        yield return $"The profile requires a narrative section in the resource's language ({language}), but it has none (found {found})";
                    break;
                case not ("_no" or "_yes"):
                    if (!sections.Contains(rule)) yield return $"The profile requires a narrative section in {rule}, but it has none (found {found})";
                    break;
            }
        }
    }

    /// <summary>The languages of the top-level sections; null when the xhtml cannot be read (the parser reported it).</summary>
    private static HashSet<string>? Sections(string xhtml)
    {
        try
        {
            var div = XElement.Parse(xhtml);
            var languages = new HashSet<string>(StringComparer.Ordinal);
            foreach (var child in div.Elements())
                if (((string?)child.Attribute(XNamespace.Xml + "lang") ?? (string?)child.Attribute("lang")) is { } lang) languages.Add(lang);
            return languages;
        }
        catch (XmlException)
        {
            return null;
        }
    }
}

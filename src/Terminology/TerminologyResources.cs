using FhirArchive.Fhir.Model;
using FhirArchive.Terminology.Model;

namespace FhirArchive.Terminology;

/// <summary>
/// The published FHIR resources (CodeSystem, ValueSet, ConceptMap) of the terminology FhirArchive defines,
/// built on the core element model so they serialise to JSON and XML like any resource.
/// </summary>
public static class TerminologyResources
{
    private const string Publisher = "FhirArchive";

    public static ElementNode ToCodeSystem(CodeSystemInfo cs)
    {
        var r = ElementNode.CreateResource("CodeSystem");
        r.Add("id", cs.Name);
        r.Add("url", cs.Url);
        if (cs.Oid is not null)
        {
            var id = r.Add("identifier");
            id.Add("system", "urn:ietf:rfc:3986");
            id.Add("value", "urn:oid:" + cs.Oid);
        }
        if (cs.Version is not null) r.Add("version", cs.Version);
        r.Add("name", Identifier(cs.Name));
        r.Add("title", cs.Title);
        r.Add("status", "active");
        r.Add("publisher", Publisher);
        if ((cs.Description ?? cs.TitleEn) is { } d) r.Add("description", d);
        r.Add("caseSensitive", cs.CaseSensitive ? "true" : "false");
        if (cs.IsHierarchical) r.Add("hierarchyMeaning", "is-a");
        r.Add("content", cs.Content);
        r.Add("count", cs.Count.ToString());
        foreach (var name in cs.Concepts.SelectMany(c => c.Properties.Keys).Distinct().Order(StringComparer.Ordinal))
        {
            var p = r.Add("property");
            p.Add("code", name);
            p.Add("type", "string");
        }
        foreach (var c in cs.Roots) AddConcept(r, c);
        return r;
    }

    private static void AddConcept(ElementNode parent, Concept c)
    {
        var node = parent.Add("concept");
        node.Add("code", c.Code);
        node.Add("display", c.Display);
        if (c.Definition is not null) node.Add("definition", c.Definition);
        if (c.DisplayEn is not null)
        {
            var d = node.Add("designation");
            d.Add("language", "en");
            d.Add("value", c.DisplayEn);
        }
        foreach (var (code, value) in c.Properties.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var p = node.Add("property");
            p.Add("code", code);
            p.Add("value", value, "string");
        }
        if (c.Inactive)
        {
            var p = node.Add("property");
            p.Add("code", "inactive");
            p.Add("value", "true", "boolean");
        }
        foreach (var child in c.Children) AddConcept(node, child);
    }

    public static ElementNode ToValueSet(ValueSetInfo vs)
    {
        var r = Header("ValueSet", vs.Name, vs.Url, vs.Title);
        if (vs.Description is not null) r.Add("description", vs.Description);
        var compose = r.Add("compose");
        foreach (var inc in vs.Includes) AddInclude(compose, "include", inc);
        foreach (var exc in vs.Excludes) AddInclude(compose, "exclude", exc);
        return r;
    }

    /// <summary>What every published ValueSet and ConceptMap starts with (a CodeSystem puts its identifier and version between).</summary>
    private static ElementNode Header(string type, string name, string url, string title)
    {
        var r = ElementNode.CreateResource(type);
        r.Add("id", name);
        r.Add("url", url);
        r.Add("name", Identifier(name));
        r.Add("title", title);
        r.Add("status", "active");
        r.Add("publisher", Publisher);
        return r;
    }

    private static void AddInclude(ElementNode compose, string name, ValueSetInclude inc)
    {
        var node = compose.Add(name);
        if (inc.System is not null) node.Add("system", inc.System);
        foreach (var code in inc.Codes ?? []) node.Add("concept").Add("code", code);
        foreach (var f in inc.Filters)
        {
            var fn = node.Add("filter");
            fn.Add("property", f.Property);
            fn.Add("op", f.Op);
            fn.Add("value", f.Value);
        }
        foreach (var v in inc.ValueSets) node.Add("valueSet", v);
    }

    public static ElementNode ToConceptMap(ConceptMapInfo map)
    {
        var r = Header("ConceptMap", map.Name, map.Url, map.Title);
        if (map.SourceValueSet is not null) r.Add("source", map.SourceValueSet, "canonical");
        if (map.TargetValueSet is not null) r.Add("target", map.TargetValueSet, "canonical");
        foreach (var g in map.Mappings.GroupBy(m => (m.SourceSystem, m.TargetSystem)))
        {
            var group = r.Add("group");
            group.Add("source", g.Key.SourceSystem);
            group.Add("target", g.Key.TargetSystem);
            foreach (var m in g)
            {
                var el = group.Add("element");
                el.Add("code", m.SourceCode);
                var t = el.Add("target");
                t.Add("code", m.TargetCode);
                t.Add("equivalence", m.Equivalence);
            }
        }
        return r;
    }

    /// <summary>A computer-friendly name (FHIR's name invariant: starts upper-case, letters/digits/_ only).</summary>
    private static string Identifier(string name) =>
        string.Concat(name.Split('-', '.').Where(p => p.Length > 0).Select(p => char.ToUpperInvariant(p[0]) + p[1..]));
}

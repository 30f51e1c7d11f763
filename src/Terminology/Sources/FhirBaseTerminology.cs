using System.Text.Json;
using FhirArchive.Fhir.Definitions;
using FhirArchive.Terminology.Model;

namespace FhirArchive.Terminology.Sources;

/// <summary>
/// The CodeSystems and ValueSets of the FHIR R4 specification (FHIR, HL7 v2 tables and HL7 v3), read from the
/// official definition Bundles embedded in FhirArchive.Fhir.Core.
/// </summary>
public static class FhirBaseTerminology
{
    private static readonly string[] Bundles = ["Bundle-valuesets.json", "Bundle-v3-valuesets.json", "Bundle-v2-valuesets.json"];

    public static (List<CodeSystemInfo> CodeSystems, List<ValueSetInfo> ValueSets) Load()
    {
        var systems = new Dictionary<string, CodeSystemInfo>(StringComparer.Ordinal);
        var valueSets = new Dictionary<string, ValueSetInfo>(StringComparer.Ordinal);
        foreach (var bundle in Bundles)
            foreach (var r in FhirDefinitions.DefinitionResources(bundle))
            {
                switch (Str(r, "resourceType"))
                {
                    case "CodeSystem" when Str(r, "url") is { } url && !systems.ContainsKey(url):
                        systems[url] = ReadCodeSystem(r, url);
                        break;
                    case "ValueSet" when Str(r, "url") is { } url && !valueSets.ContainsKey(url):
                        valueSets[url] = ReadValueSet(r, url);
                        break;
                }
            }
        return (systems.Values.ToList(), valueSets.Values.ToList());
    }

    private static CodeSystemInfo ReadCodeSystem(JsonElement r, string url)
    {
        var cs = new CodeSystemInfo(url, Str(r, "name") ?? url, Str(r, "title") ?? Str(r, "name") ?? url,
            caseSensitive: !r.TryGetProperty("caseSensitive", out var cse) || cse.ValueKind != JsonValueKind.False)
        {
            Version = Str(r, "version"),
            Language = "en",
            Content = Str(r, "content") ?? "complete",
            Description = Str(r, "description"),
        };
        if (r.TryGetProperty("concept", out var concepts)) AddConcepts(cs, concepts, null);
        return cs;
    }

    private static void AddConcepts(CodeSystemInfo cs, JsonElement concepts, string? parent)
    {
        foreach (var c in concepts.EnumerateArray())
        {
            var code = Str(c, "code");
            if (code is null || cs.Find(code) is not null) continue; // a few v3 systems repeat a code under two parents
            var concept = new Concept(code, Str(c, "display") ?? code)
            {
                Definition = Str(c, "definition"),
                Inactive = IsInactive(c),
            };
            if (c.TryGetProperty("property", out var props))
                foreach (var p in props.EnumerateArray())
                    if (Str(p, "code") is { } pc && PropertyValue(p) is { } pv) concept.Properties.TryAdd(pc, pv);
            cs.Add(concept, parent);
            if (c.TryGetProperty("concept", out var children)) AddConcepts(cs, children, code);
        }
    }

    private static bool IsInactive(JsonElement c)
    {
        if (!c.TryGetProperty("property", out var props)) return false;
        foreach (var p in props.EnumerateArray())
        {
            var code = Str(p, "code");
            if (code == "status" && Str(p, "valueCode") is "retired" or "inactive") return true;
            if (code is "inactive" or "deprecated" && p.TryGetProperty("valueBoolean", out var b) && b.ValueKind == JsonValueKind.True) return true;
        }
        return false;
    }

    private static string? PropertyValue(JsonElement p)
    {
        foreach (var prop in p.EnumerateObject())
            if (prop.Name.StartsWith("value", StringComparison.Ordinal))
                return prop.Value.ValueKind == JsonValueKind.String ? prop.Value.GetString() : prop.Value.GetRawText();
        return null;
    }

    private static ValueSetInfo ReadValueSet(JsonElement r, string url)
    {
        var vs = new ValueSetInfo(url, Str(r, "name") ?? url, Str(r, "title") ?? Str(r, "name") ?? url) { Description = Str(r, "description") };
        if (!r.TryGetProperty("compose", out var compose)) return vs;
        if (compose.TryGetProperty("include", out var inc)) vs.Includes.AddRange(inc.EnumerateArray().Select(ReadInclude));
        if (compose.TryGetProperty("exclude", out var exc)) vs.Excludes.AddRange(exc.EnumerateArray().Select(ReadInclude));
        return vs;
    }

    private static ValueSetInclude ReadInclude(JsonElement i)
    {
        List<string>? codes = null;
        if (i.TryGetProperty("concept", out var cs))
            codes = cs.EnumerateArray().Select(c => Str(c, "code")).OfType<string>().ToList();
        var filters = i.TryGetProperty("filter", out var fs)
            ? fs.EnumerateArray().Select(f => new ValueSetFilter(Str(f, "property") ?? "", Str(f, "op") ?? "", Str(f, "value") ?? "")).ToList()
            : [];
        var valueSets = i.TryGetProperty("valueSet", out var vss)
            ? vss.EnumerateArray().Select(v => v.GetString()!).ToList()
            : [];
        return new ValueSetInclude(Str(i, "system"), codes, filters, valueSets);
    }

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}

using System.Collections.Frozen;
using FhirArchive.Fhir.Definitions;

namespace FhirArchive.Storage.Indexing;

public enum SearchParamType { Number, Date, String, Token, Reference, Composite, Quantity, Uri, Special }

/// <summary>One search parameter as the server uses it, for one resource type (the expression narrowed to it).</summary>
public sealed record SearchParamDef(string Code, SearchParamType Type, string? Expression, IReadOnlyList<string> Targets, string Url)
{
    /// <summary>A composite parameter's parts, in order (empty for the other types).</summary>
    public IReadOnlyList<CompositeComponent> Components { get; init; } = [];

    /// <summary>The index name of a composite's i-th component: its rows carry the element's CompositeGroup.</summary>
    public string ComponentParam(int i) => $"{Code}${i}";
}

/// <summary>One component of a composite parameter: the type of its definition and its expression relative to the composite element.</summary>
public sealed record CompositeComponent(SearchParamType Type, string Expression);

/// <summary>
/// The official R4 search parameters by resource type and code, plus any local ones (an implementation guide's
/// SearchParameter resources, read the same way). Parameters on Resource/DomainResource apply to all types.
/// Composite parameters carry their components (from the definitions' component list); special ones are not indexed.
/// </summary>
public sealed class SearchParameterRegistry
{
    private readonly FrozenDictionary<string, FrozenDictionary<string, SearchParamDef>> _byType;

    public static SearchParameterRegistry R4 => Lazy.Value;
    private static readonly Lazy<SearchParameterRegistry> Lazy = new(() => new SearchParameterRegistry(FhirDefinitions.R4));

    /// <param name="local">SearchParameter resources added to the official ones (a local code replaces an official one of the same base and code).</param>
    public SearchParameterRegistry(FhirDefinitions definitions, IEnumerable<System.Text.Json.JsonElement>? local = null)
    {
        var perType = new Dictionary<string, Dictionary<string, SearchParamDef>>();
        var common = new List<SearchParamDef>();
        var all = FhirDefinitions.DefinitionResources("Bundle-searchParams.json").Concat(local ?? []).ToList();
        var typeByUrl = all.Where(r => r.TryGetProperty("url", out _))
            .ToDictionary(r => r.GetProperty("url").GetString()!, r => Enum.Parse<SearchParamType>(r.GetProperty("type").GetString()!, ignoreCase: true));
        foreach (var r in all)
        {
            var code = r.GetProperty("code").GetString()!;
            var type = Enum.Parse<SearchParamType>(r.GetProperty("type").GetString()!, ignoreCase: true);
            var expression = r.TryGetProperty("expression", out var e) ? e.GetString() : null;
            var targets = r.TryGetProperty("target", out var t) ? t.EnumerateArray().Select(x => x.GetString()!).ToArray() : [];
            var url = r.TryGetProperty("url", out var u) ? u.GetString()! : "";
            foreach (var b in r.GetProperty("base").EnumerateArray().Select(x => x.GetString()!))
            {
                var def = new SearchParamDef(code, type, NarrowTo(expression, b), targets, url) { Components = Components(r, typeByUrl) };
                if (b is "Resource" or "DomainResource") common.Add(def);
                else
                {
                    if (!perType.TryGetValue(b, out var d)) perType[b] = d = new Dictionary<string, SearchParamDef>();
                    d[code] = def;
                }
            }
        }
        foreach (var type in definitions.ResourceTypes)
        {
            if (!perType.TryGetValue(type, out var d)) perType[type] = d = new Dictionary<string, SearchParamDef>();
            foreach (var c in common) d.TryAdd(c.Code, c with { Expression = c.Expression });
        }
        _byType = perType.ToFrozenDictionary(kv => kv.Key, kv => kv.Value.ToFrozenDictionary());
    }

    public SearchParamDef? Get(string resourceType, string code) =>
        _byType.TryGetValue(resourceType, out var d) && d.TryGetValue(code, out var p) ? p : null;

    public IEnumerable<SearchParamDef> For(string resourceType) =>
        _byType.TryGetValue(resourceType, out var d) ? d.Values : [];

    /// <summary>The components of a composite definition; empty when one of them names an unknown definition (then unsupported).</summary>
    private static CompositeComponent[] Components(System.Text.Json.JsonElement r, Dictionary<string, SearchParamType> typeByUrl)
    {
        if (!r.TryGetProperty("component", out var cs)) return [];
        var parts = cs.EnumerateArray()
            .Select(c => typeByUrl.TryGetValue(c.GetProperty("definition").GetString()!, out var t) ? new CompositeComponent(t, FixComponent(c.GetProperty("expression").GetString()!)) : null)
            .ToArray();
        return parts.Contains(null) ? [] : [.. parts.OfType<CompositeComponent>()];
    }

    /// <summary>
    /// R4 erratum: Observation code-value-date's component says value.as(DateTime), the System type, where the FHIR
    /// dateTime is meant (its own definition and R5 say dateTime); as() is exact, so it would select nothing.
    /// </summary>
    private static string FixComponent(string expression) => expression.Replace("as(DateTime)", "as(dateTime)", StringComparison.Ordinal);

    /// <summary>Keeps only the union branches of a multi-base expression that apply to <paramref name="type"/>.</summary>
    private static string? NarrowTo(string? expression, string type)
    {
        if (expression is null || type is "Resource" or "DomainResource") return expression;
        var parts = SplitTopLevel(expression, '|')
            .Select(p => p.Trim())
            .Where(p => p.StartsWith(type + ".", StringComparison.Ordinal) || p.StartsWith("(" + type + ".", StringComparison.Ordinal)
                        || p == type)
            .ToList();
        return parts.Count == 0 ? expression : string.Join(" | ", parts);
    }

    /// <summary>Splits at a separator outside parentheses and quoted strings ("a | b.where(x|y)").</summary>
    public static List<string> SplitTopLevel(string s, char separator)
    {
        var result = new List<string>();
        int depth = 0, start = 0;
        var quoted = false;
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (c == '\'') quoted = !quoted;
            else if (quoted) continue;
            else if (c == '(') depth++;
            else if (c == ')') depth--;
            else if (c == separator && depth == 0)
            {
                result.Add(s[start..i]);
                start = i + 1;
            }
        }
        result.Add(s[start..]);
        return result;
    }
}

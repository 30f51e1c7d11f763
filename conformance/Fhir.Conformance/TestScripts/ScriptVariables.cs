using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace FhirArchive.Conformance.TestScripts;

/// <summary>
/// <c>${name}</c> substitution in URLs, headers, bodies and assert values. A script variable is evaluated when it is
/// used (it may read a response that came after its declaration); names the script does not declare come from the
/// runner (<c>--token</c> gives <c>token</c> and <c>token-ROLE</c>, <c>--var name=value</c> any other).
/// </summary>
public static partial class ScriptVariables
{
    [GeneratedRegex(@"\$\{([^}]+)\}", RegexOptions.CultureInvariant)]
    private static partial Regex Reference();

    /// <summary>Replaces each <c>${name}</c> by <paramref name="resolve"/>'s value; an unknown name is an <see cref="UnsupportedException"/>.</summary>
    public static string Substitute(string text, Func<string, string?> resolve) =>
        text.Contains("${", StringComparison.Ordinal)
            ? Reference().Replace(text, m => resolve(m.Groups[1].Value)
                ?? throw new UnsupportedException($"variable '{m.Groups[1].Value}' is not defined (declare it in the script or give --var {m.Groups[1].Value}=…)"))
            : text;

    /// <summary>The names a text refers to.</summary>
    public static IEnumerable<string> Names(string text) => Reference().Matches(text).Select(m => m.Groups[1].Value);

    /// <summary>
    /// A JSONPath of the simple form <c>$.a.b[0].c</c> (or <c>a.b[0].c</c>) over a JSON body: the values found, as text.
    /// XPath and filters are not supported (use an expression).
    /// </summary>
    public static IReadOnlyList<string> JsonPath(string body, string path)
    {
        if (path.StartsWith('/') || path.Contains("f:", StringComparison.Ordinal) || path.Contains('?') || path.Contains('*'))
            throw new UnsupportedException($"path '{path}' (only simple JSONPath $.a.b[0].c; use expression)");
        JsonNode? node;
        try { node = JsonNode.Parse(body); }
        catch (System.Text.Json.JsonException) { return []; }
        var p = path.StartsWith('$') ? path[1..] : path;
        foreach (Match m in PathStep().Matches(p))
        {
            if (node is null) return [];
            if (m.Groups[1].Success) node = node is JsonObject o && o.TryGetPropertyValue(m.Groups[1].Value, out var child) ? child : null;
            else node = node is JsonArray a && int.Parse(m.Groups[2].Value) is var i && i < a.Count ? a[i] : null;
        }
        return node switch
        {
            null => [],
            JsonValue v => [v.TryGetValue<string>(out var s) ? s : v.ToJsonString()],
            _ => [node.ToJsonString()],
        };
    }

    [GeneratedRegex(@"\.?([A-Za-z_][A-Za-z0-9_\-]*)|\[(\d+)\]", RegexOptions.CultureInvariant)]
    private static partial Regex PathStep();
}

using System.Collections.Concurrent;
using FhirArchive.Fhir.Definitions;
using FhirArchive.Fhir.Model;

namespace FhirArchive.Storage.Indexing;

/// <summary>
/// INTERIM evaluator for the plain subset of SearchParameter expressions, until the FHIRPath engine lands:
/// dotted paths, <c>|</c> unions, <c>as X</c>, <c>ofType(X)</c>, <c>where(resolve() is X)</c> (reference type filter),
/// <c>where(field='value')</c>, <c>extension('url')</c>; other functions are ignored (results pass through unfiltered).
/// </summary>
public sealed class SimplePathEvaluator : ISearchExpressionEvaluator
{
    private abstract record Step;
    private sealed record ChildStep(string Name) : Step;
    private sealed record TypeFilter(string Type) : Step;
    private sealed record ResolveIs(string Type) : Step;
    private sealed record WhereEquals(string Field, string Value) : Step;
    private sealed record ExtensionStep(string Url) : Step;

    private sealed record CompiledPath(string Root, Step[] Steps);

    private readonly ConcurrentDictionary<string, CompiledPath[]> _cache = new();

    public IEnumerable<ElementNode> Select(ElementNode resource, string expression)
    {
        foreach (var path in _cache.GetOrAdd(expression, Compile))
        {
            if (!AppliesTo(path.Root, resource)) continue;
            IEnumerable<ElementNode> current = [resource];
            foreach (var step in path.Steps) current = Apply(current, step);
            foreach (var n in current) yield return n;
        }
    }

    private static bool AppliesTo(string root, ElementNode resource) =>
        root == resource.Type || root is "Resource" or "DomainResource" ||
        FhirDefinitions.R4.IsSubtypeOf(resource.Type ?? "", root);

    private static IEnumerable<ElementNode> Apply(IEnumerable<ElementNode> input, Step step) => step switch
    {
        ChildStep c => input.SelectMany(n => n.ChildrenNamed(c.Name)),
        TypeFilter t => input.Where(n => string.Equals(n.Type, t.Type, StringComparison.OrdinalIgnoreCase)
                                         || (n.Type is { } nt && FhirDefinitions.R4.IsSubtypeOf(nt, t.Type))),
        ResolveIs r => input.Where(n => n.Child("reference")?.Value is { } s && ReferenceType(s) == r.Type),
        WhereEquals w => input.Where(n => n.ChildrenNamed(w.Field).Any(c => c.Value == w.Value)),
        ExtensionStep e => input.SelectMany(n => n.ChildrenNamed("extension")).Where(x => x.Child("url")?.Value == e.Url),
        _ => input,
    };

    private static string? ReferenceType(string reference)
    {
        var parts = reference.Split('/', '?');
        return parts.Length >= 2 ? parts[^2] : null;
    }

    private static CompiledPath[] Compile(string expression) =>
        SplitTopLevel(expression, '|').Select(p => CompileOne(p.Trim())).Where(p => p is not null).ToArray()!;

    private static CompiledPath? CompileOne(string path)
    {
        // "(Observation.value as Quantity)" and "Observation.value as Quantity" are the same thing here.
        while (path.StartsWith('(') && path.EndsWith(')')) path = path[1..^1].Trim();
        string? asType = null;
        var asAt = path.LastIndexOf(" as ", StringComparison.Ordinal);
        if (asAt > 0 && !path[asAt..].Contains('('))
        {
            asType = path[(asAt + 4)..].Trim();
            path = path[..asAt].Trim();
            while (path.StartsWith('(') && path.EndsWith(')')) path = path[1..^1].Trim();
        }
        var tokens = SplitTopLevel(path, '.');
        if (tokens.Count == 0 || tokens[0].Contains('(')) return null;
        var steps = new List<Step>();
        foreach (var raw in tokens.Skip(1))
        {
            var t = raw.Trim();
            if (t.StartsWith("where(", StringComparison.Ordinal))
            {
                var arg = t[6..^1].Trim();
                if (arg.StartsWith("resolve() is ", StringComparison.Ordinal)) steps.Add(new ResolveIs(arg[13..].Trim()));
                else if (arg.Split('=') is [var f, var v] && v.Trim().StartsWith('\'') && !f.Contains('('))
                    steps.Add(new WhereEquals(f.Trim(), v.Trim().Trim('\'')));
            }
            else if (t.StartsWith("ofType(", StringComparison.Ordinal)) steps.Add(new TypeFilter(t[7..^1].Trim()));
            else if (t.StartsWith("as(", StringComparison.Ordinal)) steps.Add(new TypeFilter(t[3..^1].Trim()));
            else if (t.StartsWith("extension(", StringComparison.Ordinal)) steps.Add(new ExtensionStep(t[10..^1].Trim().Trim('\'')));
            else if (t.Contains('(')) continue; // first(), exists(), resolve()...: not filtered by the interim evaluator
            else if (t.Contains(" as ", StringComparison.Ordinal))
            {
                var i = t.IndexOf(" as ", StringComparison.Ordinal);
                steps.Add(new ChildStep(t[..i].Trim()));
                steps.Add(new TypeFilter(t[(i + 4)..].Trim()));
            }
            else steps.Add(new ChildStep(t));
        }
        if (asType is not null) steps.Add(new TypeFilter(asType));
        return new CompiledPath(tokens[0].Trim(), steps.ToArray());
    }

    /// <summary>Splits on a separator outside parentheses and quotes.</summary>
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

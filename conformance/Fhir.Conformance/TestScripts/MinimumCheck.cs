using System.Text.Json.Nodes;

namespace FhirArchive.Conformance.TestScripts;

/// <summary>
/// assert.minimumId: the actual resource holds at least the minimum fixture's elements — every property of an object,
/// every item of an array matched by some item (in any order), primitives equal. The root's <c>meta</c>, <c>text</c>
/// and <c>id</c> are the server's to set and are not compared.
/// </summary>
public static class MinimumCheck
{
    private static readonly HashSet<string> ServerOwned = ["meta", "text", "id"];

    /// <summary>The path of the first element of <paramref name="minimum"/> missing from <paramref name="actual"/>; null when none is.</summary>
    public static string? Missing(string minimum, string actual)
    {
        var min = JsonNode.Parse(minimum) as JsonObject ?? throw new ScriptException("the minimum fixture is not a JSON object");
        var act = JsonNode.Parse(actual);
        foreach (var (name, value) in min)
        {
            if (ServerOwned.Contains(name)) continue;
            var found = act is JsonObject o && o.TryGetPropertyValue(name, out var v) ? v : null;
            if (Find(value, found, name) is { } path) return path;
        }
        return null;
    }

    private static string? Find(JsonNode? min, JsonNode? act, string path)
    {
        switch (min)
        {
            case null: return null;
            case JsonObject mo:
                if (act is not JsonObject ao) return path;
                foreach (var (name, value) in mo)
                    if (Find(value, ao.TryGetPropertyValue(name, out var v) ? v : null, path + "." + name) is { } p) return p;
                return null;
            case JsonArray ma:
                if (act is not JsonArray aa) return path;
                for (var i = 0; i < ma.Count; i++)
                    if (!aa.Any(item => Find(ma[i], item, path) is null)) return $"{path}[{i}]";
                return null;
            default:
                return act is JsonValue av && JsonNode.DeepEquals(min, av) ? null : path;
        }
    }
}

using System.Text.Json.Nodes;

namespace FhirArchive.Fhir.Patch;

/// <summary>
/// JSON Patch (RFC 6902): add, remove, replace, move, copy, test over a JSON document.
/// The document is changed in place only through a copy: <see cref="Apply"/> never touches its input.
/// </summary>
public static class JsonPatch
{
    /// <summary>Applies the operations in order; throws <see cref="PatchException"/> on the first that fails.</summary>
    public static JsonNode? Apply(JsonNode? document, JsonNode? patch)
    {
        if (patch is not JsonArray ops) throw new PatchException("A JSON Patch document is an array of operations.");
        var doc = document?.DeepClone();
        for (var i = 0; i < ops.Count; i++)
        {
            if (ops[i] is not JsonObject op) throw new PatchException($"Operation {i} is not an object.");
            try
            {
                doc = ApplyOne(doc, op);
            }
            catch (PatchException e)
            {
                throw new PatchException($"Operation {i} ({op["op"]}): {e.Message}");
            }
        }
        return doc;
    }

    private static JsonNode? ApplyOne(JsonNode? doc, JsonObject op)
    {
        var name = Text(op, "op");
        var path = Pointer.Parse(Text(op, "path"));
        switch (name)
        {
            case "add":
                return Add(doc, path, Value(op));
            case "remove":
                Remove(doc, path);
                return doc;
            case "replace":
                Get(doc, path); // the target must exist
                if (path.Count == 0) return Value(op);
                Remove(doc, path);
                return Add(doc, path, Value(op));
            case "move":
            {
                var from = Pointer.Parse(Text(op, "from"));
                if (path.Count > from.Count && path.Take(from.Count).SequenceEqual(from))
                    throw new PatchException("A value cannot be moved into one of its own children.");
                var value = Get(doc, from)?.DeepClone();
                Remove(doc, from);
                return Add(doc, path, value);
            }
            case "copy":
                return Add(doc, path, Get(doc, Pointer.Parse(Text(op, "from")))?.DeepClone());
            case "test":
                if (!JsonNode.DeepEquals(Get(doc, path), Value(op)))
                    throw new PatchException($"The value at '{Text(op, "path")}' is not the expected value.");
                return doc;
            default:
                throw new PatchException($"Unknown operation '{name}'.");
        }
    }

    private static string Text(JsonObject op, string member) =>
        op[member] is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw new PatchException($"'{member}' is missing or not a string.");

    private static JsonNode? Value(JsonObject op) =>
        op.TryGetPropertyValue("value", out var v) ? v?.DeepClone() : throw new PatchException("'value' is missing.");

    private static JsonNode? Get(JsonNode? doc, IReadOnlyList<string> path)
    {
        var node = doc;
        foreach (var token in path)
            node = node switch
            {
                JsonObject o when o.TryGetPropertyValue(token, out var child) => child,
                JsonArray a => a[ArrayIndex(a, token, allowEnd: false)],
                _ => throw new PatchException($"Path '{Pointer.Format(path)}' does not exist."),
            };
        return node;
    }

    private static JsonNode? Add(JsonNode? doc, IReadOnlyList<string> path, JsonNode? value)
    {
        if (path.Count == 0) return value;
        var parent = Get(doc, path.Take(path.Count - 1).ToList());
        var last = path[^1];
        switch (parent)
        {
            case JsonObject o:
                o[last] = value;
                break;
            case JsonArray a:
                var i = ArrayIndex(a, last, allowEnd: true);
                if (i == a.Count) a.Add(value);
                else a.Insert(i, value);
                break;
            default:
                throw new PatchException($"The parent of '{Pointer.Format(path)}' is not an object or array.");
        }
        return doc;
    }

    private static void Remove(JsonNode? doc, IReadOnlyList<string> path)
    {
        if (path.Count == 0) throw new PatchException("The whole document cannot be removed.");
        var parent = Get(doc, path.Take(path.Count - 1).ToList());
        var last = path[^1];
        switch (parent)
        {
            case JsonObject o when o.ContainsKey(last):
                o.Remove(last);
                break;
            case JsonArray a:
                a.RemoveAt(ArrayIndex(a, last, allowEnd: false));
                break;
            default:
                throw new PatchException($"Path '{Pointer.Format(path)}' does not exist.");
        }
    }

    /// <summary>An array index token: decimal digits without leading zeros, or "-" (the end) where allowed.</summary>
    private static int ArrayIndex(JsonArray a, string token, bool allowEnd)
    {
        if (token == "-" && allowEnd) return a.Count;
        var valid = token.Length > 0 && token.All(char.IsAsciiDigit) && (token.Length == 1 || token[0] != '0') && token.Length < 10;
        var i = valid ? int.Parse(token, System.Globalization.CultureInfo.InvariantCulture) : -1;
        if (i < 0 || i > a.Count || (i == a.Count && !allowEnd)) throw new PatchException($"'{token}' is not a valid index into an array of {a.Count}.");
        return i;
    }

    /// <summary>JSON Pointer (RFC 6901) tokens.</summary>
    private static class Pointer
    {
        public static List<string> Parse(string pointer)
        {
            if (pointer.Length == 0) return [];
            if (pointer[0] != '/') throw new PatchException($"'{pointer}' is not a JSON Pointer (it must start with '/').");
            // "~1" before "~0": "~01" is the token "~1", not "/".
            return pointer[1..].Split('/').Select(t => t.Replace("~1", "/").Replace("~0", "~")).ToList();
        }

        public static string Format(IEnumerable<string> tokens) =>
            string.Concat(tokens.Select(t => "/" + t.Replace("~", "~0").Replace("/", "~1")));
    }
}

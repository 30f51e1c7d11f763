using System.Text;
using System.Text.Json;

namespace FhirArchive.Conformance;

/// <summary>
/// Canonical text of a JSON document for comparisons: object keys sorted, whitespace dropped, numbers kept
/// as written (so "1.50" and "1.5" differ), strings compared by their decoded value.
/// </summary>
public static class JsonCanonical
{
    public static string Of(ReadOnlySpan<byte> json)
    {
        using var doc = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { MaxDepth = 1024 });
        var sb = new StringBuilder();
        Write(doc.RootElement, sb);
        return sb.ToString();
    }

    public static string Of(string json) => Of(Encoding.UTF8.GetBytes(json));

    /// <summary>The first path where two documents differ, or null when they are the same.</summary>
    public static string? FirstDifference(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual)
    {
        using var a = JsonDocument.Parse(expected.ToArray(), new JsonDocumentOptions { MaxDepth = 1024 });
        using var b = JsonDocument.Parse(actual.ToArray(), new JsonDocumentOptions { MaxDepth = 1024 });
        return Diff(a.RootElement, b.RootElement, "$");
    }

    private static string? Diff(JsonElement a, JsonElement b, string path)
    {
        if (a.ValueKind != b.ValueKind) return $"{path}: {a.ValueKind} vs {b.ValueKind}";
        switch (a.ValueKind)
        {
            case JsonValueKind.Object:
                var an = a.EnumerateObject().Select(p => p.Name).ToHashSet();
                var bn = b.EnumerateObject().Select(p => p.Name).ToHashSet();
                foreach (var n in an.Union(bn).Order(StringComparer.Ordinal))
                {
                    if (!an.Contains(n)) return $"{path}.{n}: unexpected";
                    if (!bn.Contains(n)) return $"{path}.{n}: missing";
                    if (Diff(a.GetProperty(n), b.GetProperty(n), $"{path}.{n}") is { } d) return d;
                }
                return null;
            case JsonValueKind.Array:
                if (a.GetArrayLength() != b.GetArrayLength()) return $"{path}: {a.GetArrayLength()} items vs {b.GetArrayLength()}";
                for (var i = 0; i < a.GetArrayLength(); i++)
                    if (Diff(a[i], b[i], $"{path}[{i}]") is { } d) return d;
                return null;
            case JsonValueKind.String:
                return a.GetString() == b.GetString() ? null : $"{path}: \"{Short(a.GetString())}\" vs \"{Short(b.GetString())}\"";
            default:
                return a.GetRawText() == b.GetRawText() ? null : $"{path}: {a.GetRawText()} vs {b.GetRawText()}";
        }
    }

    private static string? Short(string? s) => s is { Length: > 80 } ? s[..77] + "..." : s;

    private static void Write(JsonElement e, StringBuilder sb)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                sb.Append('{');
                var first = true;
                foreach (var p in e.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    if (!first) sb.Append(',');
                    first = false;
                    sb.Append(JsonSerializer.Serialize(p.Name)).Append(':');
                    Write(p.Value, sb);
                }
                sb.Append('}');
                break;
            case JsonValueKind.Array:
                sb.Append('[');
                var i = 0;
                foreach (var x in e.EnumerateArray())
                {
                    if (i++ > 0) sb.Append(',');
                    Write(x, sb);
                }
                sb.Append(']');
                break;
            case JsonValueKind.String:
                sb.Append(JsonSerializer.Serialize(e.GetString()));
                break;
            default:
                sb.Append(e.GetRawText());
                break;
        }
    }
}

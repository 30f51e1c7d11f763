using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using FhirArchive.Fhir.Definitions;
using FhirArchive.Fhir.Model;

namespace FhirArchive.Fhir.Serialization.Json;

/// <summary>
/// Writes the element model as FHIR JSON: "resourceType" first, elements in definition order, choice
/// elements with their type suffix, primitives split into "name" and "_name" where they carry an id or
/// extensions, numbers and booleans unquoted with their original digits. Chinese text is written as is
/// (not \u-escaped).
/// </summary>
public static class FhirJsonSerializer
{
    private static readonly JsonWriterOptions Compact = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
        MaxDepth = 1024,
    };

    private static readonly JsonWriterOptions Indented = Compact with { Indented = true };

    public static string Serialize(ElementNode resource, bool pretty = false)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        Write(resource, buffer, pretty);
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public static byte[] SerializeToUtf8Bytes(ElementNode resource, bool pretty = false)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        Write(resource, buffer, pretty);
        return buffer.WrittenSpan.ToArray();
    }

    public static void Write(ElementNode resource, IBufferWriter<byte> output, bool pretty = false)
    {
        using var writer = new Utf8JsonWriter(output, pretty ? Indented : Compact);
        Write(resource, writer);
    }

    public static void Write(ElementNode resource, Stream output, bool pretty = false)
    {
        using var writer = new Utf8JsonWriter(output, pretty ? Indented : Compact);
        Write(resource, writer);
    }

    /// <summary>Writes a resource (or any complex node) as one JSON object to a writer.</summary>
    public static void Write(ElementNode node, Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        if (node.IsResource) writer.WriteString("resourceType"u8, node.Type);
        WriteChildren(node, writer);
        writer.WriteEndObject();
    }

    private static void WriteChildren(ElementNode node, Utf8JsonWriter writer)
    {
        // The children as they are (a struct, not boxed) when already in definition order, as parsed ones are.
        var children = node.Children;
        if (IsInOrder(children)) WriteChildren(children, writer);
        else WriteChildren(InOrder(children), writer);
    }

    private static void WriteChildren<TList>(TList children, Utf8JsonWriter writer) where TList : IReadOnlyList<ElementNode>
    {
        var i = 0;
        while (i < children.Count)
        {
            var first = children[i];
            var end = i + 1;
            if (first.Definition is not null)
                while (end < children.Count && ReferenceEquals(children[end].Definition, first.Definition)
                       && (!first.Definition.IsChoice || children[end].Type == first.Type))
                    end++;
            WriteGroup(children, i, end, writer);
            i = end;
        }
    }

    private static void WriteGroup<TList>(TList nodes, int start, int end, Utf8JsonWriter writer) where TList : IReadOnlyList<ElementNode>
    {
        var first = nodes[start];
        if (first.Definition is null)
        {
            // Unknown content kept by lenient parsing: written back verbatim.
            writer.WritePropertyName(first.Name);
            if (first.RawJson is not null) writer.WriteRawValue(first.RawJson, skipInputValidation: true);
            else writer.WriteNullValue();
            return;
        }
        var name = first.SerialName;
        var array = first.Definition.IsCollection || end - start > 1;

        if (first.IsPrimitive)
        {
            var anyValue = false;
            var anyExtras = false;
            for (var k = start; k < end; k++)
            {
                anyValue |= nodes[k].HasValue;
                anyExtras |= nodes[k].HasChildren;
            }
            if (anyValue)
            {
                writer.WritePropertyName(name);
                if (array) writer.WriteStartArray();
                for (var k = start; k < end; k++)
                {
                    if (!nodes[k].HasValue) writer.WriteNullValue();
                    else WritePrimitive(nodes[k], writer);
                }
                if (array) writer.WriteEndArray();
            }
            if (anyExtras)
            {
                writer.WritePropertyName("_" + name);
                if (array) writer.WriteStartArray();
                for (var k = start; k < end; k++)
                {
                    if (!nodes[k].HasChildren) writer.WriteNullValue();
                    else
                    {
                        writer.WriteStartObject();
                        WriteChildren(nodes[k], writer);
                        writer.WriteEndObject();
                    }
                }
                if (array) writer.WriteEndArray();
            }
            return;
        }

        writer.WritePropertyName(name);
        if (array) writer.WriteStartArray();
        for (var k = start; k < end; k++) Write(nodes[k], writer);
        if (array) writer.WriteEndArray();
    }

    private static void WritePrimitive(ElementNode node, Utf8JsonWriter writer)
    {
        if (node.TryGetUtf8Value(out var utf8))
        {
            // Still the parsed bytes: copy them without a round trip through UTF-16.
            if (node.TypeDef!.JsonKind == JsonPrimitiveKind.Number && IsJsonNumber(utf8))
                writer.WriteRawValue(utf8, skipInputValidation: true);
            else if (node.TypeDef.JsonKind == JsonPrimitiveKind.Boolean && (utf8.SequenceEqual("true"u8) || utf8.SequenceEqual("false"u8)))
                writer.WriteBooleanValue(utf8[0] == 't');
            else
                writer.WriteStringValue(utf8);
            return;
        }
        var value = node.Value!;
        switch (node.TypeDef!.JsonKind)
        {
            case JsonPrimitiveKind.Number when IsJsonNumber(value):
                writer.WriteRawValue(value, skipInputValidation: true);
                break;
            case JsonPrimitiveKind.Boolean when value is "true" or "false":
                writer.WriteBooleanValue(value == "true");
                break;
            default:
                // Strings, and values lenient parsing kept though they are not valid numbers/booleans.
                writer.WriteStringValue(value);
                break;
        }
    }

    /// <summary>True when the text is a JSON number (so it can be written raw, digits preserved).</summary>
    internal static bool IsJsonNumber(ReadOnlySpan<char> s)
    {
        if (s.Length > 1024) return false;
        Span<byte> bytes = stackalloc byte[s.Length];
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] > 127) return false;
            bytes[i] = (byte)s[i];
        }
        return IsJsonNumber(bytes);
    }

    /// <summary>True when the bytes are a JSON number (so they can be written raw, digits preserved).</summary>
    internal static bool IsJsonNumber(ReadOnlySpan<byte> s)
    {
        var i = 0;
        if (i < s.Length && s[i] == '-') i++;
        if (i >= s.Length) return false;
        if (s[i] == '0') i++;
        else if (s[i] is >= (byte)'1' and <= (byte)'9') while (i < s.Length && char.IsAsciiDigit((char)s[i])) i++;
        else return false;
        if (i < s.Length && s[i] == '.')
        {
            i++;
            var start = i;
            while (i < s.Length && char.IsAsciiDigit((char)s[i])) i++;
            if (i == start) return false;
        }
        if (i < s.Length && (s[i] == 'e' || s[i] == 'E'))
        {
            i++;
            if (i < s.Length && (s[i] == '+' || s[i] == '-')) i++;
            var start = i;
            while (i < s.Length && char.IsAsciiDigit((char)s[i])) i++;
            if (i == start) return false;
        }
        return i == s.Length;
    }

    /// <summary>The children in definition order (already so unless a caller appended out of order).</summary>
    internal static IReadOnlyList<ElementNode> InOrder(ChildList children) =>
        IsInOrder(children) ? children
            : children.Select((c, k) => (c, k)).OrderBy(x => Order(x.c)).ThenBy(x => x.k).Select(x => x.c).ToList();

    private static bool IsInOrder(ChildList children)
    {
        for (var i = 1; i < children.Count; i++)
            if (Order(children[i - 1]) > Order(children[i])) return false;
        return true;
    }

    private static int Order(ElementNode n) => n.Definition?.Order ?? int.MaxValue;
}

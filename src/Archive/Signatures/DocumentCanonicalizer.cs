using System.Buffers;
using System.Globalization;
using System.Text;
using System.Runtime.InteropServices;
using System.Text.Json;
using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Serialization.Json;

namespace FhirArchive.Archive.Signatures;

/// <summary>
/// The bytes a document signature covers: R4's http://hl7.org/fhir/canonicalization/json#document — the Bundle
/// without Bundle.id, Bundle.meta and Bundle.signature — written as RFC 8785 (JCS) JSON: no whitespace, object
/// members sorted by their UTF-16 code units, strings with JCS's minimal escaping (UTF-8 as is).
/// </summary>
/// <remarks>
/// The Bundle goes through the FHIR element model first (parsed, then written by <see cref="FhirJsonSerializer"/>),
/// so what a signature covers is the FHIR content, not a serialisation: pretty-printing, member order and the
/// XML form of the same Bundle canonicalise alike. One deviation from JCS, deliberately: numbers keep the digits FHIR
/// wrote (FHIR decimals carry their precision, 1.50 ≠ 1.5 — R4 json.html), where JCS would rewrite them as an
/// IEEE double; for integers and decimals without trailing zeros or exponents the two agree.
/// </remarks>
public static class DocumentCanonicalizer
{
    public const string Canonicalization = "http://hl7.org/fhir/canonicalization/json#document";

    /// <summary>The canonical bytes of a Bundle (the node is not changed).</summary>
    public static byte[] Canonicalize(ElementNode bundle) => CanonicalizeOwned(bundle.DeepCopy());

    /// <summary>
    /// The same, of a Bundle its caller parsed for this alone (a signer's own parse): its id, meta and signature are
    /// removed from the node itself, saving the copy of a document of hundreds of resources.
    /// </summary>
    public static byte[] CanonicalizeOwned(ElementNode bundle)
    {
        bundle.RemoveAll("id");
        bundle.RemoveAll("meta");
        bundle.RemoveAll("signature");
        var json = FhirJsonSerializer.SerializeToUtf8Bytes(bundle);
        using var document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 1024 });
        var output = new ArrayBufferWriter<byte>(json.Length);
        Write(document.RootElement, output);
        return output.WrittenSpan.ToArray();
    }

    private static void Write(JsonElement e, ArrayBufferWriter<byte> o)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                // Members by name in UTF-16 code units (each name read once: JsonProperty.Name allocates).
                var members = new List<(string Name, JsonElement Value)>();
                foreach (var p in e.EnumerateObject()) members.Add((p.Name, p.Value));
                if (members.Count > 1) members.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
                Byte(o, (byte)'{');
                for (var i = 0; i < members.Count; i++)
                {
                    if (i > 0) Byte(o, (byte)',');
                    String(members[i].Name, o);
                    Byte(o, (byte)':');
                    Write(members[i].Value, o);
                }
                Byte(o, (byte)'}');
                break;
            case JsonValueKind.Array:
                Byte(o, (byte)'[');
                var first = true;
                foreach (var item in e.EnumerateArray())
                {
                    if (!first) Byte(o, (byte)',');
                    first = false;
                    Write(item, o);
                }
                Byte(o, (byte)']');
                break;
            case JsonValueKind.String:
                String(e.GetString()!, o);
                break;
            default: // numbers (FHIR's digits), true, false, null: their text as read
                o.Write(JsonMarshal.GetRawUtf8Value(e));
                break;
        }
    }

    /// <summary>RFC 8785 3.2.2.2: \" \\ \b \f \n \r \t, other controls as \u00xx (lower-case hex), everything else as UTF-8.</summary>
    private static void String(string s, ArrayBufferWriter<byte> o)
    {
        Byte(o, (byte)'"');
        var run = 0; // start of the characters written as they are
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (c >= ' ' && c != '"' && c != '\\') continue;
            Utf8(s.AsSpan(run, i - run), o); // an escaped character is ASCII: no surrogate pair is cut
            run = i + 1;
            switch (c)
            {
                case '"': Ascii(o, "\\\""); break;
                case '\\': Ascii(o, "\\\\"); break;
                case '\b': Ascii(o, "\\b"); break;
                case '\f': Ascii(o, "\\f"); break;
                case '\n': Ascii(o, "\\n"); break;
                case '\r': Ascii(o, "\\r"); break;
                case '\t': Ascii(o, "\\t"); break;
                default: Ascii(o, "\\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture)); break;
            }
        }
        Utf8(s.AsSpan(run), o);
        Byte(o, (byte)'"');
    }

    private static void Utf8(ReadOnlySpan<char> chars, ArrayBufferWriter<byte> o)
    {
        if (chars.IsEmpty) return;
        var written = Encoding.UTF8.GetBytes(chars, o.GetSpan(Encoding.UTF8.GetMaxByteCount(chars.Length)));
        o.Advance(written);
    }

    private static void Byte(ArrayBufferWriter<byte> o, byte b)
    {
        o.GetSpan(1)[0] = b;
        o.Advance(1);
    }

    private static void Ascii(ArrayBufferWriter<byte> o, string s)
    {
        var span = o.GetSpan(s.Length);
        for (var i = 0; i < s.Length; i++) span[i] = (byte)s[i];
        o.Advance(s.Length);
    }
}

using System.Buffers;
using System.Globalization;
using System.Text;
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
    public static byte[] Canonicalize(ElementNode bundle)
    {
        var copy = bundle.DeepCopy();
        copy.RemoveAll("id");
        copy.RemoveAll("meta");
        copy.RemoveAll("signature");
        using var document = JsonDocument.Parse(FhirJsonSerializer.SerializeToUtf8Bytes(copy), new JsonDocumentOptions { MaxDepth = 1024 });
        var output = new ArrayBufferWriter<byte>(8192);
        Write(document.RootElement, output);
        return output.WrittenSpan.ToArray();
    }

    private static void Write(JsonElement e, ArrayBufferWriter<byte> o)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                Ascii(o, "{");
                var first = true;
                foreach (var p in e.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    if (!first) Ascii(o, ",");
                    first = false;
                    String(p.Name, o);
                    Ascii(o, ":");
                    Write(p.Value, o);
                }
                Ascii(o, "}");
                break;
            case JsonValueKind.Array:
                Ascii(o, "[");
                var i = 0;
                foreach (var item in e.EnumerateArray())
                {
                    if (i++ > 0) Ascii(o, ",");
                    Write(item, o);
                }
                Ascii(o, "]");
                break;
            case JsonValueKind.String:
                String(e.GetString()!, o);
                break;
            default: // numbers (FHIR's digits), true, false, null
                Ascii(o, e.GetRawText());
                break;
        }
    }

    /// <summary>RFC 8785 3.2.2.2: \" \\ \b \f \n \r \t, other controls as \u00xx (lower-case hex), everything else as UTF-8.</summary>
    private static void String(string s, ArrayBufferWriter<byte> o)
    {
        var sb = new StringBuilder(s.Length + 2).Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case < ' ': sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture)); break;
                default: sb.Append(c); break;
            }
        }
        sb.Append('"');
        var bytes = Encoding.UTF8.GetBytes(sb.ToString());
        o.Write(bytes);
    }

    private static void Ascii(ArrayBufferWriter<byte> o, string s) => o.Write(Encoding.ASCII.GetBytes(s));
}

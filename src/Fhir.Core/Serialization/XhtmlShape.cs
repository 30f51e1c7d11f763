using FhirArchive.Fhir.Serialization.Xml;

namespace FhirArchive.Fhir.Serialization;

/// <summary>
/// A quick, allocation-free recogniser of the common narrative on its UTF-8 bytes: one
/// &lt;div xmlns="http://www.w3.org/1999/xhtml"&gt; holding balanced elements with ASCII names and no prefixes,
/// quoted attributes (each once, after white space), text, and the five XML entities or character references.
/// True only for text that <see cref="XhtmlChecker"/> accepts; anything else (comments, CDATA, prefixes, other
/// namespaces, errors) answers false, and the caller asks <see cref="XhtmlChecker"/>, the only judge of a rejection.
/// </summary>
internal static class XhtmlShape
{
    private const int MaxDepth = 64;
    private const int MaxAttributes = 16;

    public static bool Accepts(ReadOnlySpan<byte> x)
    {
        Span<int> openStart = stackalloc int[MaxDepth];
        Span<int> openLength = stackalloc int[MaxDepth];
        Span<int> attrStart = stackalloc int[MaxAttributes];
        Span<int> attrLength = stackalloc int[MaxAttributes];
        var i = SkipSpace(x, 0);
        var depth = 0;
        var rootDone = false;
        while (i < x.Length)
        {
            if (x[i] != '<')
            {
                if (depth == 0)
                {
                    // Only white space around the root.
                    if (!IsSpace(x[i])) return false;
                    i++;
                    continue;
                }
                if (!Text(x, ref i)) return false;
                continue;
            }
            i++;
            if (i < x.Length && x[i] == '/')
            {
                // </name S?>
                i++;
                var nameStart = i;
                if (!Name(x, ref i) || depth == 0) return false;
                if (!x.Slice(nameStart, i - nameStart).SequenceEqual(x.Slice(openStart[depth - 1], openLength[depth - 1]))) return false;
                i = SkipSpace(x, i);
                if (i >= x.Length || x[i] != '>') return false;
                i++;
                depth--;
                if (depth == 0) rootDone = true;
                continue;
            }
            // <name (S attr)* S? /?>
            if (rootDone || depth == MaxDepth) return false;
            var start = i;
            if (!Name(x, ref i)) return false;
            var name = x.Slice(start, i - start);
            var root = depth == 0;
            if (root && !name.SequenceEqual("div"u8)) return false;
            var hasNamespace = false;
            var attributes = 0;
            while (true)
            {
                var beforeSpace = i;
                i = SkipSpace(x, i);
                if (i >= x.Length) return false;
                if (x[i] == '>' || x[i] == '/') break;
                if (i == beforeSpace || attributes == MaxAttributes) return false; // attributes need white space before
                var aStart = i;
                if (!Name(x, ref i)) return false;
                var aName = x.Slice(aStart, i - aStart);
                for (var k = 0; k < attributes; k++)
                    if (aName.SequenceEqual(x.Slice(attrStart[k], attrLength[k]))) return false;
                attrStart[attributes] = aStart;
                attrLength[attributes] = i - aStart;
                attributes++;
                i = SkipSpace(x, i);
                if (i >= x.Length || x[i] != '=') return false;
                i = SkipSpace(x, i + 1);
                if (i >= x.Length || x[i] is not ((byte)'"' or (byte)'\'')) return false;
                var quote = x[i++];
                var vStart = i;
                while (i < x.Length && x[i] != quote)
                {
                    if (x[i] == '<') return false;
                    if (x[i] == '&')
                    {
                        if (!Reference(x, ref i)) return false;
                    }
                    else i++;
                }
                if (i >= x.Length) return false;
                var value = x.Slice(vStart, i - vStart);
                i++;
                if (aName.StartsWith("xml"u8))
                {
                    // Only the XHTML default namespace itself (xmlns:p, xml:lang and other namespaces: ask the reader).
                    if (!aName.SequenceEqual("xmlns"u8) || !value.SequenceEqual("http://www.w3.org/1999/xhtml"u8)) return false;
                    hasNamespace = true;
                }
            }
            if (root && !hasNamespace) return false;
            if (x[i] == '/')
            {
                i++;
                if (i >= x.Length || x[i] != '>') return false;
                i++;
                if (root) rootDone = true;
                continue;
            }
            i++; // '>'
            openStart[depth] = start;
            openLength[depth] = name.Length;
            depth++;
        }
        return rootDone && depth == 0;
    }

    /// <summary>Character data up to the next '&lt;': references checked, "]]&gt;" refused.</summary>
    private static bool Text(ReadOnlySpan<byte> x, ref int i)
    {
        while (i < x.Length && x[i] != '<')
        {
            switch (x[i])
            {
                case (byte)'&':
                    if (!Reference(x, ref i)) return false;
                    continue;
                case (byte)'>' when i >= 2 && x[i - 1] == ']' && x[i - 2] == ']':
                    return false;
            }
            i++;
        }
        return true;
    }

    /// <summary>&amp;amp; &amp;lt; &amp;gt; &amp;quot; &amp;apos; or a character reference to a legal XML character.</summary>
    private static bool Reference(ReadOnlySpan<byte> x, ref int i)
    {
        var end = x[i..].IndexOf((byte)';');
        if (end < 2 || end > 10) return false;
        var body = x.Slice(i + 1, end - 1);
        i += end + 1;
        if (body.SequenceEqual("amp"u8) || body.SequenceEqual("lt"u8) || body.SequenceEqual("gt"u8)
            || body.SequenceEqual("quot"u8) || body.SequenceEqual("apos"u8))
            return true;
        if (body[0] != '#' || body.Length < 2) return false;
        var hex = body[1] == 'x';
        var digits = body[(hex ? 2 : 1)..];
        if (digits.IsEmpty || digits.Length > 6) return false;
        var code = 0;
        foreach (var b in digits)
        {
            int d;
            if (b is >= (byte)'0' and <= (byte)'9') d = b - '0';
            else if (hex && b is >= (byte)'a' and <= (byte)'f') d = b - 'a' + 10;
            else if (hex && b is >= (byte)'A' and <= (byte)'F') d = b - 'A' + 10;
            else return false;
            code = code * (hex ? 16 : 10) + d;
        }
        return code is 0x9 or 0xA or 0xD or (>= 0x20 and <= 0xD7FF) or (>= 0xE000 and <= 0xFFFD) or (>= 0x10000 and <= 0x10FFFF);
    }

    /// <summary>An ASCII name without a prefix: [A-Za-z_][A-Za-z0-9._-]*.</summary>
    private static bool Name(ReadOnlySpan<byte> x, ref int i)
    {
        if (i >= x.Length || !(char.IsAsciiLetter((char)x[i]) || x[i] == '_')) return false;
        i++;
        while (i < x.Length && (char.IsAsciiLetterOrDigit((char)x[i]) || x[i] is (byte)'.' or (byte)'_' or (byte)'-')) i++;
        return true;
    }

    private static bool IsSpace(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n';

    private static int SkipSpace(ReadOnlySpan<byte> x, int i)
    {
        while (i < x.Length && IsSpace(x[i])) i++;
        return i;
    }
}

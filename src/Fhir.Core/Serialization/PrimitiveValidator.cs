using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using FhirArchive.Fhir.Definitions;

namespace FhirArchive.Fhir.Serialization;

/// <summary>
/// Checks a primitive's lexical form against the regex its StructureDefinition gives, plus the value-space
/// rules a regex cannot say (32-bit integer ranges, real calendar dates). Regexes run on the non-backtracking
/// engine, so hostile input costs linear time; nothing is allocated for valid values.
/// </summary>
public static class PrimitiveValidator
{
    private static readonly ConcurrentDictionary<string, Regex?> Cache = new();

    // FHIR strings may not hold control characters other than tab, CR and LF, nor U+FFFE and U+FFFF: XML 1.0 cannot
    // hold them, and a resource must be writable in both formats.
    private static readonly SearchValues<byte> ControlBytes = SearchValues.Create(Controls().Select(c => (byte)c).ToArray());
    private static readonly SearchValues<char> ControlChars = SearchValues.Create([.. Controls(), '\uFFFE', '\uFFFF']);

    private static IEnumerable<char> Controls() => Enumerable.Range(0, 32).Where(c => c is not (9 or 10 or 13)).Select(c => (char)c);

    private const string ControlMessage = "the value holds a control character (only tab, CR and LF are allowed) or U+FFFE/U+FFFF";

    /// <summary>U+FFFE and U+FFFF in UTF-8.</summary>
    private static bool HasNonCharacter(ReadOnlySpan<byte> utf8) =>
        utf8.Contains((byte)0xEF) && (utf8.IndexOf("\uFFFE"u8) >= 0 || utf8.IndexOf("\uFFFF"u8) >= 0);

    /// <summary>Returns null when valid, else a message saying what is wrong.</summary>
    public static string? Check(TypeDefinition type, string value) => Check(type, value.AsSpan());

    /// <summary>The same check on UTF-8 bytes (as the JSON parser holds them): decodes only short values.</summary>
    public static string? Check(TypeDefinition type, ReadOnlySpan<byte> utf8)
    {
        if (utf8.IndexOfAny(ControlBytes) >= 0 || HasNonCharacter(utf8)) return ControlMessage;
        switch (type.Name)
        {
            case "string" or "markdown":
                return utf8.IsEmpty ? Empty(type) : null;
            case "xhtml":
                return XhtmlShape.Accepts(utf8) ? null : XhtmlProblem(Encoding.UTF8.GetString(utf8));
            case "base64Binary":
                return IsBase64(utf8) ? null : $"the value is not valid {type.Name}";
        }
        if (utf8.Length > 4096) return Check(type, Encoding.UTF8.GetString(utf8).AsSpan());
        Span<char> chars = stackalloc char[utf8.Length];
        var n = Encoding.UTF8.GetChars(utf8, chars);
        return Check(type, chars[..n]);
    }

    public static string? Check(TypeDefinition type, ReadOnlySpan<char> value)
    {
        if (value.IsEmpty) return Empty(type);
        if (value.IndexOfAny(ControlChars) >= 0) return ControlMessage;
        switch (type.Name)
        {
            case "xhtml":
                return XhtmlProblem(value.ToString());
            case "string" or "markdown":
                return null; // the regex only forbids emptiness (checked above)
        }
        if (!CommonShapes.Match(type.Name, value))
        {
            var regex = Cache.GetOrAdd(type.Name, static (_, t) => t.Regex is null ? null
                : new Regex("^(?:" + XsdWhitespace(t.Regex) + ")$", RegexOptions.NonBacktracking | RegexOptions.CultureInvariant), type);
            if (regex is not null && !regex.IsMatch(value))
                return $"'{Shorten(value)}' is not a valid {type.Name}";
        }
        switch (type.Name)
        {
            case "integer" or "positiveInt" or "unsignedInt":
                if (!int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var i))
                    return $"'{Shorten(value)}' is outside the 32-bit range of {type.Name}";
                if (type.Name == "positiveInt" && i < 1) return $"'{value}' is not a positiveInt (must be ≥ 1)";
                if (type.Name == "unsignedInt" && i < 0) return $"'{value}' is not an unsignedInt (must be ≥ 0)";
                break;
            case "date" or "dateTime" or "instant":
                // The regex has checked the shape; only the day-of-month can still be wrong (Feb 30, Apr 31).
                if (value.Length >= 10 && Number(value, 8, 2) > DateTime.DaysInMonth(Number(value, 0, 4), Number(value, 5, 2)))
                    return $"'{Shorten(value)}' is not a real calendar date";
                break;
        }
        return null;
    }

    private static string? XhtmlProblem(string xhtml) =>
        xhtml.AsSpan().TrimStart().StartsWith("<div") ? Xml.XhtmlChecker.Problem(xhtml) : "xhtml must be a <div> element";

    private static string Empty(TypeDefinition type) => $"empty {type.Name} value (FHIR primitives may not be empty strings)";

    /// <summary>base64 as the FHIR regex allows it: groups of four base64 characters, white space between.</summary>
    private static bool IsBase64(ReadOnlySpan<byte> s)
    {
        var count = 0;
        var padding = 0;
        foreach (var b in s)
        {
            if (b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') continue;
            if (b == '=') padding++;
            else if (padding > 0 || !(char.IsAsciiLetterOrDigit((char)b) || b == '+' || b == '/')) return false;
            count++;
        }
        return count > 0 && count % 4 == 0 && padding <= 2;
    }

    /// <summary>
    /// FHIR's regexes follow XML Schema, where \s is only space, tab, CR and LF; .NET's \s also matches
    /// U+00A0 and other Unicode spaces, which would reject valid codes such as "CHEST\u00A0".
    /// </summary>
    internal static string XsdWhitespace(string regex) =>
        regex.Replace(@"[^\s]", @"[^ \t\r\n]").Replace(@"\S", @"[^ \t\r\n]").Replace(@"\s", @"[ \t\r\n]");

    private static int Number(ReadOnlySpan<char> s, int start, int length)
    {
        var n = 0;
        for (var i = start; i < start + length; i++) n = n * 10 + (s[i] - '0');
        return n;
    }

    private static string Shorten(ReadOnlySpan<char> s) => s.Length <= 64 ? s.ToString() : string.Concat(s[..61], "...");
}

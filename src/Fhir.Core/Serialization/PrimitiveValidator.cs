using System.Collections.Concurrent;
using System.Globalization;
using System.Text.RegularExpressions;
using FhirArchive.Fhir.Definitions;

namespace FhirArchive.Fhir.Serialization;

/// <summary>
/// Checks a primitive's lexical form against the regex its StructureDefinition gives, plus the value-space
/// rules a regex cannot say (32-bit integer ranges, real calendar dates). Regexes run on the non-backtracking
/// engine, so hostile input costs linear time.
/// </summary>
public static class PrimitiveValidator
{
    private static readonly ConcurrentDictionary<string, Regex?> Cache = new();

    /// <summary>Returns null when valid, else a message saying what is wrong.</summary>
    public static string? Check(TypeDefinition type, string value)
    {
        if (value.Length == 0) return $"empty {type.Name} value (FHIR primitives may not be empty strings)";
        if (type.Name == "xhtml")
            return value.AsSpan().TrimStart().StartsWith("<div") ? null : "xhtml must be a <div> element";
        // string/markdown's regex only forbids emptiness (checked); skip the regex for speed.
        if (type.Name is "string" or "markdown") return null;
        var regex = Cache.GetOrAdd(type.Name, _ => type.Regex is null ? null
            : new Regex("^(?:" + XsdWhitespace(type.Regex) + ")$", RegexOptions.NonBacktracking | RegexOptions.CultureInvariant));
        if (regex is not null && !regex.IsMatch(value))
            return $"'{Shorten(value)}' is not a valid {type.Name}";
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
                if (value.Length >= 10 && DayOfMonth(value) > DateTime.DaysInMonth(Number(value, 0, 4), Number(value, 5, 2)))
                    return $"'{Shorten(value)}' is not a real calendar date";
                break;
        }
        return null;
    }

    /// <summary>
    /// FHIR's regexes follow XML Schema, where \s is only space, tab, CR and LF; .NET's \s also matches
    /// U+00A0 and other Unicode spaces, which would reject valid codes such as "CHEST\u00A0".
    /// </summary>
    private static string XsdWhitespace(string regex) =>
        regex.Replace(@"[^\s]", @"[^ \t\r\n]").Replace(@"\S", @"[^ \t\r\n]").Replace(@"\s", @"[ \t\r\n]");

    private static int DayOfMonth(string v) => Number(v, 8, 2);

    private static int Number(string s, int start, int length)
    {
        var n = 0;
        for (var i = start; i < start + length; i++) n = n * 10 + (s[i] - '0');
        return n;
    }

    private static string Shorten(string s) => s.Length <= 64 ? s : s[..61] + "...";
}

namespace FhirArchive.Fhir.Serialization;

/// <summary>
/// Hand-written recognisers for the common lexical forms of the frequent primitive types (codes, ids, uris, dates,
/// numbers), so that most values skip the regex. Each answers true only for values its type's regex certainly
/// matches; false means "not sure": the caller then asks the regex, which stays the only judge of a rejection.
/// </summary>
internal static class CommonShapes
{
    public static bool Match(string typeName, ReadOnlySpan<char> v) => typeName switch
    {
        "uri" or "url" or "canonical" or "code" => NoWhiteSpace(v), // \S* and [^\s]+(\s[^\s]+)* (one token)
        "id" => IsId(v),
        "boolean" => v is "true" or "false",
        "decimal" => IsDecimal(v),
        "integer" => IsInteger(v, allowSign: true),
        "unsignedInt" => IsInteger(v, allowSign: false),
        "positiveInt" => IsInteger(v, allowSign: false) && v[0] != '0',
        "date" => IsDate(v, out var end) && end == v.Length,
        "dateTime" => IsDateTime(v, requireTime: false),
        "instant" => IsDateTime(v, requireTime: true),
        _ => false,
    };

    /// <summary>No XML Schema white space (space, tab, CR, LF); the value is not empty.</summary>
    private static bool NoWhiteSpace(ReadOnlySpan<char> v) => !v.IsEmpty && v.IndexOfAny(" \t\r\n") < 0;

    /// <summary>[A-Za-z0-9\-\.]{1,64}</summary>
    private static bool IsId(ReadOnlySpan<char> v)
    {
        if (v.IsEmpty || v.Length > 64) return false;
        foreach (var c in v)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '.')) return false;
        return true;
    }

    /// <summary>-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?</summary>
    private static bool IsDecimal(ReadOnlySpan<char> v)
    {
        var i = 0;
        if (i < v.Length && v[i] == '-') i++;
        if (!Digits(v, ref i, out var first)) return false;
        if (first == '0' && i > (v[0] == '-' ? 2 : 1)) return false; // a leading zero stands alone
        if (i < v.Length && v[i] == '.')
        {
            i++;
            if (!Digits(v, ref i, out _)) return false;
        }
        if (i < v.Length && v[i] is 'e' or 'E')
        {
            i++;
            if (i < v.Length && v[i] is '+' or '-') i++;
            if (!Digits(v, ref i, out _)) return false;
        }
        return i == v.Length;
    }

    /// <summary>
    /// -?([0]|([1-9][0-9]*)) (or without the sign) of at most 9 digits, so the value also fits the 32-bit range
    /// the caller checks after the regex.
    /// </summary>
    private static bool IsInteger(ReadOnlySpan<char> v, bool allowSign)
    {
        var i = allowSign && v.Length > 0 && v[0] == '-' ? 1 : 0;
        var digits = v.Length - i;
        if (digits is < 1 or > 9) return false;
        if (v[i] == '0') return digits == 1;
        for (; i < v.Length; i++)
            if (!char.IsAsciiDigit(v[i])) return false;
        return true;
    }

    /// <summary>One or more ASCII digits from i; the first is returned.</summary>
    private static bool Digits(ReadOnlySpan<char> v, ref int i, out char first)
    {
        var start = i;
        first = i < v.Length ? v[i] : '\0';
        while (i < v.Length && char.IsAsciiDigit(v[i])) i++;
        return i > start;
    }

    /// <summary>YYYY, YYYY-MM or YYYY-MM-DD (year not 0000, month 01–12, day 01–31); end is where it stops.</summary>
    private static bool IsDate(ReadOnlySpan<char> v, out int end)
    {
        end = 0;
        if (v.Length < 4 || !TwoDigits(v, 0, out var c) || !TwoDigits(v, 2, out var y) || c * 100 + y == 0) return false;
        end = 4;
        if (v.Length == 4 || v[4] != '-') return true;
        if (v.Length < 7 || !TwoDigits(v, 5, out var month) || month is < 1 or > 12) return false;
        end = 7;
        if (v.Length == 7 || v[7] != '-') return true;
        if (v.Length < 10 || !TwoDigits(v, 8, out var day) || day is < 1 or > 31) return false;
        end = 10;
        return true;
    }

    /// <summary>A date, then (required for an instant, only after a full date) Thh:mm:ss(.f+)?(Z|(+|-)hh:mm).</summary>
    private static bool IsDateTime(ReadOnlySpan<char> v, bool requireTime)
    {
        if (!IsDate(v, out var i)) return false;
        if (i == v.Length) return !requireTime;
        if (i != 10 || v[i] != 'T') return false;
        if (v.Length < i + 9 || !TwoDigits(v, i + 1, out var h) || h > 23 || v[i + 3] != ':'
            || !TwoDigits(v, i + 4, out var m) || m > 59 || v[i + 6] != ':' || !TwoDigits(v, i + 7, out var s) || s > 60)
            return false;
        i += 9;
        if (i < v.Length && v[i] == '.')
        {
            i++;
            if (!Digits(v, ref i, out _)) return false;
        }
        if (i == v.Length - 1) return v[i] == 'Z';
        if (i != v.Length - 6 || v[i] is not ('+' or '-') || v[i + 3] != ':'
            || !TwoDigits(v, i + 1, out var zh) || !TwoDigits(v, i + 4, out var zm))
            return false;
        return zh <= 13 && zm <= 59 || zh == 14 && zm == 0;
    }

    private static bool TwoDigits(ReadOnlySpan<char> v, int at, out int value)
    {
        value = 0;
        if (at + 1 >= v.Length || !char.IsAsciiDigit(v[at]) || !char.IsAsciiDigit(v[at + 1])) return false;
        value = (v[at] - '0') * 10 + (v[at + 1] - '0');
        return true;
    }
}

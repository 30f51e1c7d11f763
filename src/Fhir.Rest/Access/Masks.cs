using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace FhirArchive.Rest.Access;

/// <summary>
/// The masking functions (脱敏), one per kind of value (used by the Masking module on every read path, and by the audit
/// trail for the searched values it records), on the text as written. Characters are counted as the reader
/// sees them (text elements: a Chinese character, a surrogate pair or a combined accent is one), and at least
/// <see cref="MinHidden"/> of them are always hidden (all of a shorter value): a short value is never shown whole.
/// </summary>
public static partial class Masks
{
    public const char Star = '*';
    /// <summary>The fewest characters a masked value hides (a 4-character value is hidden whole).</summary>
    public const int MinHidden = 4;

    /// <summary>ID card number: the first 6 (the division code) and the last 4 are kept: 110105********1234.</summary>
    public static string IdCard(string? value) => Keep(value, 6, 4);

    /// <summary>Phone: the first 3 and the last 4 are kept: 138****1234.</summary>
    public static string Phone(string? value) => Keep(value, 3, 4);

    /// <summary>Any other identifier (record number, MRN, health card, e-mail address…): the last 4 are kept.</summary>
    public static string Identifier(string? value) => Keep(value, 0, 4);

    /// <summary>An address line (below county level): hidden whole, without telling its length.</summary>
    public static string AddressLine(string? value) => string.IsNullOrEmpty(value) ? value ?? "" : "***";

    /// <summary>A name part (researchers' de-identified view): the first character is kept, the rest hidden (张伟 → 张*).</summary>
    public static string Name(string? value)
    {
        if (string.IsNullOrEmpty(value)) return value ?? "";
        var chars = TextElements(value);
        return chars.Count <= 1 ? Star.ToString() : chars[0] + new string(Star, chars.Count - 1);
    }

    /// <summary>
    /// Keeps the first <paramref name="head"/> and the last <paramref name="tail"/> characters and stars the rest, one
    /// star per hidden character. When that would hide fewer than <see cref="MinHidden"/>, the head is given up first,
    /// then the tail.
    /// </summary>
    public static string Keep(string? value, int head, int tail)
    {
        if (string.IsNullOrEmpty(value)) return value ?? "";
        var chars = TextElements(value);
        var hide = Math.Min(chars.Count, MinHidden);
        while (chars.Count - head - tail < hide)
            if (head > 0) head--;
            else tail--;
        var sb = new StringBuilder(value.Length);
        for (var i = 0; i < head; i++) sb.Append(chars[i]);
        sb.Append(Star, chars.Count - head - tail);
        for (var i = chars.Count - tail; i < chars.Count; i++) sb.Append(chars[i]);
        return sb.ToString();
    }

    /// <summary>
    /// Free text (a narrative, a note, a display): every ID card number (18 digits, the last maybe X; or the first
    /// generation's 15, told by the birth date in them) and phone number written in it is masked as its kind is — a
    /// mainland mobile, also written in groups (138 1234 5678, 138-1234-5678) or after +86/0086, and a landline with its
    /// area code (010-12345678, (0571)8765432, 0571-87654321-123). The rest of the text stays: dates, postal codes,
    /// codes such as LOINC's 8302-2 and quantities have no such shape.
    /// </summary>
    public static string FreeText(string? text)
    {
        if (string.IsNullOrEmpty(text) || !MayHoldNumber(text)) return text ?? "";
        text = IdCardPattern().Replace(text, m => IdCard(m.Value));
        return PhonePattern().Replace(text, m => Phone(m.Value));
    }

    /// <summary>The fewest digits a number <see cref="FreeText"/> masks holds (a landline with a 3-digit area code and a 7-digit number).</summary>
    private const int NumberDigits = 10;

    /// <summary>
    /// Whether the text may hold a number <see cref="FreeText"/> masks: a run of at least <see cref="NumberDigits"/>
    /// ASCII digits, counted across separators (up to two in a row of space, '-', parentheses) as phone numbers are written (cheap
    /// pre-check; a date with its time, 2024-01-02 10:30, passes it too, and the patterns then decide).
    /// </summary>
    public static bool MayHoldNumber(ReadOnlySpan<char> text)
    {
        var (digits, separators) = (0, 0);
        foreach (var c in text)
            if (char.IsAsciiDigit(c)) { if (++digits >= NumberDigits) return true; separators = 0; }
            else if (c is ' ' or '-' or '(' or ')' && ++separators <= 2) { }
            else (digits, separators) = (0, 0);
        return false;
    }

    /// <summary>The same check on UTF-8 bytes (a stored resource), without decoding them.</summary>
    public static bool MayHoldNumber(ReadOnlySpan<byte> utf8)
    {
        var (digits, separators) = (0, 0);
        foreach (var b in utf8)
            if (b is >= (byte)'0' and <= (byte)'9') { if (++digits >= NumberDigits) return true; separators = 0; }
            else if (b is (byte)' ' or (byte)'-' or (byte)'(' or (byte)')' && ++separators <= 2) { }
            else (digits, separators) = (0, 0);
        return false;
    }

    private static List<string> TextElements(string value)
    {
        var list = new List<string>(value.Length);
        var e = StringInfo.GetTextElementEnumerator(value);
        while (e.MoveNext()) list.Add(e.GetTextElement());
        return list;
    }

    /// <summary>An ID card number: 18 characters (17 digits and a check digit or X), or the first generation's 15 digits
    /// (division, YYMMDD, sequence), told from other 15-digit numbers by the birth date in them.</summary>
    [GeneratedRegex(@"(?<![0-9])(?:[0-9]{17}[0-9Xx]|[1-9][0-9]{5}[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3})(?![0-9A-Za-z])")]
    private static partial Regex IdCardPattern();

    /// <summary>
    /// A phone number: a mainland mobile (1[3-9]x xxxx xxxx, in one run or in groups of 3-4-4 by spaces or hyphens,
    /// maybe after +86 or 0086), or a landline with its area code (0 and 2–3 digits, in parentheses or followed by a
    /// space or hyphen), a 7–8 digit number (not beginning with 0) and maybe an extension (-123). A landline without the separator is left:
    /// a bare run of 10–12 digits beginning with 0 is as likely any other number.
    /// </summary>
    [GeneratedRegex(@"(?<![0-9])(?:(?:(?<![+0-9])(?:\+|00)86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}|(?:\(0[1-9][0-9]{1,2}\)[ -]?|0[1-9][0-9]{1,2}[ -])[1-9][0-9]{6,7}(?:-[0-9]{1,5})?)(?![0-9])")]
    private static partial Regex PhonePattern();
}

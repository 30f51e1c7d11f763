using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace FhirArchive.Archive.Masking;

/// <summary>
/// The masking functions (脱敏), one per kind of value, on the text as written. Characters are counted as the reader
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
    /// Free text (a narrative, a note, a display): every ID card number and mainland mobile number written in it is
    /// masked as its kind is; the rest of the text stays.
    /// </summary>
    public static string FreeText(string? text)
    {
        if (string.IsNullOrEmpty(text) || !HasDigitRun(text, 11)) return text ?? "";
        text = IdCardPattern().Replace(text, m => IdCard(m.Value));
        return MobilePattern().Replace(text, m => Phone(m.Value));
    }

    /// <summary>Whether the text holds a run of at least <paramref name="length"/> ASCII digits (cheap pre-check for <see cref="FreeText"/>).</summary>
    public static bool HasDigitRun(ReadOnlySpan<char> text, int length)
    {
        var run = 0;
        foreach (var c in text)
            if (char.IsAsciiDigit(c)) { if (++run >= length) return true; }
            else run = 0;
        return false;
    }

    /// <summary>The same check on UTF-8 bytes (a stored resource), without decoding them.</summary>
    public static bool HasDigitRun(ReadOnlySpan<byte> utf8, int length)
    {
        var run = 0;
        foreach (var b in utf8)
            if (b is >= (byte)'0' and <= (byte)'9') { if (++run >= length) return true; }
            else run = 0;
        return false;
    }

    private static List<string> TextElements(string value)
    {
        var list = new List<string>(value.Length);
        var e = StringInfo.GetTextElementEnumerator(value);
        while (e.MoveNext()) list.Add(e.GetTextElement());
        return list;
    }

    [GeneratedRegex(@"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")]
    private static partial Regex IdCardPattern();

    [GeneratedRegex(@"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")]
    private static partial Regex MobilePattern();
}

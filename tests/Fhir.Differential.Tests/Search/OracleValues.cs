using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Hl7.Fhir.Model;

namespace FhirArchive.Differential.Tests.Search;

/// <summary>A token as R4 search sees it (search.html#token): a system (null: none) and a code.</summary>
public sealed record OracleToken(string? System, string Code);

/// <summary>A quantity: value, system, code and unit.</summary>
public sealed record OracleQuantity(decimal Value, string? System, string? Code, string? Unit);

/// <summary>A date value or search value as the closed range of UTC ticks its precision covers (search.html#date).</summary>
public readonly record struct TickRange(long Start, long End);

/// <summary>
/// The values of a SearchParameter's FHIRPath result (Firely's POCOs) as each search type reads them, written from
/// the R4 search page, independently of the server's index extractor.
/// </summary>
public static partial class OracleValues
{
    /// <summary>Dates and times without a zone are in the server's local zone (Storage:LocalTimeZone, default +08:00).</summary>
    public static readonly TimeSpan LocalOffset = TimeSpan.FromHours(8);

    public static IEnumerable<OracleToken> Tokens(Base b) => b switch
    {
        Coding { Code: { } code } c => [new OracleToken(c.System, code)],
        CodeableConcept cc => cc.Coding.Where(c => c.Code is not null).Select(c => new OracleToken(c.System, c.Code!)),
        Identifier i when i.Value is not null => [new OracleToken(i.System, i.Value)],
        ContactPoint cp when cp.Value is not null => [new OracleToken(null, cp.Value)],
        FhirBoolean fb when fb.Value is { } v => [new OracleToken(null, v ? "true" : "false")],
        PrimitiveType p when p.JsonValue is not null => [new OracleToken(null, PrimitiveText(p))],
        _ => [],
    };

    public static IEnumerable<string> Strings(Base b) => b switch
    {
        HumanName n => new[] { n.Family, n.Text }.Concat(n.Given).Concat(n.Prefix).Concat(n.Suffix).OfType<string>(),
        Address a => new[] { a.City, a.District, a.State, a.PostalCode, a.Country, a.Text }.Concat(a.Line).OfType<string>(),
        PrimitiveType p when p.JsonValue is not null => [PrimitiveText(p)],
        _ => [],
    };

    public static IEnumerable<TickRange> Dates(Base b)
    {
        switch (b)
        {
            case Period p:
                var start = DateRange(p.Start);
                var end = DateRange(p.End);
                if (start is null && end is null) return [];
                return [new TickRange(start?.Start ?? DateTimeOffset.MinValue.UtcTicks, end?.End ?? DateTimeOffset.MaxValue.UtcTicks)];
            case Timing t:
                return t.EventElement.Select(e => DateRange(e.Value)).OfType<TickRange>();
            case PrimitiveType p when p.JsonValue is not null && DateRange(PrimitiveText(p)) is { } r:
                return [r];
            default:
                return [];
        }
    }

    public static IEnumerable<decimal> Numbers(Base b) => b switch
    {
        FhirDecimal d when d.Value is { } v => [v],
        Integer i when i.Value is { } v => [v],
        UnsignedInt u when u.Value is { } v => [v],
        PositiveInt p when p.Value is { } v => [v],
        _ => [],
    };

    public static IEnumerable<OracleQuantity> Quantities(Base b) => b switch
    {
        Quantity q when q.Value is { } v => [new OracleQuantity(v, q.System, q.Code, q.Unit)],
        Money m when m.Value is { } v => [new OracleQuantity(v, "urn:iso:std:iso:4217", m.Currency?.ToString(), null)],
        _ => [],
    };

    /// <summary>A reference's text (Reference.reference, or a canonical/uri value).</summary>
    public static IEnumerable<string> References(Base b) => b switch
    {
        ResourceReference r when r.Reference is not null => [r.Reference],
        PrimitiveType p when p.JsonValue is not null => [PrimitiveText(p)],
        _ => [],
    };

    public static IEnumerable<string> Uris(Base b) => b is PrimitiveType p && p.JsonValue is not null ? [PrimitiveText(p)] : [];

    /// <summary>A primitive's value as written in JSON.</summary>
    public static string PrimitiveText(PrimitiveType p) => p switch
    {
        Instant i => i.Value!.Value.ToString("yyyy-MM-ddTHH:mm:ss.FFFFFFFK", CultureInfo.InvariantCulture),
        FhirDecimal d => d.Value!.Value.ToString(CultureInfo.InvariantCulture),
        _ => p.ToString() ?? "",
    };

    /// <summary>
    /// Lower-case letters with accents and the letter they carry them on. Written out: the tests run with invariant
    /// globalization (Directory.Build.props), where string.Normalize does not decompose.
    /// </summary>
    private static readonly Dictionary<char, char> Unaccented = new[]
    {
        "aàáâãäåāăąǎ", "cçćĉċč", "dďđ", "eèéêëēĕėęěẽ", "gĝğġģ", "hĥħ", "iìíîïĩīĭįıǐ", "jĵ", "kķ", "lĺļľŀł", "nñńņňǹ",
        "oòóôõöøōŏőǒ", "rŕŗř", "sśŝşšș", "tţťŧț", "uùúûüũūŭůűųǔǖǘǚǜ", "wŵ", "yýÿŷ", "zźżž",
    }.SelectMany(g => g[1..].Select(c => (c, g[0]))).ToDictionary(x => x.c, x => x.Item2);

    /// <summary>Case- and accent-insensitive form (search.html#string): lower case, accents and combining marks dropped.</summary>
    public static string Fold(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (var ch in s)
        {
            var c = char.ToLowerInvariant(ch);
            if (CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.NonSpacingMark) continue;
            sb.Append(Unaccented.GetValueOrDefault(c, c));
        }
        return sb.ToString();
    }

    [GeneratedRegex(@"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$")]
    private static partial Regex DatePattern();

    /// <summary>The range a date, dateTime or instant's precision covers (a year, a month, a day, a minute, a second, a fraction).</summary>
    public static TickRange? DateRange(string? text)
    {
        if (text is null || DatePattern().Match(text) is not { Success: true } m) return null;
        int G(int i, int dflt) => m.Groups[i].Success ? int.Parse(m.Groups[i].Value, CultureInfo.InvariantCulture) : dflt;
        var zone = m.Groups[8].Success ? (m.Groups[8].Value == "Z" ? TimeSpan.Zero : TimeSpan.Parse(m.Groups[8].Value.TrimStart('+'), CultureInfo.InvariantCulture)) : LocalOffset;
        var fraction = m.Groups[7].Success ? m.Groups[7].Value : "";
        var fractionTicks = fraction.Length == 0 ? 0 : long.Parse((fraction + "0000000")[..7], CultureInfo.InvariantCulture);
        var start = new DateTimeOffset(G(1, 0), G(2, 1), G(3, 1), G(4, 0), G(5, 0), G(6, 0), zone).AddTicks(fractionTicks);
        var next = !m.Groups[2].Success ? start.AddYears(1)
            : !m.Groups[3].Success ? start.AddMonths(1)
            : !m.Groups[4].Success ? start.AddDays(1)
            : !m.Groups[6].Success ? start.AddMinutes(1)
            : fraction.Length == 0 ? start.AddSeconds(1)
            : start.AddTicks((long)Math.Pow(10, Math.Max(0, 7 - fraction.Length)));
        return new TickRange(start.UtcTicks, next.UtcTicks - 1);
    }
}

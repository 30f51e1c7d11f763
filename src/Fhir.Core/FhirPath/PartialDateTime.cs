using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace FhirArchive.Fhir.FhirPath;

public enum DateTimePrecision { Year, Month, Day, Hour, Minute, Second, Millisecond }

public enum DateTimeKind2 { Date, DateTime, Time }

/// <summary>
/// A FHIRPath Date, DateTime or Time with the precision it was written with ("2019-02" is a month-precision date).
/// Partial values compare per spec: when precisions differ and the shared part is equal, the answer is unknown (empty).
/// </summary>
public sealed partial class PartialDateTime
{
    public DateTimeKind2 Kind { get; }
    public int Year { get; }
    public int Month { get; }
    public int Day { get; }
    public int Hour { get; }
    public int Minute { get; }
    public int Second { get; }
    public int Millisecond { get; }
    public DateTimePrecision Precision { get; }
    /// <summary>Time-zone offset when given; null for local (unzoned) values and for Dates/Times.</summary>
    public TimeSpan? Offset { get; }
    /// <summary>Digits written after the seconds' decimal point (for output only).</summary>
    private readonly string? _fraction;

    public PartialDateTime(DateTimeKind2 kind, int year, int month, int day, int hour, int minute, int second, int ms,
        DateTimePrecision precision, TimeSpan? offset, string? fraction = null)
    {
        Kind = kind;
        Year = year; Month = month; Day = day; Hour = hour; Minute = minute; Second = second; Millisecond = ms;
        Precision = precision;
        Offset = offset;
        _fraction = fraction;
    }

    public bool IsTime => Kind == DateTimeKind2.Time;

    [GeneratedRegex(@"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")]
    private static partial Regex DateRx();

    [GeneratedRegex(@"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(?:(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?T?$")]
    private static partial Regex DateTimeRx();

    [GeneratedRegex(@"^(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?$")]
    private static partial Regex TimeRx();

    public static bool TryParseDate(string s, out PartialDateTime? value)
    {
        value = null;
        var m = DateRx().Match(s);
        if (!m.Success) return false;
        return TryBuild(DateTimeKind2.Date, m.Groups[1], m.Groups[2], m.Groups[3], null, null, null, null, null, out value);
    }

    public static bool TryParseDateTime(string s, out PartialDateTime? value)
    {
        value = null;
        var m = DateTimeRx().Match(s);
        if (!m.Success) return false;
        return TryBuild(DateTimeKind2.DateTime, m.Groups[1], m.Groups[2], m.Groups[3], m.Groups[4], m.Groups[5], m.Groups[6], m.Groups[7], m.Groups[8], out value);
    }

    public static bool TryParseTime(string s, out PartialDateTime? value)
    {
        value = null;
        var m = TimeRx().Match(s);
        if (!m.Success) return false;
        return TryBuild(DateTimeKind2.Time, null, null, null, m.Groups[1], m.Groups[2], m.Groups[3], m.Groups[4], null, out value);
    }

    /// <summary>A literal after '@': a Date when it has no 'T', else a DateTime.</summary>
    public static bool TryParseLiteral(string s, out PartialDateTime? value) =>
        s.Contains('T') ? TryParseDateTime(s, out value) : TryParseDate(s, out value);

    private static bool TryBuild(DateTimeKind2 kind, Group? y, Group? mo, Group? d, Group? h, Group? mi, Group? sec, Group? frac, Group? tz,
        out PartialDateTime? value)
    {
        value = null;
        static int N(Group? g) => g is { Success: true } ? int.Parse(g.Value, CultureInfo.InvariantCulture) : 0;
        var p = DateTimePrecision.Year;
        if (kind == DateTimeKind2.Time) p = DateTimePrecision.Hour;
        if (mo is { Success: true }) p = DateTimePrecision.Month;
        if (d is { Success: true }) p = DateTimePrecision.Day;
        if (h is { Success: true }) p = DateTimePrecision.Hour;
        if (mi is { Success: true }) p = DateTimePrecision.Minute;
        if (sec is { Success: true }) p = DateTimePrecision.Second;
        var ms = 0;
        string? fraction = null;
        if (frac is { Success: true })
        {
            p = DateTimePrecision.Millisecond;
            fraction = frac.Value;
            ms = int.Parse((frac.Value + "00").AsSpan(0, 3), CultureInfo.InvariantCulture);
        }
        // A time needs at least minutes in a DateTime (hh alone is not allowed), but an hour-only literal is tolerated.
        int year = N(y), month = Math.Max(1, N(mo)), day = Math.Max(1, N(d)), hour = N(h), minute = N(mi), second = N(sec);
        if (month > 12 || hour > 23 || minute > 59 || second > 59) return false;
        if (kind != DateTimeKind2.Time && day > DateTime.DaysInMonth(Math.Max(1, year), month)) return false;
        TimeSpan? offset = null;
        if (tz is { Success: true })
        {
            offset = tz.Value == "Z" ? TimeSpan.Zero
                : new TimeSpan(int.Parse(tz.Value.AsSpan(1, 2)), int.Parse(tz.Value.AsSpan(4, 2)), 0) * (tz.Value[0] == '-' ? -1 : 1);
        }
        value = new PartialDateTime(kind, year, month, day, hour, minute, second, ms, p, offset, fraction);
        return true;
    }

    /// <summary>The instant of the value's start, in UTC when an offset is known (local values are taken as UTC).</summary>
    private DateTime ToUtcStart()
    {
        var dt = new DateTime(Math.Max(1, Year), Month, Day, Hour, Minute, Second, Millisecond, System.DateTimeKind.Unspecified);
        if (Offset is { } o) dt -= o;
        return dt;
    }

    /// <summary>Compares per spec: null when the values are equal up to the coarser precision and precisions differ.</summary>
    public static int? Compare(PartialDateTime a, PartialDateTime b)
    {
        if (a.IsTime != b.IsTime) return null;
        // Seconds and milliseconds are one precision for comparison.
        var pa = a.Precision == DateTimePrecision.Millisecond ? DateTimePrecision.Second : a.Precision;
        var pb = b.Precision == DateTimePrecision.Millisecond ? DateTimePrecision.Second : b.Precision;
        PartialDateTime x = a, y = b;
        if (a.Offset is not null && b.Offset is not null && a.Offset != b.Offset && pa >= DateTimePrecision.Hour && pb >= DateTimePrecision.Hour)
        {
            x = a.Normalized();
            y = b.Normalized();
        }
        // One side zoned, the other not: the instant is unknown.
        if ((a.Offset is null) != (b.Offset is null) && pa >= DateTimePrecision.Hour && pb >= DateTimePrecision.Hour
            && a.Kind == DateTimeKind2.DateTime && b.Kind == DateTimeKind2.DateTime) return null;
        var common = pa < pb ? pa : pb;
        Span<int> fa = [x.Year, x.Month, x.Day, x.Hour, x.Minute, x.Second * 1000 + x.Millisecond];
        Span<int> fb = [y.Year, y.Month, y.Day, y.Hour, y.Minute, y.Second * 1000 + y.Millisecond];
        var from = a.IsTime ? (int)DateTimePrecision.Hour : 0;
        for (var i = from; i <= (int)common; i++)
        {
            if (fa[i] != fb[i]) return fa[i] < fb[i] ? -1 : 1;
        }
        return pa == pb ? 0 : null;
    }

    private PartialDateTime Normalized()
    {
        var u = ToUtcStart();
        return new PartialDateTime(Kind, u.Year, u.Month, u.Day, u.Hour, u.Minute, u.Second, u.Millisecond, Precision, TimeSpan.Zero, _fraction);
    }

    /// <summary>Equivalence: different precisions are simply not equivalent.</summary>
    public static bool Equivalent(PartialDateTime a, PartialDateTime b)
    {
        var pa = a.Precision == DateTimePrecision.Millisecond ? DateTimePrecision.Second : a.Precision;
        var pb = b.Precision == DateTimePrecision.Millisecond ? DateTimePrecision.Second : b.Precision;
        return pa == pb && Compare(a, b) == 0;
    }

    /// <summary>Adds a calendar duration; units below the value's precision are converted and truncated per spec.</summary>
    public PartialDateTime? Add(decimal amount, string calendarUnit)
    {
        var dt = new DateTime(Math.Max(1, Year), Month, Day, Hour, Minute, Second, Millisecond);
        try
        {
            switch (calendarUnit)
            {
                case "year":
                    dt = dt.AddYears((int)decimal.Truncate(amount)); break;
                case "month":
                    dt = dt.AddMonths((int)decimal.Truncate(amount)); break;
                case "week":
                    return AddDays(dt, decimal.Truncate(amount) * 7);
                case "day":
                    return AddDays(dt, decimal.Truncate(amount));
                // Only whole calendar units are added (spec: fractions are truncated).
                case "hour": dt = dt.AddHours((double)decimal.Truncate(amount)); break;
                case "minute": dt = dt.AddMinutes((double)decimal.Truncate(amount)); break;
                case "second": dt = dt.AddSeconds((double)decimal.Truncate(amount)); break;
                case "millisecond": dt = dt.AddMilliseconds((double)amount); break;
                default: return null;
            }
        }
        catch (ArgumentOutOfRangeException)
        {
            return null;
        }
        return With(dt);
    }

    private PartialDateTime? AddDays(DateTime dt, decimal days)
    {
        if (Precision < DateTimePrecision.Day)
        {
            // A month-precision date cannot move by days: convert to whole months is not defined; truncate to months of 30 days.
            return Precision == DateTimePrecision.Month ? With(dt.AddMonths((int)(days / 30))) : With(dt.AddYears((int)(days / 365)));
        }
        return With(dt.AddDays((double)days));
    }

    private PartialDateTime With(DateTime dt) =>
        new(Kind, dt.Year, dt.Month, dt.Day, dt.Hour, dt.Minute, dt.Second, dt.Millisecond, Precision, Offset,
            Precision == DateTimePrecision.Millisecond ? dt.Millisecond.ToString("000", CultureInfo.InvariantCulture) : null);

    public PartialDateTime WithPrecision(DateTimePrecision p, DateTimeKind2? kind = null) =>
        new(kind ?? Kind, Year, p >= DateTimePrecision.Month ? Month : 1, p >= DateTimePrecision.Day ? Day : 1,
            p >= DateTimePrecision.Hour ? Hour : 0, p >= DateTimePrecision.Minute ? Minute : 0, p >= DateTimePrecision.Second ? Second : 0,
            p >= DateTimePrecision.Millisecond ? Millisecond : 0, p, (kind ?? Kind) == DateTimeKind2.Date || p < DateTimePrecision.Hour ? null : Offset,
            p >= DateTimePrecision.Millisecond ? _fraction : null);

    /// <summary>Number of significant digits as the spec's precision() counts them (2019 → 4, 2019-01 → 6...).</summary>
    public int PrecisionDigits => Kind == DateTimeKind2.Time
        ? Precision switch { DateTimePrecision.Hour => 2, DateTimePrecision.Minute => 4, DateTimePrecision.Second => 6, _ => 9 }
        : Precision switch
        {
            DateTimePrecision.Year => 4, DateTimePrecision.Month => 6, DateTimePrecision.Day => 8, DateTimePrecision.Hour => 10,
            DateTimePrecision.Minute => 12, DateTimePrecision.Second => 14, _ => 17,
        };

    public override string ToString()
    {
        var sb = new StringBuilder();
        if (Kind != DateTimeKind2.Time)
        {
            sb.Append(Year.ToString("0000", CultureInfo.InvariantCulture));
            if (Precision >= DateTimePrecision.Month) sb.Append('-').Append(Month.ToString("00", CultureInfo.InvariantCulture));
            if (Precision >= DateTimePrecision.Day) sb.Append('-').Append(Day.ToString("00", CultureInfo.InvariantCulture));
            // A DateTime without a time part is written as in FHIR ("2004", "2013-01-10"), not as a literal ("@2004T").
            if (Kind == DateTimeKind2.Date || Precision < DateTimePrecision.Hour) return sb.ToString();
            sb.Append('T');
        }
        sb.Append(Hour.ToString("00", CultureInfo.InvariantCulture));
        if (Precision >= DateTimePrecision.Minute) sb.Append(':').Append(Minute.ToString("00", CultureInfo.InvariantCulture));
        if (Precision >= DateTimePrecision.Second) sb.Append(':').Append(Second.ToString("00", CultureInfo.InvariantCulture));
        if (Precision >= DateTimePrecision.Millisecond) sb.Append('.').Append(_fraction ?? Millisecond.ToString("000", CultureInfo.InvariantCulture));
        if (Kind == DateTimeKind2.DateTime && Offset is { } o)
        {
            if (o == TimeSpan.Zero) sb.Append('Z');
            else sb.Append(o < TimeSpan.Zero ? '-' : '+').Append(o.Duration().ToString(@"hh\:mm", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    public static PartialDateTime FromDateTimeOffset(DateTimeOffset d, DateTimeKind2 kind, DateTimePrecision p) =>
        new PartialDateTime(kind, d.Year, d.Month, d.Day, d.Hour, d.Minute, d.Second, d.Millisecond, DateTimePrecision.Millisecond,
            kind == DateTimeKind2.DateTime ? d.Offset : null).WithPrecision(p);
}

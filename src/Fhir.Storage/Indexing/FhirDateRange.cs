using System.Globalization;

namespace FhirArchive.Storage.Indexing;

/// <summary>
/// A FHIR date/dateTime/instant as the closed range of UTC ticks its precision covers:
/// "2024" is the whole year, "2024-03-01T10:00Z" the whole minute. Dates and times without a zone are in the
/// server's local zone (<paramref name="localOffset"/> of the overload; UTC by default).
/// </summary>
public readonly record struct FhirDateRange(long Start, long End)
{
    public static bool TryParse(string? s, out FhirDateRange range) => TryParse(s, TimeSpan.Zero, out range);

    public static bool TryParse(string? s, TimeSpan localOffset, out FhirDateRange range)
    {
        range = default;
        if (string.IsNullOrEmpty(s)) return false;
        try
        {
            if (s.Length == 4 && int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var y))
            {
                var a = new DateTimeOffset(y, 1, 1, 0, 0, 0, localOffset);
                range = new(a.UtcTicks, a.AddYears(1).UtcTicks - 1);
                return true;
            }
            if (s.Length == 7 && DateTime.TryParseExact(s, "yyyy-MM", CultureInfo.InvariantCulture, DateTimeStyles.None, out var ym))
            {
                var a = new DateTimeOffset(ym, localOffset);
                range = new(a.UtcTicks, a.AddMonths(1).UtcTicks - 1);
                return true;
            }
            if (s.Length == 10 && DateTime.TryParseExact(s, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d))
            {
                var a = new DateTimeOffset(d, localOffset);
                range = new(a.UtcTicks, a.AddDays(1).UtcTicks - 1);
                return true;
            }
            if (s.Length > 10 && s[10] == 'T')
            {
                var hasZone = s.EndsWith('Z') || s.LastIndexOfAny(['+', '-']) > 10;
                var text = hasZone ? s : s + (localOffset < TimeSpan.Zero ? "-" : "+") + localOffset.ToString("hh\\:mm", CultureInfo.InvariantCulture);
                if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out var dto)) return false;
                // Precision: minutes, seconds or fractional seconds, taken from the written form.
                var timePart = s[11..];
                var zoneAt = timePart.IndexOfAny(['Z', '+', '-']);
                if (zoneAt >= 0) timePart = timePart[..zoneAt];
                var width = timePart.Length switch
                {
                    5 => TimeSpan.TicksPerMinute,
                    8 => TimeSpan.TicksPerSecond,
                    _ when timePart.Length > 9 => (long)Math.Pow(10, Math.Max(0, 7 - (timePart.Length - 9))),
                    _ => TimeSpan.TicksPerSecond,
                };
                var start = dto.UtcTicks;
                range = new(start, start + width - 1);
                return true;
            }
        }
        catch (ArgumentOutOfRangeException) { }
        return false;
    }

    public static readonly long Min = DateTime.MinValue.Ticks;
    public static readonly long Max = DateTime.MaxValue.Ticks;
}

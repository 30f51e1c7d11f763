using System.Globalization;

namespace FhirArchive.Fhir.FhirPath;

/// <summary>
/// A FHIRPath Quantity: a decimal and a unit, either UCUM ("mg", "cm") or a calendar keyword ("year", "day").
/// Comparison converts between commensurable UCUM units of the common families (mass, length, volume, time...).
/// </summary>
public sealed class Quantity(decimal value, string unit)
{
    public decimal Value { get; } = value;

    /// <summary>UCUM code, or a calendar keyword in the singular ("year", "month", "week", "day"...).</summary>
    public string Unit { get; } = unit;

    public bool IsCalendar => Unit is "year" or "month" or "week" or "day" or "hour" or "minute" or "second" or "millisecond";

    /// <summary>Maps a literal's unit ("days", "'mg'") to the stored form (calendar keywords singular).</summary>
    public static string NormalizeUnit(string unit) => unit switch
    {
        "years" => "year", "months" => "month", "weeks" => "week", "days" => "day", "hours" => "hour",
        "minutes" => "minute", "seconds" => "second", "milliseconds" => "millisecond", _ => unit,
    };

    // unit → (dimension, factor to the dimension's base unit)
    private static readonly Dictionary<string, (string Dim, decimal Factor)> Units = new(StringComparer.Ordinal)
    {
        ["1"] = ("1", 1m), ["%"] = ("1", 0.01m),
        ["g"] = ("M", 1m), ["mg"] = ("M", 0.001m), ["ug"] = ("M", 0.000001m), ["ng"] = ("M", 0.000000001m), ["kg"] = ("M", 1000m),
        ["[lb_av]"] = ("M", 453.59237m), ["[oz_av]"] = ("M", 28.349523125m),
        ["m"] = ("L", 1m), ["cm"] = ("L", 0.01m), ["mm"] = ("L", 0.001m), ["km"] = ("L", 1000m), ["um"] = ("L", 0.000001m),
        ["[in_i]"] = ("L", 0.0254m), ["[ft_i]"] = ("L", 0.3048m),
        ["L"] = ("V", 1m), ["l"] = ("V", 1m), ["mL"] = ("V", 0.001m), ["dL"] = ("V", 0.1m), ["uL"] = ("V", 0.000001m),
        ["s"] = ("T", 1m), ["ms"] = ("T", 0.001m), ["min"] = ("T", 60m), ["h"] = ("T", 3600m), ["d"] = ("T", 86400m),
        ["wk"] = ("T", 604800m), ["mo"] = ("T", 2629800m), ["a"] = ("T", 31557600m),
        ["mmol/L"] = ("N/V", 0.001m), ["mol/L"] = ("N/V", 1m), ["umol/L"] = ("N/V", 0.000001m),
        ["g/L"] = ("M/V", 1m), ["mg/dL"] = ("M/V", 0.01m), ["g/dL"] = ("M/V", 10m), ["mg/L"] = ("M/V", 0.001m),
        ["mm[Hg]"] = ("P", 133.322m), ["kPa"] = ("P", 1000m), ["Pa"] = ("P", 1m),
        ["Cel"] = ("Temp", 1m), ["/min"] = ("F", 1m / 60m), ["/s"] = ("F", 1m), ["/h"] = ("F", 1m / 3600m),
        ["m2"] = ("A", 1m), ["cm2"] = ("A", 0.0001m),
        ["kg/m2"] = ("M/A", 1000m), ["g/m2"] = ("M/A", 1m),
    };

    /// <summary>The UCUM unit a calendar keyword stands for where the definite durations agree (weeks and below).</summary>
    private static string? CalendarToUcum(string u) => u switch
    {
        "week" => "wk", "day" => "d", "hour" => "h", "minute" => "min", "second" => "s", "millisecond" => "ms",
        _ => null,
    };

    private static string? UcumToCalendar(string u) => u switch
    {
        "a" => "year", "mo" => "month", "wk" => "week", "d" => "day", "h" => "hour", "min" => "minute", "s" => "second", "ms" => "millisecond",
        _ => null,
    };

    /// <summary>Value expressed in the dimension's base unit; false when the unit is unknown.</summary>
    private static bool TryCanonical(decimal v, string unit, bool equivalence, out string dim, out decimal baseValue)
    {
        // Calendar years and months are not definite durations: for equality they only match themselves.
        if (unit is "year" or "month")
        {
            if (equivalence) unit = unit == "year" ? "a" : "mo";
            else
            {
                dim = "cal-" + unit;
                baseValue = v;
                return true;
            }
        }
        else if (CalendarToUcum(unit) is { } ucum) unit = ucum;
        if (Units.TryGetValue(unit, out var u))
        {
            dim = u.Dim;
            baseValue = v * u.Factor;
            return true;
        }
        dim = unit;
        baseValue = v;
        return false;
    }

    /// <summary>Compares two quantities; null when their units are not commensurable.</summary>
    public static int? Compare(Quantity a, Quantity b, bool equivalence = false)
    {
        if (a.Unit == b.Unit) return a.Value.CompareTo(b.Value);
        var ka = TryCanonical(a.Value, a.Unit, equivalence, out var da, out var va);
        var kb = TryCanonical(b.Value, b.Unit, equivalence, out var db, out var vb);
        if (!ka || !kb || da != db) return null;
        return va.CompareTo(vb);
    }

    /// <summary>Converts to another unit of the same dimension (used by + and -); null when not possible.</summary>
    public Quantity? ConvertTo(string unit)
    {
        if (unit == Unit) return this;
        if (!TryCanonical(Value, Unit, true, out var d1, out var v) || !TryCanonical(1m, unit, true, out var d2, out var f) || d1 != d2)
            return null;
        return new Quantity(v / f, unit);
    }

    /// <summary>The calendar keyword for a date/time arithmetic unit ('d' → day); null when the unit is not a duration.</summary>
    public string? CalendarUnit => IsCalendar ? Unit : UcumToCalendar(Unit);

    public static Quantity? Multiply(Quantity a, Quantity b)
    {
        if (a.Unit == "1") return new Quantity(a.Value * b.Value, b.Unit);
        if (b.Unit == "1") return new Quantity(a.Value * b.Value, a.Unit);
        // Same dimension (cm × m): express both in the left unit, giving its square.
        if (b.ConvertTo(a.Unit) is { } bc) return new Quantity(a.Value * bc.Value, a.Unit + "2");
        return new Quantity(a.Value * b.Value, a.Unit + "." + b.Unit);
    }

    public static Quantity? Divide(Quantity a, Quantity b)
    {
        if (b.Value == 0) return null;
        if (a.Unit == b.Unit) return new Quantity(a.Value / b.Value, "1");
        if (b.ConvertTo(a.Unit) is { } bc) return new Quantity(a.Value / bc.Value, "1");
        var unit = b.Unit == "1" ? a.Unit : a.Unit + "/" + b.Unit;
        return new Quantity(a.Value / b.Value, unit);
    }

    public override string ToString()
    {
        var v = FhirPathValues.DecimalToString(Value);
        return IsCalendar ? $"{v} {Unit}{(Value == 1 ? "" : "s")}" : $"{v} '{Unit}'";
    }
}

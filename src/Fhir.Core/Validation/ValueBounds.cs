using System.Globalization;
using FhirArchive.Fhir.FhirPath;
using FhirArchive.Fhir.Model;

namespace FhirArchive.Fhir.Validation;

/// <summary>Compares a value with a profile's minValue[x] / maxValue[x].</summary>
internal static class ValueBounds
{
    /// <summary>
    /// Negative, zero or positive as the value is below, at or above the bound; null when they cannot be
    /// compared (no value, different kinds, partial dates that overlap, units that do not convert).
    /// </summary>
    public static int? Compare(ElementNode value, ElementNode bound)
    {
        if (!bound.HasValue) return QuantityOf(value) is { } q && QuantityOf(bound) is { } limit ? FhirPath.Quantity.Compare(q, limit) : null;
        if (value.Value is not { } text || bound.Value is not { } limitText) return null;
        switch (value.Type)
        {
            case "integer" or "positiveInt" or "unsignedInt" or "integer64" or "decimal":
                return decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var n)
                       && decimal.TryParse(limitText, NumberStyles.Float, CultureInfo.InvariantCulture, out var l) ? n.CompareTo(l) : null;
            case "date" or "dateTime" or "instant":
                return PartialDateTime.TryParseDateTime(text, out var d) && PartialDateTime.TryParseDateTime(limitText, out var ld) ? PartialDateTime.Compare(d!, ld!) : null;
            case "time":
                return PartialDateTime.TryParseTime(text, out var t) && PartialDateTime.TryParseTime(limitText, out var lt) ? PartialDateTime.Compare(t!, lt!) : null;
            default:
                return null;
        }
    }

    /// <summary>A Quantity (or Age, Duration...) as value and UCUM code (the unit text when no code is given).</summary>
    private static FhirPath.Quantity? QuantityOf(ElementNode node) =>
        node.Child("value")?.Value is { } v && decimal.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var amount)
        && (node.Child("code")?.Value ?? node.Child("unit")?.Value) is { } unit
            ? new FhirPath.Quantity(amount, unit)
            : null;
}

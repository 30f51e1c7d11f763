using System.Globalization;
using System.Text.RegularExpressions;
using FhirArchive.Fhir.Definitions;
using Hl7.Fhir.Model;
using OurItem = FhirArchive.Fhir.FhirPath.FhirPathItem;
using OurNode = FhirArchive.Fhir.Model.ElementNode;
using OurQuantity = FhirArchive.Fhir.FhirPath.Quantity;
using OurDate = FhirArchive.Fhir.FhirPath.PartialDateTime;
using P = Hl7.Fhir.ElementModel.Types;

namespace FhirArchive.Differential.Tests;

/// <summary>
/// One result item of either engine as comparable text: "type:value". FHIR nodes keep their FHIR type
/// ("dateTime:2004", "code:final"); a complex node is its type and the sorted values of its primitive descendants
/// ("Reference{Patient/p}"); System values are "System.Integer:2", "System.Quantity:3 'kg'". Decimals lose trailing
/// zeros, dates the literal marks ('@', a trailing 'T'), instants are compared as UTC instants.
/// </summary>
public static class Normalized
{
    /// <summary>An element defined inline (ours: BackboneElement/Element; Firely: "Observation.component").</summary>
    private const string Backbone = "(backbone)";

    public static string Ours(OurItem i)
    {
        if (i.Node is { } n)
            return n.IsPrimitive ? $"{Family(n.Type!)}:{Text(n.Type!, n.Value)}"
                : $"{(n.TypeDef?.Kind == TypeKind.Backbone ? Backbone : n.Type)}{{{string.Join("|", Leaves(n))}}}";
        return "System." + i.TypeName + ":" + i.Value switch
        {
            OurQuantity q => QuantityText(q.Value, q.Unit),
            OurDate d => DateText(d.ToString()),
            var v => SystemText(v),
        };
    }

    public static string Firely(PocoNode n)
    {
        var poco = n.Poco;
        var type = poco.TypeName;
        if (type.StartsWith("System.", StringComparison.Ordinal))
            return type + ":" + n.GetValue() switch
            {
                P.Quantity q => QuantityText(q.Value, q.Unit),
                P.Date or P.DateTime or P.Time => DateText(n.GetValue()!.ToString()!),
                var v => SystemText(v),
            };
        if (poco is PrimitiveType p) return $"{Family(type)}:{Text(type, FirelyText(p))}";
        return $"{(type.Contains('.') ? Backbone : type)}{{{string.Join("|", FirelyLeaves(n))}}}";
    }

    /// <summary>
    /// The System type a FHIR primitive maps to (FHIRPath §"Models": FHIR primitives convert implicitly). Firely gives
    /// some function results as FHIR primitives (all() as boolean, indexOf() as integer) where the spec has System
    /// types; comparing type families keeps those equal, while a String against a Boolean still differs.
    /// </summary>
    private static string Family(string fhirType) => fhirType switch
    {
        "boolean" => "System.Boolean",
        "integer" or "positiveInt" or "unsignedInt" => "System.Integer",
        "integer64" => "System.Long",
        "decimal" => "System.Decimal",
        "date" => "System.Date",
        "dateTime" or "instant" => "System.DateTime",
        "time" => "System.Time",
        "xhtml" => "xhtml",
        _ => "System.String",
    };

    private static IEnumerable<string> Leaves(OurNode n) =>
        n.Descendants().Where(d => d.IsPrimitive && d.Value is not null).Select(d => Text(d.Type!, d.Value)).Order(StringComparer.Ordinal);

    private static IEnumerable<string> FirelyLeaves(PocoNode n) =>
        new[] { n }.Descendants().Select(d => d.Poco).OfType<PrimitiveType>().Where(p => p.JsonValue is not null)
            .Select(p => Text(p.TypeName, FirelyText(p))).Order(StringComparer.Ordinal);

    private static string? FirelyText(PrimitiveType p) => p.JsonValue is { } v ? SystemText(v) : null;

    /// <summary>A FHIR primitive's text, normalised per type.</summary>
    private static string Text(string type, string? text)
    {
        if (text is null) return "";
        return type switch
        {
            "decimal" => decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? SystemText(d) : text,
            "instant" => DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var o)
                ? o.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture) : text,
            "base64Binary" => string.Concat(text.Where(c => !char.IsWhiteSpace(c))),
            // The narrative as XML text: Firely writes it again (whitespace between tags dropped, quotes unescaped).
            "xhtml" => Regex.Replace(Regex.Replace(text, @"\s+", " "), @">\s*<", "><").Replace("&quot;", "\"").Trim(),
            _ => text,
        };
    }

    private static string SystemText(object? v) => v switch
    {
        null => "",
        bool b => b ? "true" : "false",
        decimal d => (d / 1.0000000000000000000000000000m).ToString(CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => v.ToString() ?? "",
    };

    private static string QuantityText(decimal value, string? unit) => $"{SystemText(value)} '{unit}'";

    /// <summary>Literal marks removed ('@', 'T' of a time, a trailing 'T'), and trailing zeros of the seconds' fraction
    /// (both engines keep the value; only the written precision of the milliseconds differs).</summary>
    private static string DateText(string s)
    {
        s = s.TrimStart('@');
        if (s.StartsWith('T')) s = s[1..];
        s = s.TrimEnd('T');
        var dot = s.IndexOf('.');
        if (dot < 0) return s;
        var end = dot + 1;
        while (end < s.Length && char.IsAsciiDigit(s[end])) end++;
        var fraction = s[(dot + 1)..end].TrimEnd('0');
        return s[..dot] + (fraction.Length > 0 ? "." + fraction : "") + s[end..];
    }
}

using System.Globalization;
using FhirArchive.Fhir.Model;

namespace FhirArchive.Fhir.FhirPath;

/// <summary>
/// One item of a FHIRPath collection: an element of the instance (<see cref="Node"/>) or a System value
/// (bool, long for Integer, decimal, string, <see cref="PartialDateTime"/>, <see cref="Quantity"/>).
/// A FHIR primitive's System value is decoded from its lexical form on first use.
/// </summary>
public sealed class FhirPathItem
{
    private object? _value;
    private bool _resolved;

    private FhirPathItem(ElementNode? node, object? value, bool resolved)
    {
        Node = node;
        _value = value;
        _resolved = resolved;
    }

    public static readonly FhirPathItem True = new(null, true, true);
    public static readonly FhirPathItem False = new(null, false, true);

    public static FhirPathItem FromNode(ElementNode node) => new(node, null, false);

    public static FhirPathItem FromValue(object value) => value switch
    {
        bool b => b ? True : False,
        int i => new FhirPathItem(null, (long)i, true),
        _ => new FhirPathItem(null, value, true),
    };

    public static FhirPathItem Boolean(bool b) => b ? True : False;

    /// <summary>The element, when the item comes from the instance.</summary>
    public ElementNode? Node { get; }

    public bool IsNode => Node is not null;

    /// <summary>The System value: for a FHIR primitive its decoded value, for a FHIR Quantity a <see cref="Quantity"/>; else null.</summary>
    public object? Value
    {
        get
        {
            if (!_resolved)
            {
                _value = Decode(Node!);
                _resolved = true;
            }
            return _value;
        }
    }

    /// <summary>The type name: the FHIR type for elements ("string", "Patient"), the System type otherwise ("Integer").</summary>
    public string TypeName => Node is not null ? Node.Type ?? "Element" : SystemTypeName(_value);

    public bool IsSystemType => Node is null;

    internal static string SystemTypeName(object? v) => v switch
    {
        bool => "Boolean",
        long => "Integer",
        decimal => "Decimal",
        string => "String",
        PartialDateTime d => d.Kind switch { DateTimeKind2.Date => "Date", DateTimeKind2.Time => "Time", _ => "DateTime" },
        Quantity => "Quantity",
        _ => "Any",
    };

    private static object? Decode(ElementNode node)
    {
        var td = node.TypeDef;
        if (td is null) return null;
        if (!td.IsPrimitive)
            return node.Type == "Quantity" || td.BaseName == "Quantity" ? QuantityFromNode(node) : null;
        var s = node.Value;
        if (s is null) return null;
        // The R4 definitions give positiveInt and unsignedInt a System.String value: they are integers.
        if (td.Name is "positiveInt" or "unsignedInt")
            return long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? n : null;
        switch (td.SystemType is { } st && st.StartsWith("System.", StringComparison.Ordinal) ? st[7..] : td.SystemType)
        {
            case "Boolean": return s == "true";
            case "Integer": return long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l) ? l : null;
            case "Decimal":
                return decimal.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : null;
            case "Date": return PartialDateTime.TryParseDate(s, out var dt) ? dt : null;
            case "DateTime": return PartialDateTime.TryParseDateTime(s, out var dtt) ? dtt : null;
            case "Time": return PartialDateTime.TryParseTime(s, out var t) ? t : null;
            default: return s;
        }
    }

    private static Quantity? QuantityFromNode(ElementNode n)
    {
        var v = n.Child("value")?.Value;
        if (v is null || !decimal.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)) return null;
        var system = n.Child("system")?.Value;
        var code = n.Child("code")?.Value;
        var unit = system == "http://unitsofmeasure.org" && code is not null ? code : code ?? n.Child("unit")?.Value ?? "1";
        // Calendar durations may be written with their UCUM codes; keep them as UCUM.
        return new Quantity(d, unit);
    }

    public override string ToString() => Node is not null ? Node.ToString() : FhirPathValues.Format(_value);
}

/// <summary>Formatting shared by the engine and its output.</summary>
public static class FhirPathValues
{
    public static string DecimalToString(decimal d) => d.ToString(CultureInfo.InvariantCulture);

    public static string Format(object? v) => v switch
    {
        null => "",
        bool b => b ? "true" : "false",
        long l => l.ToString(CultureInfo.InvariantCulture),
        decimal d => DecimalToString(d),
        _ => v.ToString() ?? "",
    };
}

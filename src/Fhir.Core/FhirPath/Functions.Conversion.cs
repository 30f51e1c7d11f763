using System.Globalization;
using System.Text.RegularExpressions;

namespace FhirArchive.Fhir.FhirPath;

/// <summary>toX()/convertsToX() and iif().</summary>
internal static partial class Functions
{
    [GeneratedRegex(@"^([+-]?\d+(?:\.\d+)?)\s*(?:'([^']+)'|(years?|months?|weeks?|days?|hours?|minutes?|seconds?|milliseconds?))?$")]
    private static partial Regex QuantityRx();

    private static void Conversion(string name, Func<object, object?> convert)
    {
        Add("to" + name, 0, 0, (_, input, _, _) =>
        {
            var v = InputValue(input, "to" + name);
            return v is null ? Empty : One(convert(v));
        });
        Add("convertsTo" + name, 0, 0, (_, input, _, _) =>
        {
            var v = InputValue(input, "convertsTo" + name);
            return v is null ? Empty : Bool(convert(v) is not null);
        });
    }

    internal static object? ToBoolean(object v) => v switch
    {
        bool b => b,
        long l => l == 1 ? true : l == 0 ? false : null,
        decimal d => d == 1m ? true : d == 0m ? false : null,
        string s => s.ToLowerInvariant() switch
        {
            "true" or "t" or "yes" or "y" or "1" or "1.0" => true,
            "false" or "f" or "no" or "n" or "0" or "0.0" => false,
            _ => null,
        },
        _ => null,
    };

    internal static object? ToInteger(object v) => v switch
    {
        long l => l,
        bool b => b ? 1L : 0L,
        string s when Regex.IsMatch(s, @"^[+-]?\d+$") && long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)
            && l is >= int.MinValue and <= int.MaxValue => l,
        _ => null,
    };

    internal static object? ToDecimal(object v) => v switch
    {
        long l => (decimal)l,
        decimal d => d,
        bool b => b ? 1m : 0m,
        string s when Regex.IsMatch(s, @"^[+-]?\d+(\.\d+)?$") && decimal.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
        _ => null,
    };

    internal static object? ToQuantity(object v) => v switch
    {
        Quantity q => q,
        long l => new Quantity(l, "1"),
        decimal d => new Quantity(d, "1"),
        bool b => new Quantity(b ? 1m : 0m, "1"),
        string s when QuantityRx().Match(s) is { Success: true } m =>
            new Quantity(decimal.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture),
                m.Groups[2].Success ? m.Groups[2].Value : m.Groups[3].Success ? Quantity.NormalizeUnit(m.Groups[3].Value) : "1"),
        _ => null,
    };

    internal static string? ToStringValue(object v) => v switch
    {
        string s => s,
        bool or long or decimal or PartialDateTime or Quantity => FhirPathValues.Format(v),
        _ => null,
    };

    private static void RegisterConversion()
    {
        Conversion("Boolean", ToBoolean);
        Conversion("Integer", ToInteger);
        Conversion("Long", v => ToInteger(v) ?? (v is string s && long.TryParse(s, out var l) ? l : null));
        Conversion("Decimal", ToDecimal);
        Conversion("String", ToStringValue);
        Conversion("Date", v => v switch
        {
            PartialDateTime { Kind: DateTimeKind2.Date } d => d,
            PartialDateTime { Kind: DateTimeKind2.DateTime } dt => dt.WithPrecision(
                dt.Precision < DateTimePrecision.Day ? dt.Precision : DateTimePrecision.Day, DateTimeKind2.Date),
            string s => PartialDateTime.TryParseDate(s, out var d) ? d
                : PartialDateTime.TryParseDateTime(s, out var dt2) ? dt2!.WithPrecision(dt2.Precision < DateTimePrecision.Day ? dt2.Precision : DateTimePrecision.Day, DateTimeKind2.Date) : null,
            _ => null,
        });
        Conversion("DateTime", v => v switch
        {
            PartialDateTime { Kind: DateTimeKind2.DateTime } d => d,
            PartialDateTime { Kind: DateTimeKind2.Date } d => d.WithPrecision(d.Precision, DateTimeKind2.DateTime),
            string s => PartialDateTime.TryParseDateTime(s, out var d) ? d : null,
            _ => null,
        });
        Conversion("Time", v => v switch
        {
            PartialDateTime { Kind: DateTimeKind2.Time } t => t,
            string s => PartialDateTime.TryParseTime(s, out var t) ? t : null,
            _ => null,
        });
        // toQuantity/convertsToQuantity take an optional target unit.
        Add("toQuantity", 0, 1, (env, input, outer, args) =>
        {
            var v = InputValue(input, "toQuantity");
            if (v is null || ToQuantity(v) is not Quantity q) return Empty;
            if (args.Length == 0) return One(q);
            var unit = Values.SingleString(Arg(env, outer, args[0]), "toQuantity");
            return unit is null ? Empty : One(q.ConvertTo(unit));
        });
        Add("convertsToQuantity", 0, 1, (env, input, outer, args) =>
        {
            var v = InputValue(input, "convertsToQuantity");
            if (v is null) return Empty;
            if (ToQuantity(v) is not Quantity q) return FalseList;
            if (args.Length == 0) return TrueList;
            var unit = Values.SingleString(Arg(env, outer, args[0]), "convertsToQuantity");
            return unit is null ? Empty : Bool(q.ConvertTo(unit) is not null);
        });
        Add("iif", 2, 3, (env, input, outer, args) =>
        {
            if (input.Count > 1) throw new FhirPathEvaluationException("iif() cannot be called on a collection");
            // The criterion sees the input (or the outer focus when called without one) as $this.
            var thisItem = input.Count == 1 ? input[0] : env.This;
            var cond = thisItem is null ? args[0](env, outer) : Lambda(env, args[0], thisItem, env.Index);
            if (cond.Count > 1 || cond.Count == 1 && cond[0].Value is not bool)
                throw new FhirPathEvaluationException("iif(): the criterion must be a Boolean");
            var branch = Values.SingleBool(cond, "iif") == true ? args[1] : args.Length > 2 ? args[2] : null;
            if (branch is null) return Empty;
            return thisItem is null ? branch(env, outer) : Lambda(env, branch, thisItem, env.Index);
        });
    }
}

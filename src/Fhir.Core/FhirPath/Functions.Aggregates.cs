namespace FhirArchive.Fhir.FhirPath;

/// <summary>
/// The aggregates of FHIRPath 3.0 (STU): sum(), min(), max(), avg(). Empty input gives empty; items of a type the
/// function does not take (or Quantities with incommensurable units) are an error. aggregate() is in
/// Functions.Collections.cs.
/// </summary>
internal static partial class Functions
{
    private static void RegisterAggregates()
    {
        Add("sum", 0, 0, (_, input, _, _) => One(Sum(input, "sum")));
        Add("avg", 0, 0, (_, input, _, _) => One(Sum(input, "avg") switch
        {
            null => null,
            long l => (decimal)l / input.Count,
            decimal d => d / input.Count,
            Quantity q => new Quantity(q.Value / input.Count, q.Unit),
            var other => other,
        }));
        Add("min", 0, 0, (_, input, _, _) => Extreme(input, "min", -1));
        Add("max", 0, 0, (_, input, _, _) => Extreme(input, "max", 1));
    }

    /// <summary>Integer + Integer stays Integer (empty on overflow, as the + operator), a Decimal makes it Decimal;
    /// Quantities add in the first item's unit.</summary>
    private static object? Sum(IReadOnlyList<FhirPathItem> input, string fn)
    {
        object? total = null;
        foreach (var item in input)
        {
            var v = item.Value;
            if (v is not (long or decimal or Quantity))
                throw new FhirPathEvaluationException($"{fn}() needs Integers, Decimals or Quantities, not {item.TypeName}");
            if (total is null)
            {
                total = v;
                continue;
            }
            if (total is Quantity != v is Quantity)
                throw new FhirPathEvaluationException($"{fn}(): cannot add a Quantity and a number");
            total = Operators.Arithmetic("+", total, v);
            if (total is null)
            {
                if (v is Quantity q) throw new FhirPathEvaluationException($"{fn}(): the unit '{q.Unit}' is not commensurable with the others");
                return null; // Integer overflow
            }
        }
        return total;
    }

    /// <summary>The smallest (sign -1) or largest (sign 1) item, as it is in the input. Empty when an order is unknown
    /// (partial dates of different precision whose shared part is equal).</summary>
    private static IReadOnlyList<FhirPathItem> Extreme(IReadOnlyList<FhirPathItem> input, string fn, int sign)
    {
        FhirPathItem? best = null;
        foreach (var item in input)
        {
            var v = item.Value;
            if (v is not (long or decimal or Quantity or string or PartialDateTime))
                throw new FhirPathEvaluationException($"{fn}() needs numbers, Quantities, Strings, Dates, DateTimes or Times, not {item.TypeName}");
            if (best is null)
            {
                best = item;
                continue;
            }
            var c = Values.Compare(v, best.Value!);
            if (c is null)
            {
                if (v is Quantity q) throw new FhirPathEvaluationException($"{fn}(): the unit '{q.Unit}' is not commensurable with the others");
                return Empty;
            }
            if (c * sign > 0) best = item;
        }
        return best is null ? Empty : [best];
    }
}

namespace FhirArchive.Fhir.FhirPath;

/// <summary>Binary and unary operators, with the spec's empty-collection and three-valued-logic rules.</summary>
internal static class Operators
{
    private static readonly FhirPathItem[] Empty = Compiler.Empty;
    private static readonly FhirPathItem[] TrueList = [FhirPathItem.True];
    private static readonly FhirPathItem[] FalseList = [FhirPathItem.False];

    private static IReadOnlyList<FhirPathItem> Bool(bool? b) => b is null ? Empty : b.Value ? TrueList : FalseList;

    public static Eval Compile(BinaryExpr b)
    {
        var l = Compiler.Compile(b.Left);
        var r = Compiler.Compile(b.Right);
        var op = b.Op;
        switch (op)
        {
            case "and":
                return (env, f) =>
                {
                    var x = Values.SingleBool(l(env, f), "and");
                    if (x == false) return FalseList;
                    var y = Values.SingleBool(r(env, f), "and");
                    if (y == false) return FalseList;
                    return x == true && y == true ? TrueList : Empty;
                };
            case "or":
                return (env, f) =>
                {
                    var x = Values.SingleBool(l(env, f), "or");
                    if (x == true) return TrueList;
                    var y = Values.SingleBool(r(env, f), "or");
                    if (y == true) return TrueList;
                    return x == false && y == false ? FalseList : Empty;
                };
            case "xor":
                return (env, f) =>
                {
                    var x = Values.SingleBool(l(env, f), "xor");
                    var y = Values.SingleBool(r(env, f), "xor");
                    return x is null || y is null ? Empty : Bool(x != y);
                };
            case "implies":
                return (env, f) =>
                {
                    var x = Values.SingleBool(l(env, f), "implies");
                    if (x == false) return TrueList;
                    var y = Values.SingleBool(r(env, f), "implies");
                    if (y == true) return TrueList;
                    return x == true && y == false ? FalseList : Empty;
                };
            case "|":
                return (env, f) =>
                {
                    var x = l(env, f);
                    var y = r(env, f);
                    env.Step(x.Count + y.Count);
                    return Values.Distinct(x.Concat(y));
                };
            case "=":
                return (env, f) => Bool(CollectionEquals(l(env, f), r(env, f)));
            case "!=":
                return (env, f) => Bool(!CollectionEquals(l(env, f), r(env, f)));
            case "~":
                return (env, f) => Bool(CollectionEquivalent(l(env, f), r(env, f)));
            case "!~":
                return (env, f) => Bool(!CollectionEquivalent(l(env, f), r(env, f)));
            case "<" or ">" or "<=" or ">=":
                return (env, f) =>
                {
                    var x = Values.SingleValue(l(env, f), op);
                    var y = Values.SingleValue(r(env, f), op);
                    if (x is null || y is null) return Empty;
                    var c = Values.Compare(x, y);
                    if (c is null) return Empty;
                    return Bool(op switch { "<" => c < 0, ">" => c > 0, "<=" => c <= 0, _ => c >= 0 });
                };
            case "in":
                return (env, f) =>
                {
                    var x = l(env, f);
                    if (x.Count == 0) return Empty;
                    if (x.Count > 1) throw new FhirPathEvaluationException("'in' needs a single item on the left");
                    return Bool(Values.Contains(r(env, f), x[0]));
                };
            case "contains":
                return (env, f) =>
                {
                    var y = r(env, f);
                    if (y.Count == 0) return Empty;
                    if (y.Count > 1) throw new FhirPathEvaluationException("'contains' needs a single item on the right");
                    return Bool(Values.Contains(l(env, f), y[0]));
                };
            case "&":
                return (env, f) =>
                {
                    var x = Values.SingleValue(l(env, f), "&");
                    var y = Values.SingleValue(r(env, f), "&");
                    return [FhirPathItem.FromValue(FhirPathValues.Format(x) + FhirPathValues.Format(y))];
                };
            default:
                return (env, f) =>
                {
                    var x = Values.SingleValue(l(env, f), op);
                    var y = Values.SingleValue(r(env, f), op);
                    if (x is null || y is null) return Empty;
                    var v = Arithmetic(op, x, y);
                    return v is null ? Empty : [FhirPathItem.FromValue(v)];
                };
        }
    }

    /// <summary>= on collections: null when either is empty or an item comparison is unknown.</summary>
    private static bool? CollectionEquals(IReadOnlyList<FhirPathItem> x, IReadOnlyList<FhirPathItem> y)
    {
        if (x.Count == 0 || y.Count == 0) return null;
        if (x.Count != y.Count) return false;
        bool? result = true;
        for (var i = 0; i < x.Count; i++)
        {
            var e = Values.ItemEquals(x[i], y[i]);
            if (e == false) return false;
            if (e is null) result = null;
        }
        return result;
    }

    private static bool CollectionEquivalent(IReadOnlyList<FhirPathItem> x, IReadOnlyList<FhirPathItem> y)
    {
        if (x.Count != y.Count) return false;
        if (x.Count == 0) return true;
        var used = new bool[y.Count];
        foreach (var a in x)
        {
            var matched = false;
            for (var j = 0; j < y.Count; j++)
            {
                if (used[j] || !Values.ItemEquivalent(a, y[j])) continue;
                used[j] = matched = true;
                break;
            }
            if (!matched) return false;
        }
        return true;
    }

    public static object? Arithmetic(string op, object x, object y)
    {
        try
        {
            switch (op)
            {
                case "+":
                    if (x is string s1 && y is string s2) return s1 + s2;
                    if (x is PartialDateTime d && y is Quantity q) return DateAdd(d, q, 1);
                    if (x is Quantity qa && y is Quantity qb) return AddQuantities(qa, qb, 1);
                    if (x is long a && y is long b) return checked(a + b) is var sum && sum is >= int.MinValue and <= int.MaxValue ? sum : null;
                    return Num(x) + Num(y);
                case "-":
                    if (x is PartialDateTime d2 && y is Quantity q2) return DateAdd(d2, q2, -1);
                    if (x is Quantity qa2 && y is Quantity qb2) return AddQuantities(qa2, qb2, -1);
                    if (x is long a2 && y is long b2) return checked(a2 - b2) is var diff && diff is >= int.MinValue and <= int.MaxValue ? diff : null;
                    return Num(x) - Num(y);
                case "*":
                    if (x is Quantity || y is Quantity) return Quantity.Multiply(AsQuantity(x), AsQuantity(y));
                    if (x is long a3 && y is long b3) return checked(a3 * b3) is var prod && prod is >= int.MinValue and <= int.MaxValue ? prod : null;
                    return Num(x) * Num(y);
                case "/":
                    if (x is Quantity || y is Quantity) return Quantity.Divide(AsQuantity(x), AsQuantity(y));
                    var den = Num(y);
                    return den == 0 ? null : Num(x) / den;
                case "div":
                    if (x is long a4 && y is long b4) return b4 == 0 ? null : a4 / b4;
                    var dd = Num(y);
                    return dd == 0 ? null : (long)decimal.Truncate(Num(x) / dd);
                case "mod":
                    if (x is long a5 && y is long b5) return b5 == 0 ? null : a5 % b5;
                    var dm = Num(y);
                    return dm == 0 ? null : Num(x) % dm;
            }
        }
        catch (OverflowException)
        {
            return null;
        }
        throw new FhirPathEvaluationException($"operator '{op}' is not defined for {FhirPathItem.SystemTypeName(x)} and {FhirPathItem.SystemTypeName(y)}");
    }

    private static decimal Num(object v) => v switch
    {
        long l => l,
        decimal d => d,
        _ => throw new FhirPathEvaluationException($"expected a number, got {FhirPathItem.SystemTypeName(v)}"),
    };

    private static Quantity AsQuantity(object v) => v is Quantity q ? q : new Quantity(Num(v), "1");

    private static Quantity? AddQuantities(Quantity a, Quantity b, int sign)
    {
        var bc = b.ConvertTo(a.Unit);
        if (bc is null) return null;
        return new Quantity(a.Value + sign * bc.Value, a.Unit);
    }

    private static PartialDateTime? DateAdd(PartialDateTime d, Quantity q, int sign)
    {
        var unit = q.CalendarUnit ?? throw new FhirPathEvaluationException($"'{q.Unit}' is not a time unit");
        if (q.IsCalendar is false && q.Unit is "a" or "mo")
            throw new FhirPathEvaluationException("use calendar durations (year, month) for date arithmetic");
        if (d.IsTime && unit is "year" or "month" or "week" or "day") throw new FhirPathEvaluationException("cannot add dates to a time");
        return d.Add(sign * q.Value, unit);
    }

    public static Eval CompileUnary(UnaryExpr u)
    {
        var operand = Compiler.Compile(u.Operand);
        return (env, f) =>
        {
            var v = Values.SingleValue(operand(env, f), "-");
            return v switch
            {
                null => Empty,
                long l => [FhirPathItem.FromValue(-l)],
                decimal d => [FhirPathItem.FromValue(-d)],
                Quantity q => [FhirPathItem.FromValue(new Quantity(-q.Value, q.Unit))],
                _ => throw new FhirPathEvaluationException("unary minus needs a number or quantity"),
            };
        };
    }
}

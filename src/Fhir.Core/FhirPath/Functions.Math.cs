namespace FhirArchive.Fhir.FhirPath;

/// <summary>Math functions on Integer, Decimal and (where it makes sense) Quantity.</summary>
internal static partial class Functions
{
    private static Fn MathFn(Func<long, object?> onInt, Func<decimal, object?> onDec) => (_, input, _, _) =>
        InputValue(input, "math") switch
        {
            null => Empty,
            long l => One(onInt(l)),
            decimal d => One(onDec(d)),
            Quantity q => One(onDec(q.Value) is decimal r ? new Quantity(r, q.Unit) : null),
            _ => throw new FhirPathEvaluationException("math functions need a number"),
        };

    private static object? FromDouble(double d) => double.IsNaN(d) || double.IsInfinity(d) ? null : (decimal)d;

    private static void RegisterMath()
    {
        Add("abs", 0, 0, MathFn(l => Math.Abs(l), d => Math.Abs(d)));
        Add("ceiling", 0, 0, MathFn(l => l, d => (long)Math.Ceiling(d)));
        Add("floor", 0, 0, MathFn(l => l, d => (long)Math.Floor(d)));
        Add("truncate", 0, 0, MathFn(l => l, d => (long)Math.Truncate(d)));
        Add("exp", 0, 0, MathFn(l => FromDouble(Math.Exp(l)), d => FromDouble(Math.Exp((double)d))));
        Add("ln", 0, 0, MathFn(l => FromDouble(Math.Log(l)), d => FromDouble(Math.Log((double)d))));
        Add("sqrt", 0, 0, MathFn(l => FromDouble(Math.Sqrt(l)), d => FromDouble(Math.Sqrt((double)d))));
        Add("log", 1, 1, (env, input, outer, args) =>
        {
            var v = InputValue(input, "log");
            var b = Values.SingleValue(Arg(env, outer, args[0]), "log");
            if (v is null || b is null) return Empty;
            return One(FromDouble(Math.Log(Convert.ToDouble(v)) / Math.Log(Convert.ToDouble(b))));
        });
        Add("power", 1, 1, (env, input, outer, args) =>
        {
            var v = InputValue(input, "power");
            var e = Values.SingleValue(Arg(env, outer, args[0]), "power");
            if (v is null || e is null) return Empty;
            if (v is long bl && e is long el && el >= 0)
            {
                try
                {
                    long r = 1;
                    for (var i = 0; i < el; i++) r = checked(r * bl);
                    return One(r);
                }
                catch (OverflowException)
                {
                    return Empty;
                }
            }
            return One(FromDouble(Math.Pow(Convert.ToDouble(v), Convert.ToDouble(e))));
        });
        Add("round", 0, 1, (env, input, outer, args) =>
        {
            var v = InputValue(input, "round");
            var p = args.Length == 0 ? 0 : Values.SingleInteger(Arg(env, outer, args[0]), "round") ?? 0;
            if (p < 0) throw new FhirPathEvaluationException("round(): precision must not be negative");
            return v switch
            {
                null => Empty,
                long l => One(l),
                decimal d => One(Math.Round(d, (int)Math.Min(p, 28), MidpointRounding.AwayFromZero)),
                _ => throw new FhirPathEvaluationException("round() needs a number"),
            };
        });
    }
}

using FhirArchive.Fhir.Model;

namespace FhirArchive.Fhir.FhirPath;

/// <summary>Utility, tree navigation, boundary/precision and sort functions.</summary>
internal static partial class Functions
{
    private static void RegisterUtility()
    {
        Add("children", 0, 0, (env, input, _, _) =>
        {
            var r = new List<FhirPathItem>();
            foreach (var it in input)
                if (it.Node is { } n)
                    foreach (var c in n.Children) r.Add(FhirPathItem.FromNode(c));
            env.Step(r.Count);
            return r;
        });
        Add("descendants", 0, 0, (env, input, _, _) =>
        {
            var r = new List<FhirPathItem>();
            foreach (var it in input)
                if (it.Node is { } n)
                    foreach (var d in n.Descendants()) r.Add(FhirPathItem.FromNode(d));
            env.Step(r.Count);
            return r;
        });
        Add("trace", 1, 2, (env, input, outer, args) =>
        {
            var name = Values.SingleString(Arg(env, outer, args[0]), "trace") ?? "";
            if (env.Ctx.Tracer is { } tracer)
            {
                IReadOnlyList<FhirPathItem> shown = input;
                if (args.Length > 1) shown = input.SelectMany((it, i) => Lambda(env, args[1], it, i)).ToList();
                tracer(name, shown);
            }
            return input;
        });
        Add("now", 0, 0, (env, _, _, _) => One(PartialDateTime.FromDateTimeOffset(Now(env), DateTimeKind2.DateTime, DateTimePrecision.Millisecond)));
        Add("today", 0, 0, (env, _, _, _) => One(PartialDateTime.FromDateTimeOffset(Now(env), DateTimeKind2.Date, DateTimePrecision.Day)));
        Add("timeOfDay", 0, 0, (env, _, _, _) => One(PartialDateTime.FromDateTimeOffset(Now(env), DateTimeKind2.Time, DateTimePrecision.Millisecond)));
        Add("type", 0, 0, (_, input, _, _) => input.Select(i => FhirPathItem.FromValue(TypeSystem.TypeOf(i))).ToList());
        Add("defineVariable", 1, 2, (env, input, outer, args) =>
        {
            var name = Values.SingleString(Arg(env, outer, args[0]), "defineVariable")
                       ?? throw new FhirPathEvaluationException("defineVariable() needs a name");
            var value = args.Length > 1 ? args[1](env, input) : input;
            env.Defined ??= new Dictionary<string, IReadOnlyList<FhirPathItem>>(StringComparer.Ordinal);
            if (env.Defined.ContainsKey(name) || env.Ctx.Variables.ContainsKey(name) || name is "context" or "resource" or "rootResource" or "ucum")
                throw new FhirPathEvaluationException($"variable '%{name}' is already defined");
            env.Defined[name] = value;
            return input;
        });
        Add("precision", 0, 0, (_, input, _, _) => InputValue(input, "precision") switch
        {
            null => Empty,
            decimal d => One((long)d.Scale),
            long => One(0L),
            PartialDateTime p => One((long)p.PrecisionDigits),
            _ => Empty,
        });
        Add("lowBoundary", 0, 1, (env, input, outer, args) => Boundary(env, input, outer, args, low: true));
        Add("highBoundary", 0, 1, (env, input, outer, args) => Boundary(env, input, outer, args, low: false));
        Add("comparable", 1, 1, (env, input, outer, args) =>
        {
            var a = InputValue(input, "comparable") as Quantity;
            var b = Values.SingleValue(Arg(env, outer, args[0]), "comparable") as Quantity;
            if (a is null || b is null) return Empty;
            return Bool(Quantity.Compare(a, b, equivalence: true) is not null);
        });
    }

    private static DateTimeOffset Now(Env env) => env.Now ??= env.Ctx.Now ?? DateTimeOffset.Now;

    private static IReadOnlyList<FhirPathItem> Boundary(Env env, IReadOnlyList<FhirPathItem> input, IReadOnlyList<FhirPathItem> outer, Eval[] args, bool low)
    {
        var v = InputValue(input, low ? "lowBoundary" : "highBoundary");
        long? p = args.Length == 0 ? null : Values.SingleInteger(Arg(env, outer, args[0]), "boundary");
        if (args.Length > 0 && p is null) return Empty;
        switch (v)
        {
            case null: return Empty;
            case long l: return One(DecimalBoundary(l, p ?? 8, low));
            case decimal d: return One(DecimalBoundary(d, p ?? 8, low));
            case Quantity q: return DecimalBoundary(q.Value, p ?? 8, low) is decimal r ? One(new Quantity(r, q.Unit)) : Empty;
            case PartialDateTime dt: return One(DateBoundary(dt, p, low));
            default: return Empty;
        }
    }

    private static decimal? DecimalBoundary(decimal value, long precision, bool low)
    {
        if (precision < 0 || precision > 28) return null;
        var half = 0.5m;
        for (var i = 0; i < value.Scale; i++) half /= 10;
        var b = low ? value - half : value + half;
        var p = (int)precision;
        var unit = 1m;
        for (var i = 0; i < p; i++) unit /= 10;
        // Floor for the low boundary, ceiling for the high one, so the result still bounds the value's range;
        // a boundary smaller than the last requested digit is zero.
        var r = Math.Abs(b) < unit && p > 0 ? 0m : low ? Math.Floor(b / unit) * unit : Math.Ceiling(b / unit) * unit;
        return decimal.Round(r, p) + new decimal(0, 0, 0, false, (byte)p); // fix the scale to p digits
    }

    private static PartialDateTime? DateBoundary(PartialDateTime d, long? digits, bool low)
    {
        DateTimePrecision p;
        if (d.Kind == DateTimeKind2.Time)
            p = (digits ?? 9) switch { 2 => DateTimePrecision.Hour, 4 => DateTimePrecision.Minute, 6 => DateTimePrecision.Second, 9 => DateTimePrecision.Millisecond, _ => (DateTimePrecision)(-1) };
        else
            p = (digits ?? (d.Kind == DateTimeKind2.Date ? 8 : 17)) switch
            {
                4 => DateTimePrecision.Year, 6 => DateTimePrecision.Month, 8 => DateTimePrecision.Day, 10 => DateTimePrecision.Hour,
                12 => DateTimePrecision.Minute, 14 => DateTimePrecision.Second, 17 => DateTimePrecision.Millisecond, _ => (DateTimePrecision)(-1),
            };
        if ((int)p < 0) return null;
        if (d.Kind == DateTimeKind2.Date && p > DateTimePrecision.Day) return null;
        var have = d.Precision;
        int month = have >= DateTimePrecision.Month ? d.Month : low ? 1 : 12;
        int day = have >= DateTimePrecision.Day ? d.Day : low ? 1 : DateTime.DaysInMonth(d.Year == 0 ? 1 : d.Year, month);
        int hour = have >= DateTimePrecision.Hour ? d.Hour : low ? 0 : 23;
        int minute = have >= DateTimePrecision.Minute ? d.Minute : low ? 0 : 59;
        int second = have >= DateTimePrecision.Second ? d.Second : low ? 0 : 59;
        int ms = have >= DateTimePrecision.Millisecond ? d.Millisecond : low ? 0 : 999;
        TimeSpan? offset = d.Kind != DateTimeKind2.DateTime ? null : d.Offset ?? (low ? TimeSpan.FromHours(14) : TimeSpan.FromHours(-12));
        var full = new PartialDateTime(d.Kind, d.Year, month, day, hour, minute, second, ms, DateTimePrecision.Millisecond, offset);
        return full.WithPrecision(p);
    }
}

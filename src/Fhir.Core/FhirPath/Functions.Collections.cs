namespace FhirArchive.Fhir.FhirPath;

/// <summary>Existence, filtering/projection, subsetting, combining and aggregate functions.</summary>
internal static partial class Functions
{
    private static void RegisterExistence()
    {
        Add("not", 0, 0, (_, input, _, _) => Values.SingleBool(input, "not()") is { } b ? Bool(!b) : Empty);
        Add("empty", 0, 0, (_, input, _, _) => Bool(input.Count == 0));
        Add("exists", 0, 1, (env, input, _, args) =>
        {
            if (args.Length == 0) return Bool(input.Count > 0);
            for (var i = 0; i < input.Count; i++)
                if (Values.SingleBool(Lambda(env, args[0], input[i], i), "exists") == true) return TrueList;
            return FalseList;
        });
        Add("all", 1, 1, (env, input, _, args) =>
        {
            for (var i = 0; i < input.Count; i++)
                if (Values.SingleBool(Lambda(env, args[0], input[i], i), "all") != true) return FalseList;
            return TrueList;
        });
        Add("allTrue", 0, 0, (_, input, _, _) => Bool(Booleans(input).All(b => b)));
        Add("anyTrue", 0, 0, (_, input, _, _) => Bool(Booleans(input).Any(b => b)));
        Add("allFalse", 0, 0, (_, input, _, _) => Bool(Booleans(input).All(b => !b)));
        Add("anyFalse", 0, 0, (_, input, _, _) => Bool(Booleans(input).Any(b => !b)));
        Add("subsetOf", 1, 1, (env, input, outer, args) =>
        {
            var other = Arg(env, outer, args[0]);
            return Bool(input.All(i => Values.Contains(other, i)));
        });
        Add("supersetOf", 1, 1, (env, input, outer, args) =>
        {
            var other = Arg(env, outer, args[0]);
            return Bool(other.All(i => Values.Contains(input, i)));
        });
        Add("count", 0, 0, (_, input, _, _) => One((long)input.Count));
        Add("distinct", 0, 0, (_, input, _, _) => Values.Distinct(input));
        Add("isDistinct", 0, 0, (_, input, _, _) => Bool(Values.Distinct(input).Count == input.Count));

        Add("where", 1, 1, (env, input, _, args) =>
        {
            List<FhirPathItem>? r = null;
            for (var i = 0; i < input.Count; i++)
                if (Values.SingleBool(Lambda(env, args[0], input[i], i), "where") == true) (r ??= []).Add(input[i]);
            return r is null ? Empty : r;
        });
        Add("select", 1, 1, (env, input, _, args) =>
        {
            if (input.Count == 1) return Lambda(env, args[0], input[0], 0);
            List<FhirPathItem>? r = null;
            for (var i = 0; i < input.Count; i++)
            {
                var part = Lambda(env, args[0], input[i], i);
                env.Step(part.Count); // items produced count against the budget, so fan-out is bounded too
                if (part.Count > 0) (r ??= []).AddRange(part);
            }
            return r is null ? Empty : r;
        });
        Add("repeat", 1, 1, (env, input, _, args) => Repeat(env, input, args[0], distinct: true));
        Add("repeatAll", 1, 1, (env, input, _, args) => Repeat(env, input, args[0], distinct: false));

        Add("aggregate", 1, 2, (env, input, outer, args) =>
        {
            var total = args.Length > 1 ? Arg(env, outer, args[1]) : Empty;
            var old = env.Total;
            try
            {
                for (var i = 0; i < input.Count; i++)
                {
                    env.Total = total;
                    total = Lambda(env, args[0], input[i], i);
                }
            }
            finally
            {
                env.Total = old;
            }
            return total;
        });
    }

    private static List<bool> Booleans(IReadOnlyList<FhirPathItem> input)
    {
        var r = new List<bool>(input.Count);
        foreach (var i in input)
            r.Add(i.Value is bool b ? b : throw new FhirPathEvaluationException("allTrue()/anyTrue()/allFalse()/anyFalse() need Booleans"));
        return r;
    }

    private static IReadOnlyList<FhirPathItem> Repeat(Env env, IReadOnlyList<FhirPathItem> input, Eval arg, bool distinct)
    {
        var result = new List<FhirPathItem>();
        var queue = new Queue<FhirPathItem>(input);
        env.Enter();
        try
        {
            while (queue.Count > 0)
            {
                var item = queue.Dequeue();
                foreach (var x in Lambda(env, arg, item, 0))
                {
                    if (distinct && result.Any(r => Values.SameItem(r, x))) continue;
                    result.Add(x);
                    queue.Enqueue(x);
                    env.Step();
                }
            }
        }
        finally
        {
            env.Leave();
        }
        return result;
    }

    private static void RegisterSubsetting()
    {
        Add("single", 0, 0, (_, input, _, _) => input.Count switch
        {
            0 => Empty,
            1 => input,
            _ => throw new FhirPathEvaluationException($"single(): the collection has {input.Count} items"),
        });
        Add("first", 0, 0, (_, input, _, _) => input.Count == 0 ? Empty : [input[0]]);
        Add("last", 0, 0, (_, input, _, _) => input.Count == 0 ? Empty : [input[^1]]);
        Add("tail", 0, 0, (_, input, _, _) => input.Count <= 1 ? Empty : input.Skip(1).ToList());
        Add("skip", 1, 1, (env, input, outer, args) =>
        {
            var n = Values.SingleInteger(Arg(env, outer, args[0]), "skip") ?? 0;
            return n <= 0 ? input : input.Skip((int)Math.Min(n, int.MaxValue)).ToList();
        });
        Add("take", 1, 1, (env, input, outer, args) =>
        {
            var n = Values.SingleInteger(Arg(env, outer, args[0]), "take") ?? 0;
            return n <= 0 ? Empty : input.Take((int)Math.Min(n, int.MaxValue)).ToList();
        });
        Add("intersect", 1, 1, (env, input, outer, args) =>
        {
            var other = Arg(env, outer, args[0]);
            return Values.Distinct(input.Where(i => other.Any(o => Values.SameItem(i, o))));
        });
        Add("exclude", 1, 1, (env, input, outer, args) =>
        {
            var other = Arg(env, outer, args[0]);
            return input.Where(i => !other.Any(o => Values.SameItem(i, o))).ToList();
        });
        Add("union", 1, 1, (env, input, outer, args) => Values.Distinct(input.Concat(Arg(env, outer, args[0]))));
        Add("combine", 1, 1, (env, input, outer, args) => input.Concat(Arg(env, outer, args[0])).ToList());
    }
}

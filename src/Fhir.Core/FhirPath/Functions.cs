namespace FhirArchive.Fhir.FhirPath;

/// <summary>A function body: env, the input collection, the outer focus (for evaluating plain arguments), the arguments.</summary>
internal delegate IReadOnlyList<FhirPathItem> Fn(Env env, IReadOnlyList<FhirPathItem> input, IReadOnlyList<FhirPathItem> outer, Eval[] args);

/// <summary>The function table and the helpers the function families share.</summary>
internal static partial class Functions
{
    private static readonly FhirPathItem[] Empty = Compiler.Empty;
    private static readonly FhirPathItem[] TrueList = [FhirPathItem.True];
    private static readonly FhirPathItem[] FalseList = [FhirPathItem.False];

    private static readonly Dictionary<string, (int Min, int Max, Fn Body)> Table = new(StringComparer.Ordinal);

    private static void Add(string name, int min, int max, Fn body) => Table[name] = (min, max, body);

    static Functions()
    {
        RegisterExistence();
        RegisterSubsetting();
        RegisterStrings();
        RegisterMath();
        RegisterAggregates();
        RegisterConversion();
        RegisterUtility();
        RegisterFhir();
    }

    public static IEnumerable<string> Names => Table.Keys.Concat(["is", "as", "ofType"]);

    public static Eval Compile(FunctionExpr f)
    {
        var target = f.Target is null ? null : Compiler.Compile(f.Target);
        if (f.Name is "is" or "as" or "ofType")
        {
            if (f.Args.Count != 1) throw new FhirPathSyntaxException($"{f.Name}() takes one type name", f.Position);
            var type = TypeName(f.Args[0]) ?? throw new FhirPathSyntaxException($"{f.Name}() needs a type name", f.Args[0].Position);
            var name = f.Name;
            TypeSystem.CheckKnown(type, f.Args[0].Position);
            return (env, focus) =>
            {
                var input = target is null ? focus : target(env, focus);
                if (input.Count == 0) return Empty;
                if (name == "is")
                {
                    if (input.Count > 1) throw new FhirPathEvaluationException("is() needs a single item");
                    return TypeSystem.Is(input[0], type) ? TrueList : FalseList;
                }
                if (name == "as" && input.Count > 1 && env.Ctx.Strict) throw new FhirPathEvaluationException("as() needs a single item");
                List<FhirPathItem>? r = null;
                foreach (var it in input)
                    if (TypeSystem.Is(it, type, exact: true)) (r ??= []).Add(it);
                return r is null ? Empty : r;
            };
        }
        if (f.Name == "sort") return CompileSort(target, f);
        if (!Table.TryGetValue(f.Name, out var def)) throw new FhirPathSyntaxException($"unknown function '{f.Name}'", f.Position);
        if (f.Args.Count < def.Min || f.Args.Count > def.Max)
            throw new FhirPathSyntaxException($"{f.Name}() takes {(def.Min == def.Max ? def.Min.ToString() : $"{def.Min} to {def.Max}")} argument(s), not {f.Args.Count}", f.Position);
        var args = new Eval[f.Args.Count];
        for (var i = 0; i < args.Length; i++) args[i] = Compiler.Compile(f.Args[i]);
        var body = def.Body;
        return (env, focus) =>
        {
            var input = target is null ? focus : target(env, focus);
            env.Step();
            return body(env, input, focus, args);
        };
    }

    /// <summary>sort(key, -key2...): a leading minus on a key sorts that key descending.</summary>
    private static Eval CompileSort(Eval? target, FunctionExpr f)
    {
        var keys = f.Args.Select(a => a is UnaryExpr { Op: "-" } u ? (Eval: Compiler.Compile(u.Operand), Desc: true) : (Eval: Compiler.Compile(a), Desc: false)).ToArray();
        return (env, focus) =>
        {
            var input = target is null ? focus : target(env, focus);
            env.Step(input.Count);
            var rows = new (FhirPathItem Item, object?[] Keys, int Pos)[input.Count];
            for (var i = 0; i < input.Count; i++)
            {
                var k = new object?[Math.Max(1, keys.Length)];
                if (keys.Length == 0) k[0] = input[i].Value;
                for (var j = 0; j < keys.Length; j++) k[j] = Values.SingleValue(Lambda(env, keys[j].Eval, input[i], i), "sort");
                rows[i] = (input[i], k, i);
            }
            var ordered = rows.ToList();
            // List.Sort is not stable; order by position as the final key.
            ordered.Sort((a, b) =>
            {
                for (var j = 0; j < a.Keys.Length; j++)
                {
                    var (x, y) = (a.Keys[j], b.Keys[j]);
                    // Items without a key come first in either direction (as the official tests expect).
                    if (x is null || y is null)
                    {
                        if (x is null && y is null) continue;
                        return x is null ? -1 : 1;
                    }
                    var c = Values.Compare(x, y) ?? 0;
                    if (keys.Length > j && keys[j].Desc) c = -c;
                    if (c != 0) return c;
                }
                return a.Pos.CompareTo(b.Pos);
            });
            return ordered.Select(r => r.Item).ToList();
        };
    }

    /// <summary>The type name argument of is(), as(), ofType(); null when the argument is not one.</summary>
    internal static string? TypeName(Expr e) => e switch
    {
        IdentifierExpr id => id.Name,
        MemberExpr { Target: IdentifierExpr ns } m => ns.Name + "." + m.Name,
        LiteralExpr { Value: string s } => s,
        _ => null,
    };

    /// <summary>A plain argument: evaluated against the focus the function call was evaluated in.</summary>
    private static IReadOnlyList<FhirPathItem> Arg(Env env, IReadOnlyList<FhirPathItem> outer, Eval arg) => arg(env, outer);

    /// <summary>Evaluates a lambda argument for one item with $this and $index bound.</summary>
    private static IReadOnlyList<FhirPathItem> Lambda(Env env, Eval arg, FhirPathItem item, int index)
    {
        var (oldThis, oldIndex) = (env.This, env.Index);
        env.This = item;
        env.Index = index;
        env.Step();
        try
        {
            return arg(env, [item]);
        }
        finally
        {
            env.This = oldThis;
            env.Index = oldIndex;
        }
    }

    private static IReadOnlyList<FhirPathItem> Bool(bool? b) => b is null ? Empty : b.Value ? TrueList : FalseList;

    private static IReadOnlyList<FhirPathItem> One(object? v) => v is null ? Empty : [FhirPathItem.FromValue(v)];

    /// <summary>The input's single System value for functions defined on one item (empty input → null).</summary>
    private static object? InputValue(IReadOnlyList<FhirPathItem> input, string fn) => Values.SingleValue(input, fn + "()");

    private static string? InputString(IReadOnlyList<FhirPathItem> input, string fn)
    {
        var v = InputValue(input, fn);
        if (v is null && input.Count == 1 && input[0].Node is { IsPrimitive: false })
            throw new FhirPathEvaluationException($"{fn}() needs a string, not a {input[0].TypeName}");
        return v switch
        {
            null => null,
            string s => s,
            _ => null,
        };
    }
}

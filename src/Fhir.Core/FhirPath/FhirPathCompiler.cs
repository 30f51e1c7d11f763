using System.Collections.Concurrent;
using FhirArchive.Fhir.Model;

namespace FhirArchive.Fhir.FhirPath;

internal delegate IReadOnlyList<FhirPathItem> Eval(Env env, IReadOnlyList<FhirPathItem> focus);

/// <summary>Parses and compiles expressions; compiled expressions are cached by text and are thread-safe.</summary>
public sealed class FhirPathCompiler
{
    public static FhirPathCompiler Default { get; } = new();

    private readonly ConcurrentDictionary<string, CompiledExpression> _cache = new(StringComparer.Ordinal);
    private const int MaxCached = 20_000;

    /// <summary>Parses and compiles (or returns the cached compilation). Throws <see cref="FhirPathSyntaxException"/>.</summary>
    public CompiledExpression Compile(string expression)
    {
        if (_cache.TryGetValue(expression, out var hit)) return hit;
        var compiled = new CompiledExpression(expression, Parser.Parse(expression));
        // A bounded cache: callers compiling unbounded distinct texts must not grow memory forever.
        if (_cache.Count >= MaxCached) _cache.Clear();
        return _cache.GetOrAdd(expression, compiled);
    }

    /// <summary>Parse only (syntax check), without caching.</summary>
    public static Expr Parse(string expression) => Parser.Parse(expression);
}

/// <summary>An expression compiled into closures. Evaluate as often as needed, from any thread.</summary>
public sealed class CompiledExpression
{
    private readonly Eval _eval;

    internal CompiledExpression(string expression, Expr ast)
    {
        Expression = expression;
        Ast = ast;
        _eval = Compiler.Compile(ast);
        _selector = NodeSelector.TryCreate(ast);
    }

    private readonly NodeSelector? _selector;

    /// <summary>True when <see cref="SelectNodes"/> walks the tree directly (a path, a union of paths; see NodeSelector).</summary>
    public bool HasFastSelector => _selector is not null;

    public string Expression { get; }

    public Expr Ast { get; }

    public IReadOnlyList<FhirPathItem> Evaluate(ElementNode focus, EvaluationContext? ctx = null) =>
        Evaluate([FhirPathItem.FromNode(focus)], ctx);

    public IReadOnlyList<FhirPathItem> Evaluate(IReadOnlyList<FhirPathItem> focus, EvaluationContext? ctx = null)
    {
        ctx ??= DefaultContext;
        var first = focus.Count > 0 ? focus[0].Node : null;
        var resource = ctx.Resource ?? first?.ContainingResource;
        var root = ctx.RootResource;
        if (root is null)
        {
            // %rootResource: the container of a contained resource, else %resource itself (a Bundle entry is its own root).
            root = resource;
            while (root is { Name: "contained", Parent: { } p } && p.ContainingResource is { } container) root = container;
        }
        var env = new Env { Ctx = ctx, Context = focus, Resource = resource, RootResource = root, Now = ctx.Now };
        return _eval(env, focus);
    }

    /// <summary>
    /// The elements <see cref="Evaluate(ElementNode, EvaluationContext?)"/> gives, in its order (System values left out):
    /// walked directly for the shapes of search parameter expressions, else evaluated. Throws as Evaluate does.
    /// </summary>
    public IReadOnlyList<ElementNode> SelectNodes(ElementNode focus, EvaluationContext? ctx = null)
    {
        ctx ??= DefaultContext;
        if (_selector is not null)
        {
            var nodes = new List<ElementNode>();
            if (_selector.TrySelect(focus, ctx, nodes)) return nodes;
        }
        var items = Evaluate(focus, ctx);
        var result = new List<ElementNode>(items.Count);
        foreach (var item in items)
            if (item.Node is { } node) result.Add(node);
        return result;
    }

    /// <summary>True only when the result is the single value true (empty and false give false).</summary>
    public bool Predicate(ElementNode focus, EvaluationContext? ctx = null) =>
        Evaluate(focus, ctx) is [{ Value: true }];

    /// <summary>The single result's System value (a node's primitive value), null when empty; throws on more than one.</summary>
    public object? Scalar(ElementNode focus, EvaluationContext? ctx = null)
    {
        var r = Evaluate(focus, ctx);
        return r.Count switch
        {
            0 => null,
            1 => r[0].Value ?? (object?)r[0].Node,
            _ => throw new FhirPathEvaluationException($"'{Expression}' returned {r.Count} items where one was expected"),
        };
    }

    private static readonly EvaluationContext DefaultContext = new();

    public override string ToString() => Expression;
}

using FhirArchive.Fhir.Model;

namespace FhirArchive.Fhir.FhirPath;

/// <summary>
/// The fast form of the expressions that only select elements — the shapes of the SearchParameter expressions:
/// member paths from the focus's type (<c>Observation.code</c>), <c>as(T)</c> / <c>ofType(T)</c> / <c>x as T</c>,
/// <c>where(resolve() is T)</c>, and unions of such paths. It walks the element tree depth first, without
/// collections of <see cref="FhirPathItem"/>s, and gives exactly what <see cref="CompiledExpression.Evaluate(ElementNode, EvaluationContext?)"/>
/// gives: the same nodes in the same order, unions de-duplicated by the same equality. Where the engine would
/// fail or do something unusual (a serialised choice name, a strict context, <c>resolve()</c> of a primitive), the
/// selector declines and the caller evaluates with the engine.
/// </summary>
internal sealed class NodeSelector
{
    private readonly Plan _plan;

    private NodeSelector(Plan plan) => _plan = plan;

    /// <summary>A selector for the expression, or null when it has another shape.</summary>
    public static NodeSelector? TryCreate(Expr ast) => PlanOf(ast) is { } plan ? new NodeSelector(plan) : null;

    /// <summary>Adds the selected nodes to <paramref name="into"/>; false when the engine must evaluate instead.</summary>
    public bool TrySelect(ElementNode focus, EvaluationContext ctx, List<ElementNode> into)
    {
        if (ctx.Strict) return false;
        var state = new State(ctx, focus);
        return _plan.Select(focus, ref state, into);
    }

    private static Plan? PlanOf(Expr e)
    {
        if (e is BinaryExpr { Op: "|" } b)
            return PlanOf(b.Left) is { } l && PlanOf(b.Right) is { } r ? new Union(l, r) : null;
        var steps = new List<Step>();
        return StepsOf(e, steps) ? new Path([.. steps]) : null;
    }

    /// <summary>The steps of a path, first step first; false for any other shape.</summary>
    private static bool StepsOf(Expr? e, List<Step> steps)
    {
        switch (e)
        {
            case null:
                return true; // a function call that starts the path: its input is the focus
            case IdentifierExpr id:
                steps.Add(new Step(StepKind.Member, id.Name, Root: true));
                return true;
            case MemberExpr m when StepsOf(m.Target, steps):
                steps.Add(new Step(StepKind.Member, m.Name));
                return true;
            case TypeExpr { Op: "as" } t when StepsOf(t.Operand, steps):
                steps.Add(new Step(StepKind.ExactType, t.TypeName));
                return true;
            case FunctionExpr { Name: "as" or "ofType", Args: [var arg] } f when Functions.TypeName(arg) is { } type && StepsOf(f.Target, steps):
                steps.Add(new Step(StepKind.ExactType, type));
                return true;
            case FunctionExpr { Name: "where", Args: [TypeExpr { Op: "is", Operand: FunctionExpr { Target: null, Name: "resolve", Args: [] } } test] } f
                when StepsOf(f.Target, steps):
                steps.Add(new Step(StepKind.ResolvesTo, test.TypeName));
                return true;
            default:
                return false;
        }
    }

    private enum StepKind { Member, ExactType, ResolvesTo }

    /// <param name="Root">A name that starts the path: a type name there selects the focus when it is of that type.</param>
    private sealed record Step(StepKind Kind, string Name, bool Root = false)
    {
        public readonly bool TypeLike = char.IsUpper(Name[0]);
    }

    /// <summary>What one selection needs besides the nodes: the context, and an engine state for resolve() made on first use.</summary>
    private struct State(EvaluationContext ctx, ElementNode focus)
    {
        private Env? _env;

        public Env Env => _env ??= new Env { Ctx = ctx, Context = Compiler.Empty, Resource = focus.ContainingResource };
    }

    private abstract class Plan
    {
        public abstract bool Select(ElementNode focus, ref State state, List<ElementNode> into);
    }

    /// <summary>"a | b": both sides in order, then the engine's de-duplication (by equality, first occurrence kept).</summary>
    private sealed class Union(Plan left, Plan right) : Plan
    {
        public override bool Select(ElementNode focus, ref State state, List<ElementNode> into)
        {
            var start = into.Count;
            if (!left.Select(focus, ref state, into) || !right.Select(focus, ref state, into)) return false;
            if (into.Count - start < 2) return true;
            var distinct = Values.Distinct(into.Skip(start).Select(FhirPathItem.FromNode).ToList());
            into.RemoveRange(start, into.Count - start);
            foreach (var item in distinct) into.Add(item.Node!);
            return true;
        }
    }

    /// <summary>
    /// A path of steps. Each step maps every input node to its outputs in order and the engine concatenates them,
    /// so walking depth first yields the same order without the collections in between.
    /// </summary>
    private sealed class Path(Step[] steps) : Plan
    {
        public override bool Select(ElementNode focus, ref State state, List<ElementNode> into) => Walk(0, focus, ref state, into);

        private bool Walk(int i, ElementNode node, ref State state, List<ElementNode> into)
        {
            if (i == steps.Length)
            {
                into.Add(node);
                return true;
            }
            var step = steps[i];
            switch (step.Kind)
            {
                case StepKind.ExactType:
                    return !TypeSystem.IsNode(node, step.Name, exact: true) || Walk(i + 1, node, ref state, into);
                case StepKind.ResolvesTo:
                {
                    if (node.IsPrimitive) return false; // resolve() of a uri or canonical: its System value; left to the engine
                    if (node.Child("reference")?.Value is not { } reference) return true;
                    var target = Functions.Resolve(state.Env, node, reference);
                    return target is null || !TypeSystem.IsNode(target, step.Name, exact: false) || Walk(i + 1, node, ref state, into);
                }
                default:
                    if (step.Root && step.TypeLike && node.IsResource && TypeSystem.NodeIs(node, step.Name, null))
                        return Walk(i + 1, node, ref state, into);
                    var found = false;
                    foreach (var c in node.Children)
                    {
                        if (c.Name != step.Name) continue;
                        found = true;
                        if (!Walk(i + 1, c, ref state, into)) return false;
                    }
                    // The engine rejects a serialised choice name ("valueQuantity"): let it answer.
                    return found || node.TypeDef is not { } t || t.GetElement(step.Name) is not null
                           || !t.TryGetBySerialName(step.Name, out _, out var choiceType) || choiceType is null;
            }
        }
    }
}

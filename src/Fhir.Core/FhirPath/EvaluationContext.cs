using FhirArchive.Fhir.Model;

namespace FhirArchive.Fhir.FhirPath;

/// <summary>What an evaluation may use beyond the focus: environment variables, callbacks and limits.</summary>
public sealed class EvaluationContext
{
    /// <summary>%resource; defaults to the resource containing the focus.</summary>
    public ElementNode? Resource { get; init; }

    /// <summary>%rootResource; defaults to the outermost resource above %resource (a Bundle for its entries).</summary>
    public ElementNode? RootResource { get; init; }

    /// <summary>Caller-supplied variables (%name), each a collection; values may be ElementNodes or System values.</summary>
    public Dictionary<string, IReadOnlyList<FhirPathItem>> Variables { get; } = new(StringComparer.Ordinal);

    /// <summary>resolve() for references not found in the enclosing Bundle or contained resources.</summary>
    public Func<string, ElementNode?>? Resolver { get; init; }

    /// <summary>memberOf(): (code, or "system|code" for a Coding, valueSetUrl) → member / not / unknown (null).</summary>
    public Func<string, string, bool?>? MemberOf { get; init; }

    /// <summary>conformsTo(): (resource, profile url) → conforms / not / unknown.</summary>
    public Func<ElementNode, string, bool?>? ConformsTo { get; init; }

    /// <summary>trace(): receives the label and the traced collection.</summary>
    public Action<string, IReadOnlyList<FhirPathItem>>? Tracer { get; init; }

    /// <summary>Reject paths the definitions do not know (the suite's "strict" mode) instead of returning empty.</summary>
    public bool Strict { get; init; }

    /// <summary>Upper bound on evaluation steps (node visits and function calls); guards against hostile expressions.</summary>
    public int MaxSteps { get; init; } = 10_000_000;

    /// <summary>Upper bound on nesting of repeat()/descendants()/aggregate() calls.</summary>
    public int MaxDepth { get; init; } = 256;

    /// <summary>Fixed "now" for now()/today()/timeOfDay(); the current time when null.</summary>
    public DateTimeOffset? Now { get; init; }

    public EvaluationContext SetVariable(string name, params object[] values)
    {
        var list = new FhirPathItem[values.Length];
        for (var i = 0; i < values.Length; i++)
            list[i] = values[i] switch
            {
                FhirPathItem it => it,
                ElementNode n => FhirPathItem.FromNode(n),
                var v => FhirPathItem.FromValue(v),
            };
        Variables[name] = list;
        return this;
    }
}

/// <summary>Per-evaluation state: the iteration variables and the step budget.</summary>
internal sealed class Env
{
    public required EvaluationContext Ctx;
    public required IReadOnlyList<FhirPathItem> Context;
    public ElementNode? Resource;
    public ElementNode? RootResource;
    public FhirPathItem? This;
    public int Index;
    public IReadOnlyList<FhirPathItem>? Total;
    public int Steps;
    public int Depth;
    public DateTimeOffset? Now;
    public Dictionary<string, IReadOnlyList<FhirPathItem>>? Defined;

    public void Step(int n = 1)
    {
        Steps += n;
        if (Steps > Ctx.MaxSteps) throw new FhirPathEvaluationException($"evaluation exceeded {Ctx.MaxSteps} steps");
    }

    public void Enter()
    {
        if (++Depth > Ctx.MaxDepth) throw new FhirPathEvaluationException($"evaluation nested deeper than {Ctx.MaxDepth}");
    }

    public void Leave() => Depth--;
}

using FhirArchive.Fhir.Definitions;
using FhirArchive.Fhir.FhirPath;
using FhirArchive.Fhir.Model;

namespace FhirArchive.Fhir.Validation;

/// <summary>Invariants (ElementDefinition.constraint) evaluated with the FHIRPath engine.</summary>
public static class FhirPathInvariants
{
    /// <summary>
    /// A checker: true when the invariant holds or does not apply (an empty result), false when it evaluates to
    /// false, null when it cannot be evaluated (a run-time error: the validator then says nothing).
    /// </summary>
    public static Func<ElementNode, Constraint, bool?> Checker(Func<string, string?, string, bool?>? codeInValueSet)
    {
        var context = Context(codeInValueSet);
        return (node, constraint) => Evaluate(node, constraint, context);
    }

    /// <param name="resource">%resource when it is not the resource holding the node (null: that one).</param>
    internal static EvaluationContext Context(Func<string, string?, string, bool?>? codeInValueSet, ElementNode? resource = null) => new()
    {
        Resource = resource,
        MemberOf = codeInValueSet is null ? null : (code, valueSet) => MemberOf(codeInValueSet, code, valueSet),
    };

    internal static bool? Evaluate(ElementNode node, Constraint constraint, EvaluationContext context)
    {
        if (constraint.Expression is null) return null;
        try
        {
            var result = FhirPathCompiler.Default.Compile(constraint.Expression).Evaluate(node, context);
            return result is not [{ Value: false }];
        }
        catch (Exception e) when (e is FhirPathEvaluationException or FhirPathSyntaxException)
        {
            return null;
        }
    }

    /// <summary>memberOf() hands over "system|code" for Codings and a bare code for code elements.</summary>
    private static bool? MemberOf(Func<string, string?, string, bool?> inValueSet, string code, string valueSet)
    {
        var bar = code.LastIndexOf('|');
        return bar > 0 ? inValueSet(valueSet, code[..bar], code[(bar + 1)..]) : inValueSet(valueSet, null, code);
    }
}

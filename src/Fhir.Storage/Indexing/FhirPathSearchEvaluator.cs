using FhirArchive.Fhir.FhirPath;
using FhirArchive.Fhir.Model;

namespace FhirArchive.Storage.Indexing;

/// <summary>
/// SearchParameter expressions evaluated with the FHIRPath engine (compiled once, cached by text).
/// Indexing has no other resources at hand, so <c>resolve()</c> answers with an empty resource of the type
/// the reference names: enough for <c>where(resolve() is Patient)</c>.
/// </summary>
public sealed class FhirPathSearchEvaluator : ISearchExpressionEvaluator
{
    private static readonly EvaluationContext Context = new() { Resolver = TypedStub };

    /// <summary>
    /// Walk the tree directly for the common shapes (paths, unions, as/ofType, where(resolve() is T); see
    /// <see cref="CompiledExpression.SelectNodes"/>). Off only to compare with the general evaluation (tests, benchmarks).
    /// </summary>
    public bool FastPaths { get; init; } = true;

    public IEnumerable<ElementNode> Select(ElementNode resource, string expression)
    {
        var compiled = FhirPathCompiler.Default.Compile(expression);
        try
        {
            if (FastPaths) return compiled.SelectNodes(resource, Context);
            var nodes = new List<ElementNode>();
            foreach (var item in compiled.Evaluate(resource, Context))
                if (item.Node is { } node) nodes.Add(node);
            return nodes;
        }
        catch (FhirPathEvaluationException)
        {
            return []; // data the expression cannot handle (e.g. several values where one is expected): not indexed
        }
    }

    /// <summary>"Patient/1", "http://x/fhir/Patient/1/_history/2" → an empty Patient with id 1.</summary>
    private static ElementNode? TypedStub(string reference)
    {
        if (!ReferenceParts.TryParse(reference, out var type, out var id)) return null;
        var stub = ElementNode.CreateResource(type);
        stub.Add("id", id);
        return stub;
    }
}

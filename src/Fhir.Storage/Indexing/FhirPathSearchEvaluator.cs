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

    public IEnumerable<ElementNode> Select(ElementNode resource, string expression)
    {
        IReadOnlyList<FhirPathItem> items;
        try
        {
            items = FhirPathCompiler.Default.Compile(expression).Evaluate(resource, Context);
        }
        catch (FhirPathEvaluationException)
        {
            yield break; // data the expression cannot handle (e.g. several values where one is expected): not indexed
        }
        foreach (var item in items)
            if (item.Node is { } node) yield return node;
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

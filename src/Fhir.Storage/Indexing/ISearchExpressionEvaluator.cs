using FhirArchive.Fhir.Model;

namespace FhirArchive.Storage.Indexing;

/// <summary>
/// Evaluates a SearchParameter expression against a resource: the nodes to index. The server uses
/// <see cref="FhirPathSearchEvaluator"/>; tests may plug in their own through DI.
/// </summary>
public interface ISearchExpressionEvaluator
{
    IEnumerable<ElementNode> Select(ElementNode resource, string expression);
}

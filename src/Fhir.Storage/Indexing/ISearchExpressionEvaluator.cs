using FhirArchive.Fhir.Model;

namespace FhirArchive.Storage.Indexing;

/// <summary>
/// Evaluates a SearchParameter expression against a resource. The interim implementation is
/// <see cref="SimplePathEvaluator"/>; the FHIRPath engine (FhirArchive.Fhir.FhirPath) replaces it through DI.
/// </summary>
public interface ISearchExpressionEvaluator
{
    IEnumerable<ElementNode> Select(ElementNode resource, string expression);
}

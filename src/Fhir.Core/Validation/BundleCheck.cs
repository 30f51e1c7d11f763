using FhirArchive.Fhir.Definitions;
using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Outcomes;

namespace FhirArchive.Fhir.Validation;

/// <summary>
/// The Bundle rules the R4 specification states in prose: a fullUrl is absolute; every entry of a bundle that is
/// not a transaction or batch has one; a fullUrl that looks like a RESTful URL ([base]/Type/id) names the entry's
/// resource type and id; the paging links occur once; search results have ids, and 'outcome' entries are
/// OperationOutcomes.
/// </summary>
internal static class BundleCheck
{
    public static void Check(ElementNode bundle, FhirDefinitions defs, Action<IssueSeverity, string, string, string> add)
    {
        var type = bundle.Child("type")?.Value;
        var relations = new HashSet<string>(StringComparer.Ordinal);
        foreach (var link in bundle.ChildrenNamed("link"))
            if (link.Child("relation")?.Value is { } relation and ("self" or "first" or "previous" or "prev" or "next" or "last") && !relations.Add(relation))
                add(IssueSeverity.Error, "structure", $"The link relation '{relation}' can occur only once", link.Location);
        foreach (var entry in bundle.ChildrenNamed("entry"))
        {
            if (type == "searchset" && entry.Child("resource") is { } found)
            {
                var mode = entry.Child("search")?.Child("mode")?.Value;
                if (mode == "outcome" && found.Type != "OperationOutcome")
                    add(IssueSeverity.Error, "structure", $"An entry with search mode 'outcome' must be an OperationOutcome, not a {found.Type}", entry.Location);
                else if (mode != "outcome" && found.Type != "OperationOutcome" && found.ResourceId is null)
                    add(IssueSeverity.Error, "required", "Search results must have ids", entry.Location + ".resource");
            }
            var resource = entry.Child("resource");
            var fullUrl = entry.Child("fullUrl")?.Value;
            if (fullUrl is null)
            {
                // A search's OperationOutcome (search.mode outcome) is not a resource with an identity.
                if (resource is not null && type is not ("transaction" or "batch" or "transaction-response" or "batch-response" or "history")
                    && entry.Child("search")?.Child("mode")?.Value != "outcome")
                    add(IssueSeverity.Error, "required", "Except in transactions and batches, each entry with a resource must have a fullUrl (the resource's identity)", entry.Location);
                continue;
            }
            if (!Uri.TryCreate(fullUrl, UriKind.Absolute, out _))
            {
                add(IssueSeverity.Error, "value", $"The fullUrl must be an absolute URL (not '{fullUrl}')", entry.Location);
                continue;
            }
            if (resource is null || fullUrl.StartsWith("urn:", StringComparison.Ordinal)) continue;
            var parts = fullUrl.Split('/');
            var restful = parts.Length >= 2 && defs.IsResourceType(parts[^2]) ? (Type: parts[^2], Id: parts[^1])
                : parts.Length >= 4 && parts[^2] == "_history" && defs.IsResourceType(parts[^4]) ? (Type: parts[^4], Id: parts[^3]) : default;
            if (restful.Type is null) continue;
            if (resource.ResourceId is not { } id)
                add(IssueSeverity.Error, "value", $"The fullUrl '{fullUrl}' looks like a RESTful server URL, but the resource has no id", entry.Location);
            else if (restful.Type != resource.Type || restful.Id != id)
                add(IssueSeverity.Error, "value", $"The fullUrl '{fullUrl}' looks like a RESTful server URL, so it must end with the resource's type and id (/{resource.Type}/{id})", entry.Location);
        }
    }
}

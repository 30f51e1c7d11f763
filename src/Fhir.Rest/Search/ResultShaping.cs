using FhirArchive.Fhir.Model;

namespace FhirArchive.Rest.Search;

/// <summary>
/// _summary and _elements: trims a resource's elements and tags it SUBSETTED (for searches, reads and the
/// CapabilityStatement alike). _summary=true keeps the summary elements and, inside a kept backbone element, its
/// summary elements (a CapabilityStatement's rest.resource keeps type and operation, not every searchParam).
/// </summary>
public static class ResultShaping
{
    public static Func<ElementNode, ElementNode>? ForRead(HttpRequest r) =>
        For(r.Query["_summary"].ToString() is { Length: > 0 } s ? s : null,
            r.Query["_elements"].ToString() is { Length: > 0 } e ? e.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) : null);

    public static Func<ElementNode, ElementNode>? For(string? summary, string[]? elements)
    {
        if (elements is { Length: > 0 })
        {
            var keep = new HashSet<string>(elements) { "id", "meta" };
            return n => Keep(n, c => keep.Contains(c.Name) || (c.Definition?.Min > 0 && c.Definition.IsModifier));
        }
        return summary switch
        {
            "true" => n => Keep(n, c => c.Name is "id" or "meta" || c.Definition?.IsSummary == true, summaryBackbones: true),
            "text" => n => Keep(n, c => c.Name is "id" or "meta" or "text" || c.Definition?.Min > 0),
            "data" => n => Keep(n, c => c.Name != "text"),
            _ => null,
        };
    }

    private static ElementNode Keep(ElementNode resource, Func<ElementNode, bool> keep, bool summaryBackbones = false)
    {
        foreach (var c in resource.Children.ToArray())
            if (!keep(c)) resource.Remove(c);
            else if (summaryBackbones) KeepSummaryIn(c);
        var meta = resource.Child("meta") ?? resource.Add("meta");
        var tag = meta.Add("tag");
        tag.Add("system", "http://terminology.hl7.org/CodeSystem/v3-ObservationValue");
        tag.Add("code", "SUBSETTED");
        return resource;
    }

    /// <summary>Within a backbone element (defined by the resource, not a data type) only its summary elements stay.</summary>
    private static void KeepSummaryIn(ElementNode element)
    {
        if (element.Definition?.Backbone is null) return;
        foreach (var c in element.Children.ToArray())
            if (c.Definition?.IsSummary != true) element.Remove(c);
            else KeepSummaryIn(c);
    }
}

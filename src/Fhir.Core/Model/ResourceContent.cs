using FhirArchive.Fhir.Serialization.Json;

namespace FhirArchive.Fhir.Model;

/// <summary>
/// Whether two versions of a resource say the same but for the top-level elements a rule lets change (a replaced
/// document's status, an acknowledged push's status and note, an institution's own identifiers): the one comparison
/// of the write rules that allow a narrow change.
/// </summary>
public static class ResourceContent
{
    /// <summary>Equal, each compared without its top-level elements that <paramref name="mayDiffer"/> names.</summary>
    public static bool SameBut(ElementNode a, ElementNode b, Func<ElementNode, bool> mayDiffer) =>
        Without(a, mayDiffer).AsSpan().SequenceEqual(Without(b, mayDiffer));

    /// <summary>Equal, each compared without the named top-level elements.</summary>
    public static bool SameBut(ElementNode a, ElementNode b, params string[] names) => SameBut(a, b, e => names.Contains(e.Name));

    private static byte[] Without(ElementNode resource, Func<ElementNode, bool> mayDiffer)
    {
        var copy = resource.DeepCopy();
        foreach (var element in copy.Children.Where(mayDiffer).ToList()) copy.Remove(element);
        return FhirJsonSerializer.SerializeToUtf8Bytes(copy);
    }
}

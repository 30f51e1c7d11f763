using FhirArchive.Fhir.Model;

namespace FhirArchive.Rest.Access;

/// <summary>
/// A resource shown with parts cut out carries the v3-ObservationValue REDACTED security label (as the DS4P guide
/// does), and so does the Bundle that holds it: any policy that cuts marks it here.
/// </summary>
public static class Redaction
{
    public const string System = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue";
    public const string Code = "REDACTED";
    private const string Item = "access:redacted";

    /// <summary>Labels the resource REDACTED (once) and notes that this operation redacted something.</summary>
    public static void Mark(AccessContext context, ElementNode resource)
    {
        Label(resource);
        context.Items[Item] = true;
    }

    public static bool Happened(AccessContext context) => context.Items.ContainsKey(Item);

    public static void Label(ElementNode resource)
    {
        var meta = resource.Child("meta") ?? resource.Add("meta");
        if (meta.ChildrenNamed("security").Any(s => s.Child("system")?.Value == System && s.Child("code")?.Value == Code)) return;
        var label = meta.Add("security");
        label.Add("system", System);
        label.Add("code", Code);
    }
}

using FhirArchive.Fhir.Model;

namespace FhirArchive.Rest.Access;

/// <summary>
/// The v3-ObservationValue security labels of what the access policies changed, in one place (as the DS4P guide
/// does): a resource shown with parts cut out carries REDACTED, one shown with values masked (脱敏) carries MASKED, and
/// so does the Bundle that holds it. Any policy that cuts or masks marks it here.
/// </summary>
public static class Redaction
{
    public const string System = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue";
    /// <summary>Parts of the resource were cut out.</summary>
    public const string Code = "REDACTED";
    /// <summary>Values of the resource are shown masked (identifiers, phones, addresses).</summary>
    public const string Masked = "MASKED";
    /// <summary>Every label a policy may mark, in the order Bundles list them.</summary>
    public static readonly IReadOnlyList<string> Codes = [Masked, Code];
    private const string Item = "access:label:";

    /// <summary>Labels the resource (once) and notes that this operation (and its request) changed something so.</summary>
    public static void Mark(AccessContext context, ElementNode resource, string code = Code)
    {
        Label(resource, code);
        Note(context, code);
    }

    /// <summary>Notes that this operation (and its request) shows a resource labelled <paramref name="code"/> (labelled already).</summary>
    public static void Note(AccessContext context, string code = Code)
    {
        context.Items[Item + code] = true;
        context.Http.Items[Item + code] = true;
    }

    /// <summary>Whether this operation marked a resource with <paramref name="code"/>.</summary>
    public static bool Happened(AccessContext context, string code = Code) => context.Items.ContainsKey(Item + code);

    /// <summary>The labels this operation marked (a Bundle of its resources carries them too).</summary>
    public static IEnumerable<string> Labels(AccessContext context) => Codes.Where(c => Happened(context, c));

    /// <summary>The labels any operation of the request marked (a batch's answer carries its entries' labels).</summary>
    public static IEnumerable<string> Labels(HttpContext http) => Codes.Where(c => http.Items.ContainsKey(Item + c));

    public static void Label(ElementNode resource, string code = Code)
    {
        var meta = resource.Child("meta") ?? resource.Add("meta");
        if (meta.ChildrenNamed("security").Any(s => s.Child("system")?.Value == System && s.Child("code")?.Value == code)) return;
        var label = meta.Add("security");
        label.Add("system", System);
        label.Add("code", code);
    }
}

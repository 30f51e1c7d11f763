using FhirArchive.Fhir.Definitions;

namespace FhirArchive.Fhir.Model;

/// <summary>The resource type and id a literal reference names: "Patient/1", "http://x/fhir/Patient/1/_history/2".</summary>
public static class ReferenceParts
{
    /// <summary>False for contained ("#x"), logical (urn:...) and anything whose type segment is not a resource type.</summary>
    public static bool TryParse(string reference, out string type, out string id)
    {
        var path = reference.Split('?')[0].Split('/');
        var i = path.Length >= 4 && path[^2] == "_history" ? path.Length - 4 : path.Length - 2;
        if (i >= 0 && FhirDefinitions.R4.IsResourceType(path[i]))
        {
            (type, id) = (path[i], path[i + 1]);
            return true;
        }
        (type, id) = ("", "");
        return false;
    }
}

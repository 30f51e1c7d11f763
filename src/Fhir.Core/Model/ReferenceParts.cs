using FhirArchive.Fhir.Definitions;

namespace FhirArchive.Fhir.Model;

/// <summary>The resource type and id a literal reference names: "Patient/1", "http://x/fhir/Patient/1/_history/2".</summary>
public static class ReferenceParts
{
    /// <summary>False for contained ("#x"), logical (urn:...) and anything whose type segment is not a resource type.</summary>
    public static bool TryParse(string reference, out string type, out string id) => TryParse(reference, out type, out id, out _);

    /// <summary>Also gives the version of a versioned reference ("Patient/1/_history/2" → "2"; null when unversioned).</summary>
    public static bool TryParse(string reference, out string type, out string id, out string? version)
    {
        var path = reference.Split('?')[0].Split('/');
        var versioned = path.Length >= 4 && path[^2] == "_history";
        var i = versioned ? path.Length - 4 : path.Length - 2;
        if (i >= 0 && FhirDefinitions.R4.IsResourceType(path[i]))
        {
            (type, id, version) = (path[i], path[i + 1], versioned ? path[^1] : null);
            return true;
        }
        (type, id, version) = ("", "", null);
        return false;
    }
}

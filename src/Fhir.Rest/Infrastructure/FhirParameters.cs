using FhirArchive.Fhir.Model;

namespace FhirArchive.Rest.Infrastructure;

/// <summary>Builds the Parameters resources that operations answer with.</summary>
public static class FhirParameters
{
    public static ElementNode Create() => ElementNode.CreateResource("Parameters");

    /// <summary>Adds parameter[name] with a value[x] of the given primitive type.</summary>
    public static void Add(ElementNode parameters, string name, string value, string type)
    {
        var p = parameters.Add("parameter");
        p.Add("name", name);
        p.Add("value", value, type);
    }
}

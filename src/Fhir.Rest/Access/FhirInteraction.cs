using FhirArchive.Auth.Scopes;

namespace FhirArchive.Rest.Access;

/// <summary>
/// The SMART permission (c r u d s) a FHIR REST request needs and the resource type it needs it on (null for
/// system-level interactions), derived from the request's <see cref="Interaction"/>. Operations ($validate,
/// $expand...) need read on their type.
/// </summary>
public readonly record struct FhirInteraction(Permission Permission, string? ResourceType, bool IsBundle = false)
{
    /// <summary>Null when the request is not a FHIR interaction that needs a permission (metadata; what routing answers).</summary>
    public static FhirInteraction? Classify(string method, string path) => Of(Interaction.Classify(method, path));

    public static FhirInteraction? Of(Interaction i) => i.Code switch
    {
        "batch" => new(Permission.None, null, IsBundle: true),
        "read" or "vread" or "operation" => new(Permission.Read, i.Type),
        "search-type" or "search-system" or "history-system" or "history-type" or "history-instance" => new(Permission.Search, i.Type),
        "create" => new(Permission.Create, i.Type),
        "update" or "patch" => new(Permission.Update, i.Type),
        "delete" => new(Permission.Delete, i.Type),
        _ => null,
    };
}

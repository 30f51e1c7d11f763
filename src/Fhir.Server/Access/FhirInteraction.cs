using FhirArchive.Auth.Scopes;

namespace FhirArchive.Server.Access;

/// <summary>
/// What a FHIR REST request asks for, from its method and path alone: the SMART permission (c r u d s) and the
/// resource type (null for system-level interactions). Used for top-level requests and for batch/transaction
/// entries alike. Operations ($validate, $expand...) need read on their type.
/// </summary>
public readonly record struct FhirInteraction(Permission Permission, string? ResourceType, bool IsBundle = false)
{
    /// <summary>Null when the request is not a FHIR interaction the server knows (routing answers it).</summary>
    public static FhirInteraction? Classify(string method, string path)
    {
        var s = path.Trim('/').Split('/', StringSplitOptions.RemoveEmptyEntries);
        var m = method.ToUpperInvariant();
        if (m == "HEAD") m = "GET";
        if (s.Length == 0)
            return m switch
            {
                "GET" => new(Permission.Search, null),
                "POST" => new(Permission.None, null, IsBundle: true),
                _ => null,
            };
        if (s[0] == "_history") return m == "GET" && s.Length == 1 ? new(Permission.Search, null) : null;
        if (s[0].StartsWith('$')) return new(Permission.Read, null);
        var type = s[0];
        if (s.Length == 1)
            return m switch
            {
                "GET" => new(Permission.Search, type),
                "POST" => new(Permission.Create, type),
                "PUT" or "PATCH" => new(Permission.Update, type),
                "DELETE" => new(Permission.Delete, type),
                _ => null,
            };
        if (s[1] is "_search" or "_history") return new(Permission.Search, type);
        if (s[1].StartsWith('$')) return new(Permission.Read, type);
        if (s.Length == 2)
            return m switch
            {
                "GET" => new(Permission.Read, type),
                "PUT" or "PATCH" => new(Permission.Update, type),
                "DELETE" => new(Permission.Delete, type),
                _ => null,
            };
        if (s[2] == "_history") return new(s.Length == 3 ? Permission.Search : Permission.Read, type);
        if (s[2].StartsWith('$')) return new(Permission.Read, type);
        // Compartment search: Patient/1/Observation searches Observations.
        if (s.Length == 3 && m == "GET") return new(Permission.Search, s[2]);
        return null;
    }
}

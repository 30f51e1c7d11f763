namespace FhirArchive.Rest.Access;

/// <summary>
/// What a FHIR REST request is, from its method and path alone: the restful-interaction code (BALP's subtype), the
/// BALP action (C/R/U/D/E), and the resource type, id and operation the path names. The audit records it;
/// <see cref="FhirInteraction"/> derives the SMART permission it needs from it. Used for top-level requests and for
/// batch/transaction entries alike; HEAD is a GET; what no FHIR interaction is (a POST to an instance, an unknown
/// method) is "other", which the router answers.
/// </summary>
public sealed record Interaction(string Code, string Action, string? Type, string? Id, string? Operation)
{
    private static readonly Interaction Other = new("other", "E", null, null, null);

    public static Interaction Classify(string method, string path)
    {
        var s = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var m = HttpMethods.GetCanonicalizedValue(method);
        if (HttpMethods.IsHead(m)) m = HttpMethods.Get;
        // Operations ($everything, $validate...) wherever the path names one: its type and instance come before it.
        var op = Array.FindIndex(s, x => x.StartsWith('$'));
        if (op >= 0) return new("operation", "E", op > 0 ? s[0] : null, op > 1 ? s[1] : null, s[op]);
        return (m, s.Length) switch
        {
            ("POST", 0) => new("batch", "E", null, null, null),
            ("GET", 0) => new("search-system", "E", null, null, null),
            ("GET", 1) when s[0] == "metadata" => new("capabilities", "R", null, null, null),
            ("GET", 1) when s[0] == "_history" => new("history-system", "R", null, null, null),
            ("GET" or "POST", 1) when s[0] == "_search" => new("search-system", "E", null, null, null),
            (_, 1) when s[0] is "metadata" or "_history" or "_search" => Other,
            ("POST", 1) => new("create", "C", s[0], null, null),
            ("PUT", 1) => new("update", "U", s[0], null, null),
            ("PATCH", 1) => new("patch", "U", s[0], null, null),
            ("DELETE", 1) => new("delete", "D", s[0], null, null),
            ("GET", 1) => new("search-type", "E", s[0], null, null),
            ("GET" or "POST", 2) when s[1] == "_search" => new("search-type", "E", s[0], null, null),
            ("GET", 2) when s[1] == "_history" => new("history-type", "R", s[0], null, null),
            (_, 2) when s[1] is "_search" or "_history" => Other,
            ("PUT", 2) => new("update", "U", s[0], s[1], null),
            ("PATCH", 2) => new("patch", "U", s[0], s[1], null),
            ("DELETE", 2) => new("delete", "D", s[0], s[1], null),
            ("GET", 2) => new("read", "R", s[0], s[1], null),
            ("GET", 3) when s[2] == "_history" => new("history-instance", "R", s[0], s[1], null),
            ("GET", 4) when s[2] == "_history" => new("vread", "R", s[0], s[1], null),
            // Compartment search: Patient/123/Observation searches Observations.
            ("GET", 3) => new("search-type", "E", s[2], null, null),
            _ => Other,
        };
    }
}

namespace FhirArchive.Server.Features.Audit;

/// <summary>
/// What a request is, in audit terms: the FHIR restful-interaction code, the BALP action (C/R/U/D/E), and the
/// resource type, id and operation named by the URL.
/// </summary>
public sealed record Interaction(string Code, string Action, string? Type, string? Id, string? Operation)
{
    public static Interaction Classify(string method, string path)
    {
        var s = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var op = Array.Find(s, x => x.StartsWith('$'));
        if (op is not null)
        {
            var i = Array.IndexOf(s, op);
            return new("operation", "E", i > 0 ? s[0] : null, i > 1 ? s[1] : null, op);
        }
        return (method, s.Length) switch
        {
            ("POST", 0) => new("batch", "E", null, null, null),
            (_, 0) => new("search-system", "E", null, null, null),
            (_, 1) when s[0] == "metadata" => new("capabilities", "R", null, null, null),
            (_, 1) when s[0] == "_history" => new("history-system", "R", null, null, null),
            (_, 1) when s[0] == "_search" => new("search-system", "E", null, null, null),
            ("POST", 1) => new("create", "C", s[0], null, null),
            ("PUT", 1) => new("update", "U", s[0], null, null),
            ("PATCH", 1) => new("patch", "U", s[0], null, null),
            ("DELETE", 1) => new("delete", "D", s[0], null, null),
            (_, 1) => new("search-type", "E", s[0], null, null),
            (_, 2) when s[1] == "_history" => new("history-type", "R", s[0], null, null),
            (_, 2) when s[1] == "_search" => new("search-type", "E", s[0], null, null),
            ("PUT", 2) => new("update", "U", s[0], s[1], null),
            ("PATCH", 2) => new("patch", "U", s[0], s[1], null),
            ("DELETE", 2) => new("delete", "D", s[0], s[1], null),
            (_, 2) => new("read", "R", s[0], s[1], null),
            (_, 3) when s[2] == "_history" => new("history-instance", "R", s[0], s[1], null),
            (_, 4) when s[2] == "_history" => new("vread", "R", s[0], s[1], null),
            // Compartment search: Patient/123/Observation.
            (_, 3) => new("search-type", "E", s[2], null, null),
            _ => new("other", "E", null, null, null),
        };
    }
}

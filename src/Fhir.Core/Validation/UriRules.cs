using FhirArchive.Fhir.Model;

namespace FhirArchive.Fhir.Validation;

/// <summary>Rules on URIs that their lexical form alone does not catch.</summary>
internal static partial class UriRules
{
    [System.Text.RegularExpressions.GeneratedRegex("^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    private static partial System.Text.RegularExpressions.Regex Uuid();

    /// <summary>A "urn:uuid:" URI (uri, url, canonical, uuid) names a UUID written in lowercase (RFC 4122 as FHIR uses it).</summary>
    public static string? UuidProblem(ElementNode node) =>
        node.Type is "uri" or "url" or "canonical" or "uuid" && node.Value is { } v && v.StartsWith("urn:uuid:", StringComparison.OrdinalIgnoreCase) && !Uuid().IsMatch(v)
            ? $"'{v}' is not a valid UUID URI: a UUID of 32 lowercase hexadecimal digits in the 8-4-4-4-12 form"
            : null;

    /// <summary>A url, uri or canonical pointing into an example domain (RFC 2606: example.org, example.com, example.net).</summary>
    public static bool IsExampleUrl(ElementNode node) =>
        node.Type is "uri" or "url" or "canonical" && node.Value is { } v && Uri.TryCreate(v, UriKind.Absolute, out var u)
        && (u.Host is "example.org" or "example.com" or "example.net" || u.Host.EndsWith(".example.org", StringComparison.Ordinal)
            || u.Host.EndsWith(".example.com", StringComparison.Ordinal) || u.Host.EndsWith(".example.net", StringComparison.Ordinal));

    /// <summary>A Coding's system names a code system by an absolute URI: a local name ("Location1") identifies nothing.</summary>
    public static string? CodingSystemProblem(ElementNode coding) =>
        coding.Child("system")?.Value is { } system && !Uri.TryCreate(system, UriKind.Absolute, out _)
            ? $"Coding.system must be an absolute URI, not the local name '{system}'"
            : null;
}

using FhirArchive.Fhir.Definitions;

namespace FhirArchive.Fhir.Model;

/// <summary>
/// The resource type and id a literal reference names: "Patient/1", "http://x/fhir/Patient/1/_history/2". The one
/// reference parser of the server: search indexes, search values, access decisions and the audit all read references
/// through it.
/// </summary>
public static class ReferenceParts
{
    /// <summary>False for contained ("#x"), logical (urn:...) and anything whose type segment is not a resource type.</summary>
    public static bool TryParse(string reference, out string type, out string id) => TryParse(reference, out type, out id, out _);

    /// <summary>"Patient/1", "http://x/fhir/Patient/1/_history/2" → ("Patient", "1"); otherwise (null, null).</summary>
    public static (string? Type, string? Id) Split(string reference) =>
        TryParse(reference, out var type, out var id) ? (type, id) : (null, null);

    /// <summary>
    /// Whether the reference names a resource of this server, and which: relative ("Patient/1"), or absolute under
    /// <paramref name="baseUrl"/> (the server's FHIR base, without a trailing slash). Null for contained ("#x"), logical
    /// (urn:…) and other servers' references, which are never taken for a local resource of the same id.
    /// </summary>
    public static (string Type, string Id, string? Version)? Local(string reference, string baseUrl)
    {
        if (reference.StartsWith('#') || reference.StartsWith("urn:", StringComparison.Ordinal)) return null;
        var relative = reference.Length > baseUrl.Length && reference[baseUrl.Length] == '/' && reference.StartsWith(baseUrl, StringComparison.Ordinal)
            ? reference[(baseUrl.Length + 1)..] : reference;
        // Exactly [type]/[id] or [type]/[id]/_history/[vid]: anything before the type ("//other.example/fhir/…",
        // "other.example/fhir/…", another base) names another server's resource, never ours.
        var parts = relative.Split('/');
        if (parts.Length is not (2 or 4) || (parts.Length == 4 && parts[2] != "_history")) return null;
        if (!FhirDefinitions.R4.IsResourceType(parts[0]) || !IsId(parts[1]) || (parts.Length == 4 && !IsId(parts[3]))) return null;
        return (parts[0], parts[1], parts.Length == 4 ? parts[3] : null);
    }

    /// <summary>The R4 id (and version id) rule: 1 to 64 of [A-Za-z0-9\-\.].</summary>
    private static bool IsId(string s) =>
        s.Length is > 0 and <= 64 && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.');

    /// <summary>Also gives the version of a versioned reference ("Patient/1/_history/2" → "2"; null when unversioned).</summary>
    public static bool TryParse(string reference, out string type, out string id, out string? version)
    {
        // The last four path segments at most ([type]/[id] or [type]/[id]/_history/[vid], after any base URL),
        // found from the end without splitting the whole reference: the audit reads every reference of every read.
        var path = reference.AsSpan();
        if (path.IndexOf('?') is var q and >= 0) path = path[..q];
        Span<Range> last = stackalloc Range[4];
        var count = 0;
        for (var end = path.Length; count < 4; count++)
        {
            var slash = path[..end].LastIndexOf('/');
            last[count] = (slash + 1)..end;
            if (slash < 0) { count++; break; }
            end = slash;
        }
        var versioned = count == 4 && path[last[1]].SequenceEqual("_history");
        var (t, i) = versioned ? (3, 2) : (1, 0);
        if (count > t && FhirDefinitions.R4.IsResourceType(path[last[t]]))
        {
            (type, id, version) = (path[last[t]].ToString(), path[last[i]].ToString(), versioned ? path[last[0]].ToString() : null);
            return true;
        }
        (type, id, version) = ("", "", null);
        return false;
    }
}

using FhirArchive.Fhir.Outcomes;
using FhirArchive.Storage;

namespace FhirArchive.Rest.Writing;

/// <summary>
/// Warnings about an accepted write (an interceptor's <see cref="WriteContext.Warn"/>): the write stands and the answer
/// says so, never silently. FHIR R4 (http.html) has two places for them: the OperationOutcome returned under
/// <c>Prefer: return=OperationOutcome</c>, and <c>entry.response.outcome</c> of a batch or transaction; with the other
/// Prefer returns (the resource, or nothing) they travel in an HTTP <c>Warning</c> header (code 199, English text).
/// Kept per request, by the written resource.
/// </summary>
public static class WriteWarnings
{
    private static readonly object Key = typeof(WriteWarnings);

    internal static void Add(HttpContext? http, string type, string id, FhirIssue issue)
    {
        if (http is null) return;
        if (http.Items[Key] is not Dictionary<string, List<FhirIssue>> all) http.Items[Key] = all = new(StringComparer.Ordinal);
        lock (all)
        {
            if (!all.TryGetValue($"{type}/{id}", out var list)) all[$"{type}/{id}"] = list = [];
            list.Add(issue);
        }
    }

    /// <summary>The warnings raised while this request wrote the resource (none: empty).</summary>
    public static IReadOnlyList<FhirIssue> Of(HttpContext http, StoredResource written)
    {
        if (http.Items[Key] is not Dictionary<string, List<FhirIssue>> all) return [];
        lock (all) return all.TryGetValue($"{written.ResourceType}/{written.Id}", out var list) ? list.ToList() : [];
    }

    /// <summary>An HTTP Warning header value (RFC 7234 199 "miscellaneous warning"): header text is ASCII, so only its English part.</summary>
    public static string Header(FhirIssue issue)
    {
        var english = issue.Message.Split(" / ")[0];
        var ascii = new string(english.Select(c => c is >= ' ' and <= '~' && c != '"' && c != '\\' ? c : ' ').ToArray()).Trim();
        return $"199 FhirArchive \"{ascii}\"";
    }
}

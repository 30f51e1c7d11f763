using System.Globalization;
using FhirArchive.Storage;
using Microsoft.Net.Http.Headers;

namespace FhirArchive.Rest.Infrastructure;

public enum PreferReturn { Representation, Minimal, OperationOutcome }

public static class FhirHeaders
{
    public static string ETag(int version) => $"W/\"{version}\"";

    /// <summary>A status as Bundle.entry.response.status gives it: the code and its reason phrase ("404 Not Found").</summary>
    public static string StatusLine(int status) => $"{status} {Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status)}".TrimEnd();

    public static string BaseUrl(HttpRequest r) => $"{r.Scheme}://{r.Host}{r.PathBase}";

    /// <summary>The FHIR base of the request, if there is one (a write without a request: the sample data loader).</summary>
    public static string? BaseUrl(HttpContext? http) => http is null ? null : BaseUrl(http.Request);

    public static string VersionUrl(HttpRequest r, StoredResource s) => $"{BaseUrl(r)}/{s.ResourceType}/{s.Id}/_history/{s.Version}";

    public static void SetVersionHeaders(HttpResponse response, StoredResource s)
    {
        response.Headers.ETag = ETag(s.Version);
        response.Headers.LastModified = s.LastUpdated.ToString("R", CultureInfo.InvariantCulture);
    }

    /// <summary>Parses W/"3", "3" or 3 into a version number.</summary>
    public static int? ParseVersionTag(string? tag)
    {
        if (string.IsNullOrWhiteSpace(tag)) return null;
        var t = tag.Trim();
        if (t.StartsWith("W/", StringComparison.Ordinal)) t = t[2..];
        t = t.Trim('"');
        return int.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v
            : throw FhirException.BadRequest($"'{tag}' is not a version ETag (W/\"n\").");
    }

    public static int? IfMatch(HttpRequest r) => ParseVersionTag(r.Headers.IfMatch.ToString());

    private static Dictionary<string, string> Prefer(HttpRequest r)
    {
        var d = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var part in r.Headers["Prefer"].ToString().Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var kv = part.Split('=', 2);
            d[kv[0]] = kv.Length > 1 ? kv[1].Trim('"') : "";
        }
        return d;
    }

    public static PreferReturn Return(HttpRequest r) => Prefer(r).GetValueOrDefault("return") switch
    {
        "minimal" => PreferReturn.Minimal,
        "OperationOutcome" => PreferReturn.OperationOutcome,
        _ => PreferReturn.Representation,
    };

    /// <summary>Prefer: handling=strict turns ignored search parameters into errors; lenient is the default.</summary>
    public static bool StrictHandling(HttpRequest r) => Prefer(r).GetValueOrDefault("handling") == "strict";

    /// <summary>Prefer: respond-async (the Bulk Data kick-off requires it).</summary>
    public static bool RespondAsync(HttpRequest r) => Prefer(r).ContainsKey("respond-async");

    /// <summary>True when the client's cached copy (If-None-Match / If-Modified-Since) is still current.</summary>
    public static bool NotModified(HttpRequest r, StoredResource s)
    {
        var inm = r.Headers.IfNoneMatch.ToString();
        if (!string.IsNullOrEmpty(inm))
            return inm.Split(',').Any(t => t.Trim() == "*" || SafeVersion(t) == s.Version);
        var ims = r.Headers.IfModifiedSince.ToString();
        if (!string.IsNullOrEmpty(ims) && DateTimeOffset.TryParse(ims, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var since))
            // HTTP dates have second precision: compare at that precision.
            return s.LastUpdated.UtcTicks / TimeSpan.TicksPerSecond <= since.UtcTicks / TimeSpan.TicksPerSecond;
        return false;
    }

    private static int? SafeVersion(string t)
    {
        try { return ParseVersionTag(t); }
        catch (FhirException) { return null; }
    }
}

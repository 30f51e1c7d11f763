using System.Net;
using System.Text.Json;

namespace FhirArchive.Tests.Support;

/// <summary>A Bulk Data client's steps against the server: kick-off, polling until the manifest, downloading the files.</summary>
public static class BulkExportClient
{
    public static readonly (string, string) RespondAsync = ("Prefer", "respond-async");

    /// <summary>Kicks off an export (GET) as the given caller; the status URL (Content-Location) of the 202.</summary>
    public static async Task<string> KickOffAsync(this HttpClient c, string url, params (string, string)[] headers)
    {
        var r = await c.SendAsync(HttpMethod.Get, url, null, [RespondAsync, .. headers]);
        var body = await r.Content.ReadAsStringAsync();
        if (r.StatusCode != HttpStatusCode.Accepted) throw new Xunit.Sdk.XunitException($"kick-off {url}: {(int)r.StatusCode} {body}");
        return r.Content.Headers.ContentLocation?.ToString() ?? r.Headers.GetValues("Content-Location").Single();
    }

    /// <summary>Polls the status URL until the manifest (200); bounded at 60 s, not a timing assertion.</summary>
    public static async Task<JsonElement> ManifestAsync(this HttpClient c, string status, params (string, string)[] headers)
    {
        var until = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var r = await c.SendAsync(HttpMethod.Get, status, null, headers);
            if (r.StatusCode == HttpStatusCode.OK) return await r.JsonAsync();
            if (r.StatusCode != HttpStatusCode.Accepted)
                throw new Xunit.Sdk.XunitException($"status {status}: {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
            if (DateTime.UtcNow > until) throw new Xunit.Sdk.XunitException($"the export {status} did not finish within 60 s");
            await Task.Delay(50);
        }
    }

    /// <summary>Every line of every file of the manifest, by type (files downloaded with the caller's token).</summary>
    public static async Task<Dictionary<string, List<JsonElement>>> DownloadAsync(this HttpClient c, JsonElement manifest, params (string, string)[] headers)
    {
        var byType = new Dictionary<string, List<JsonElement>>();
        foreach (var output in manifest.GetProperty("output").EnumerateArray())
        {
            var r = await c.SendAsync(HttpMethod.Get, output.GetProperty("url").GetString()!, null, headers);
            var text = await r.Content.ReadAsStringAsync();
            if (r.StatusCode != HttpStatusCode.OK) throw new Xunit.Sdk.XunitException($"file {output}: {(int)r.StatusCode} {text}");
            Xunit.Assert.Equal("application/fhir+ndjson", r.Content.Headers.ContentType?.MediaType);
            var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
            Xunit.Assert.Equal(output.GetProperty("count").GetInt32(), lines.Count);
            Xunit.Assert.True(text.EndsWith('\n'), "every line ends with a newline");
            byType[output.GetProperty("type").GetString()!] = lines;
        }
        return byType;
    }

    /// <summary>Kick-off, polling and download in one: the exported resources by type.</summary>
    public static async Task<Dictionary<string, List<JsonElement>>> ExportAsync(this HttpClient c, string url, params (string, string)[] headers) =>
        await c.DownloadAsync(await c.ManifestAsync(await c.KickOffAsync(url, headers), headers), headers);

    public static HashSet<string> Ids(this Dictionary<string, List<JsonElement>> export, string type) =>
        export.TryGetValue(type, out var lines) ? [.. lines.Select(l => l.GetProperty("id").GetString()!)] : [];
}

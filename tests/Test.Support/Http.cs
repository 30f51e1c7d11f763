using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace FhirArchive.Tests.Support;

/// <summary>The suites' HTTP helpers: bodies, requests, answers, search results and outcomes.</summary>
public static class Http
{
    public const string Json = "application/fhir+json";
    public const string Xml = "application/fhir+xml";

    public static StringContent Body(string json, string type = Json) => new(json, Encoding.UTF8, type);

    public static async Task<HttpResponseMessage> SendAsync(this HttpClient c, HttpMethod m, string url, string? body = null,
        params (string Name, string Value)[] headers)
    {
        var req = new HttpRequestMessage(m, url);
        if (body is not null) req.Content = Body(body);
        foreach (var (n, v) in headers)
            if (!req.Headers.TryAddWithoutValidation(n, v)) req.Content!.Headers.TryAddWithoutValidation(n, v);
        return await c.SendAsync(req);
    }

    public static async Task<JsonElement> JsonAsync(this HttpResponseMessage r)
    {
        var s = await r.Content.ReadAsStringAsync();
        return JsonDocument.Parse(s).RootElement;
    }

    public static async Task<string> CreateAsync(this HttpClient c, string json)
    {
        var type = JsonDocument.Parse(json).RootElement.GetProperty("resourceType").GetString();
        var r = await c.PostAsync("/" + type, Body(json));
        if ((int)r.StatusCode != 201) throw new Exception($"create failed: {r.StatusCode} {await r.Content.ReadAsStringAsync()}");
        return (await r.JsonAsync()).GetProperty("id").GetString()!;
    }

    /// <summary>Writes the resource under its own id (as the caller the headers name, if any); fails unless 200 or 201.</summary>
    public static async Task PutAsync(this HttpClient c, string json, params (string Name, string Value)[] headers)
    {
        var root = JsonDocument.Parse(json).RootElement;
        var r = await c.SendAsync(HttpMethod.Put, $"/{root.GetProperty("resourceType").GetString()}/{root.GetProperty("id").GetString()}", json, headers);
        if ((int)r.StatusCode is not (200 or 201)) throw new Exception($"update failed: {r.StatusCode} {await r.Content.ReadAsStringAsync()}");
    }

    /// <summary>The ids of the search matches, in order.</summary>
    public static async Task<List<string>> SearchIdsAsync(this HttpClient c, string url)
    {
        var r = await c.GetAsync(url);
        var body = await r.Content.ReadAsStringAsync();
        if ((int)r.StatusCode != 200) throw new Exception($"search {url} failed: {r.StatusCode} {body}");
        var b = JsonDocument.Parse(body).RootElement;
        if (!b.TryGetProperty("entry", out var entries)) return [];
        return entries.EnumerateArray()
            .Where(e => e.GetProperty("search").GetProperty("mode").GetString() == "match")
            .Select(e => e.GetProperty("resource").GetProperty("id").GetString()!).ToList();
    }

    public static void AssertOutcome(JsonElement body, string? diagnosticsContains = null)
    {
        Xunit.Assert.Equal("OperationOutcome", body.GetProperty("resourceType").GetString());
        if (diagnosticsContains is not null)
            Xunit.Assert.Contains(diagnosticsContains, body.GetProperty("issue")[0].GetProperty("diagnostics").GetString());
    }

    /// <summary>A Parameters body: (name, value[x] type, value).</summary>
    public static string Params(params (string Name, string Type, string Value)[] ps)
    {
        var list = new JsonArray();
        foreach (var (name, type, value) in ps)
        {
            var p = new JsonObject { ["name"] = name };
            p["value" + type] = type switch
            {
                "Reference" => new JsonObject { ["reference"] = value },
                "Integer" => JsonValue.Create(int.Parse(value)),
                "Boolean" => JsonValue.Create(bool.Parse(value)),
                _ => JsonValue.Create(value),
            };
            list.Add(p);
        }
        return new JsonObject { ["resourceType"] = "Parameters", ["parameter"] = list }.ToJsonString();
    }

    /// <summary>A Parameters resource's value of the parameter named (a string as is, any other value as JSON), or null.</summary>
    public static string? Param(JsonElement parameters, string name) =>
        parameters.GetProperty("parameter").EnumerateArray().Where(p => p.GetProperty("name").GetString() == name)
            .Select(p => p.EnumerateObject().First(x => x.Name.StartsWith("value", StringComparison.Ordinal)).Value)
            .Select(v => v.ValueKind == JsonValueKind.String ? v.GetString() : v.GetRawText()).FirstOrDefault();

    /// <summary>The total of a search's Bundle; the search must answer 200.</summary>
    public static async Task<int> TotalAsync(this HttpClient c, string url)
    {
        var r = await c.GetAsync(url);
        var body = await r.Content.ReadAsStringAsync();
        Xunit.Assert.True(r.StatusCode == HttpStatusCode.OK, $"{url} -> {(int)r.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.GetProperty("total").GetInt32();
    }

    /// <summary>A 403 with an OperationOutcome (whose first diagnostics hold <paramref name="contains"/>, when given).</summary>
    public static async Task Forbidden(HttpResponseMessage r, string? contains = null)
    {
        var body = await r.Content.ReadAsStringAsync();
        Xunit.Assert.True(r.StatusCode == HttpStatusCode.Forbidden, $"{r.StatusCode}: {body}");
        AssertOutcome(JsonDocument.Parse(body).RootElement, contains);
    }

    /// <summary>An OAuth error answer (RFC 6749 5.2) with this status: its "error" code.</summary>
    public static async Task<string> OAuthError(HttpResponseMessage r, HttpStatusCode status = HttpStatusCode.BadRequest)
    {
        Xunit.Assert.Equal(status, r.StatusCode);
        return (await r.JsonAsync()).GetProperty("error").GetString()!;
    }

    public static string Unique() => Guid.NewGuid().ToString("N")[..12];

    public static MediaTypeWithQualityHeaderValue Accept(string t) => new(t);
}

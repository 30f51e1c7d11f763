using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Rest.Tests;

/// <summary>
/// R4 http.html, search.html and Bundle rules as a client meets them (issue #21): CORS, conditional read, HEAD,
/// content negotiation, Bundle links, batch and history entry responses, parse failures. HTTP semantics are the
/// same on every storage provider: SQLite only.
/// </summary>
public sealed class HttpConformanceTests(ServerFixture fx) : IClassFixture<ServerFixture>
{
    private readonly HttpClient _c = fx.Client;
    private const string Origin = "https://smart-app.example.cn";

    private static string Patient(string family, string extra = "") =>
        $$"""{"resourceType":"Patient","name":[{"family":"{{family}}"}]{{extra}}}""";

    private static HttpRequestMessage Request(HttpMethod method, string url, params (string Name, string Value)[] headers)
    {
        var req = new HttpRequestMessage(method, url);
        foreach (var (n, v) in headers) Assert.True(req.Headers.TryAddWithoutValidation(n, v), n);
        return req;
    }

    /// <summary>A body whose Content-Type has parameters (StringContent takes a bare media type only).</summary>
    private static StringContent Typed(string json, string contentType)
    {
        var content = new StringContent(json);
        content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType);
        return content;
    }

    private static async Task<JsonElement> OutcomeAsync(HttpResponseMessage r, HttpStatusCode status)
    {
        var body = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == status, $"{(int)r.StatusCode} (expected {(int)status}): {body}");
        Assert.StartsWith(Json, r.Content.Headers.ContentType?.ToString());
        var outcome = JsonDocument.Parse(body).RootElement;
        AssertOutcome(outcome);
        return outcome;
    }

    // ---- caching ----

    [Fact]
    public async Task No_answer_of_the_fhir_api_may_be_stored_by_a_browser_or_proxy()
    {
        var created = await _c.PostAsync("/Patient", new StringContent(Patient("缓存"), System.Text.Encoding.UTF8, Json));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var location = created.Headers.Location!.ToString();
        var id = location.Split('/')[^3];
        foreach (var url in new[] { $"/Patient/{id}", $"/Patient/{id}/_history/1", $"/Patient?_id={id}", $"/Patient/{id}/_history", "/Patient/no-such-patient", $"/Patient/{id}/$everything" })
        {
            var r = await _c.GetAsync(url);
            Assert.True(r.Headers.CacheControl?.NoStore == true, $"GET {url} ({(int)r.StatusCode}): Cache-Control {r.Headers.CacheControl}");
        }
        Assert.True(created.Headers.CacheControl?.NoStore == true, $"POST: Cache-Control {created.Headers.CacheControl}");
        // A conditional read is still answered 304 (the client revalidates instead of keeping the answer).
        var etag = (await _c.GetAsync($"/Patient/{id}")).Headers.ETag!;
        var again = await _c.SendAsync(Request(HttpMethod.Get, $"/Patient/{id}", ("If-None-Match", etag.ToString())));
        Assert.Equal(HttpStatusCode.NotModified, again.StatusCode);
    }

    // ---- CORS ----

    [Fact]
    public async Task A_cors_preflight_on_a_fhir_route_is_answered_without_a_token()
    {
        using var bare = fx.BareClient();
        foreach (var (url, method) in new[] { ("/Patient/anyone", "GET"), ("/Patient", "POST"), ("/Patient/anyone", "PUT"), ("/", "POST"), ("/metadata", "GET"), ("/auth/token", "POST") })
        {
            var r = await bare.SendAsync(Request(HttpMethod.Options, url, ("Origin", Origin), ("Access-Control-Request-Method", method),
                ("Access-Control-Request-Headers", "authorization,content-type,if-none-match")));
            Assert.True(r.StatusCode == HttpStatusCode.NoContent, $"OPTIONS {url}: {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
            Assert.Equal("*", Assert.Single(r.Headers.GetValues("Access-Control-Allow-Origin")));
            var allowed = string.Join(",", r.Headers.GetValues("Access-Control-Allow-Headers")).ToLowerInvariant();
            Assert.Contains("authorization", allowed);
            Assert.Contains(method, string.Join(",", r.Headers.GetValues("Access-Control-Allow-Methods")));
            Assert.False(r.Headers.Contains("Access-Control-Allow-Credentials"));
        }
    }

    [Fact]
    public async Task Answers_to_a_browser_carry_the_cors_headers_a_fhir_client_reads_errors_included()
    {
        var id = await _c.CreateAsync(Patient("跨域"));
        var r = await _c.SendAsync(Request(HttpMethod.Get, $"/Patient/{id}", ("Origin", Origin)));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("*", Assert.Single(r.Headers.GetValues("Access-Control-Allow-Origin")));
        var exposed = string.Join(",", r.Headers.GetValues("Access-Control-Expose-Headers"));
        foreach (var h in new[] { "ETag", "Location", "Content-Location", "Last-Modified" }) Assert.Contains(h, exposed);
        // An error answer too, or the app cannot read why (a missing resource; no token: 401 with its challenge).
        var missing = await _c.SendAsync(Request(HttpMethod.Get, "/Patient/nobody", ("Origin", Origin)));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("*", Assert.Single(missing.Headers.GetValues("Access-Control-Allow-Origin")));
        using var bare = fx.BareClient();
        var refused = await bare.SendAsync(Request(HttpMethod.Get, $"/Patient/{id}", ("Origin", Origin)));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("*", Assert.Single(refused.Headers.GetValues("Access-Control-Allow-Origin")));
    }

    // ---- Conditional read ----

    [Fact]
    public async Task If_none_match_on_read_and_vread_answers_304_with_the_etag_and_no_body()
    {
        var id = await _c.CreateAsync(Patient("条件"));
        await _c.PutAsync($$"""{"resourceType":"Patient","id":"{{id}}","name":[{"family":"条件二"}]}""");
        foreach (var (url, tag) in new[] { ($"/Patient/{id}", "W/\"2\""), ($"/Patient/{id}/_history/1", "W/\"1\""), ($"/Patient/{id}/_history/2", "W/\"2\"") })
        {
            var r = await _c.SendAsync(HttpMethod.Get, url, null, ("If-None-Match", tag));
            Assert.True(r.StatusCode == HttpStatusCode.NotModified, $"{url} {tag}: {(int)r.StatusCode}");
            Assert.Equal(tag, r.Headers.ETag!.ToString());
            Assert.Empty(await r.Content.ReadAsByteArrayAsync());
            var since = await _c.SendAsync(HttpMethod.Get, url, null, ("If-Modified-Since", DateTimeOffset.UtcNow.AddMinutes(1).ToString("R")));
            Assert.Equal(HttpStatusCode.NotModified, since.StatusCode);
        }
        // An older tag, or a resource changed since: the resource.
        Assert.Equal(HttpStatusCode.OK, (await _c.SendAsync(HttpMethod.Get, $"/Patient/{id}", null, ("If-None-Match", "W/\"1\""))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _c.SendAsync(HttpMethod.Get, $"/Patient/{id}", null, ("If-Modified-Since", DateTimeOffset.UtcNow.AddDays(-1).ToString("R")))).StatusCode);
    }

    [Fact]
    public async Task The_capability_statement_claims_full_conditional_read()
    {
        var cs = await (await _c.GetAsync("/metadata")).JsonAsync();
        var patient = cs.GetProperty("rest")[0].GetProperty("resource").EnumerateArray().Single(r => r.GetProperty("type").GetString() == "Patient");
        Assert.Equal("full-support", patient.GetProperty("conditionalRead").GetString());
    }

    // ---- HEAD ----

    [Fact]
    public async Task Head_answers_wherever_get_does_with_the_same_status_and_headers_and_no_body()
    {
        var id = await _c.CreateAsync(Patient("头"));
        await _c.CreateAsync($$$"""{"resourceType":"Observation","status":"final","code":{"text":"体温"},"subject":{"reference":"Patient/{{{id}}}"}}""");
        string[] urls =
        [
            $"/Patient/{id}", $"/Patient/{id}/_history/1", "/Patient?family=头", "/?_type=Patient", $"/Patient/{id}/Observation",
            $"/Patient/{id}/_history", "/Patient/_history", "/_history", "/metadata", $"/Patient/{id}/$everything",
            "/ValueSet/$expand?url=http://fhirarchive.cn/fhir/ValueSet/gb-3304-ethnicity&count=2",
            "/Patient/nobody", $"/Patient/{id}/_history/9", "/Patient?_count=x",
        ];
        foreach (var url in urls)
        {
            var get = await _c.GetAsync(url);
            var head = await _c.SendAsync(new HttpRequestMessage(HttpMethod.Head, url));
            Assert.True(get.StatusCode == head.StatusCode, $"HEAD {url}: {(int)head.StatusCode}, GET {(int)get.StatusCode}");
            Assert.Empty(await head.Content.ReadAsByteArrayAsync());
            Assert.Equal(get.Content.Headers.ContentType?.ToString(), head.Content.Headers.ContentType?.ToString());
            Assert.Equal(get.Headers.ETag?.ToString(), head.Headers.ETag?.ToString());
        }
        // A read's answer is the same to the byte: its length and version.
        var read = await _c.GetAsync($"/Patient/{id}");
        var headRead = await _c.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/Patient/{id}"));
        Assert.Equal(read.Content.Headers.ContentLength, headRead.Content.Headers.ContentLength);
        Assert.Equal(read.Content.Headers.LastModified, headRead.Content.Headers.LastModified);
        // HEAD is a GET to the access rules: no token, no answer.
        using var bare = fx.BareClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await bare.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/Patient/{id}"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await bare.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/metadata"))).StatusCode);
    }

    // ---- Content negotiation ----

    [Fact]
    public async Task A_media_type_the_server_cannot_produce_is_406_on_read_search_and_create_and_nothing_is_written()
    {
        var id = await _c.CreateAsync(Patient("协商"));
        var family = "不写" + Unique();
        foreach (var accept in new[] { "text/csv", "application/fhir+json; fhirVersion=3.0", "application/fhir+xml;fhirVersion=1.0", "text/csv, application/pdf;q=0.5" })
        {
            await OutcomeAsync(await _c.SendAsync(HttpMethod.Get, $"/Patient/{id}", null, ("Accept", accept)), HttpStatusCode.NotAcceptable);
            await OutcomeAsync(await _c.SendAsync(HttpMethod.Get, "/Patient?family=协商", null, ("Accept", accept)), HttpStatusCode.NotAcceptable);
            await OutcomeAsync(await _c.SendAsync(HttpMethod.Post, "/Patient", Patient(family), ("Accept", accept)), HttpStatusCode.NotAcceptable);
        }
        Assert.Empty(await _c.SearchIdsAsync($"/Patient?family={family}"));
    }

    [Fact]
    public async Task Another_fhir_version_in_content_type_is_415_and_version_4_0_is_taken()
    {
        var id = await _c.CreateAsync(Patient("版本"));
        var family = "三版" + Unique();
        var create = await _c.PostAsync("/Patient", Typed(Patient(family), "application/fhir+json; fhirVersion=3.0"));
        await OutcomeAsync(create, HttpStatusCode.UnsupportedMediaType);
        await OutcomeAsync(await _c.PutAsync($"/Patient/{id}", Typed($$"""{"resourceType":"Patient","id":"{{id}}"}""", "application/fhir+json; fhirVersion=3.0")),
            HttpStatusCode.UnsupportedMediaType);
        Assert.Empty(await _c.SearchIdsAsync($"/Patient?family={family}"));
        Assert.Equal(HttpStatusCode.Created, (await _c.PostAsync("/Patient", Typed(Patient(family), "application/fhir+json; fhirVersion=4.0"))).StatusCode);
        var r = await _c.SendAsync(HttpMethod.Get, $"/Patient/{id}", null, ("Accept", "application/fhir+json; fhirVersion=4.0"));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
    }

    [Fact]
    public async Task Ordinary_accept_headers_keep_working()
    {
        var id = await _c.CreateAsync(Patient("浏览器"));
        (string Accept, string Type)[] cases =
        [
            ("*/*", Json), ("application/json", Json), ("application/fhir+json", Json), ("application/fhir+xml", Xml), ("application/xml", Xml),
            ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8", Xml),
            ("text/csv, application/fhir+json;q=0.5", Json), ("application/fhir+json;q=0.5, application/fhir+xml", Xml),
        ];
        foreach (var (accept, type) in cases)
        {
            var r = await _c.SendAsync(HttpMethod.Get, $"/Patient/{id}", null, ("Accept", accept));
            Assert.True(r.StatusCode == HttpStatusCode.OK, $"{accept}: {(int)r.StatusCode}");
            Assert.StartsWith(type, r.Content.Headers.ContentType!.ToString());
        }
        // Endpoints that are no FHIR interaction have their own media types.
        Assert.Equal(HttpStatusCode.OK, (await _c.SendAsync(HttpMethod.Get, "/health", null, ("Accept", "text/plain"))).StatusCode);
    }

    [Fact]
    public async Task A_repeated_format_is_no_406_when_it_agrees()
    {
        var id = await _c.CreateAsync(Patient("格式"));
        Assert.Equal(HttpStatusCode.OK, (await _c.GetAsync($"/Patient/{id}?_format=json&_format=json")).StatusCode);
        var xml = await _c.GetAsync("/Patient?family=格式&_format=xml&_format=application/fhir%2Bxml");
        Assert.Equal(HttpStatusCode.OK, xml.StatusCode);
        Assert.StartsWith(Xml, xml.Content.Headers.ContentType!.ToString());
        await OutcomeAsync(await _c.GetAsync($"/Patient/{id}?_format=json&_format=xml"), HttpStatusCode.BadRequest);
        await OutcomeAsync(await _c.GetAsync($"/Patient/{id}?_format=application/fhir%2Bjson;fhirVersion=3.0"), HttpStatusCode.NotAcceptable);
    }

    // ---- Bundle links ----

    private static Dictionary<string, string> Links(JsonElement bundle) =>
        bundle.GetProperty("link").EnumerateArray().ToDictionary(l => l.GetProperty("relation").GetString()!, l => l.GetProperty("url").GetString()!);

    private static List<string> Keys(string url) => [.. QueryHelpers.ParseQuery(new Uri(url).Query).Keys];

    [Fact]
    public async Task The_self_link_carries_only_the_parameters_used_and_no_link_carries_format()
    {
        var family = "链接" + Unique();
        for (var i = 0; i < 3; i++) await _c.CreateAsync(Patient(family));
        var r = await _c.GetAsync($"/Patient?family={family}&no-such-param=1&_sort=-_lastUpdated,bogus&_count=2&_format=json&_pretty=false&_include=Nope:x");
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var links = Links(await r.JsonAsync());
        var self = QueryHelpers.ParseQuery(new Uri(links["self"]).Query);
        Assert.Equal(["family", "_sort", "_count"], self.Keys.ToList());
        Assert.Equal("-_lastUpdated", self["_sort"].ToString());
        foreach (var (_, url) in links)
            Assert.DoesNotContain("_format", Keys(url));
        // A client that adds its _format to the next link (Firely does) gets the next page.
        var next = await _c.GetAsync(links["next"] + "&_format=json");
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.DoesNotContain("no-such-param", Keys(Links(await next.JsonAsync())["self"]));
    }

    [Fact]
    public async Task History_links_carry_only_history_parameters()
    {
        var id = await _c.CreateAsync(Patient("历史链接"));
        await _c.PutAsync($$"""{"resourceType":"Patient","id":"{{id}}","name":[{"family":"历史链接二"}]}""");
        var b = await (await _c.GetAsync($"/Patient/{id}/_history?_count=1&_format=json&whatever=1")).JsonAsync();
        var links = Links(b);
        Assert.Equal(["_count", "_offset"], Keys(links["self"]));
        Assert.Equal(["_count", "_offset"], Keys(links["next"]));
        Assert.Equal(HttpStatusCode.OK, (await _c.GetAsync(links["next"] + "&_format=json")).StatusCode);
    }

    // ---- Batch and history entry responses ----

    [Fact]
    public async Task A_failed_batch_entry_carries_its_outcome_in_the_response_and_every_status_has_its_text()
    {
        var id = await _c.CreateAsync(Patient("批量"));
        var gone = await _c.CreateAsync(Patient("批量删"));
        var bundle = $$$"""
            {"resourceType":"Bundle","type":"batch","entry":[
              {"resource":{"resourceType":"Patient","name":[{"family":"批量新"}]},"request":{"method":"POST","url":"Patient"}},
              {"resource":{"resourceType":"Patient","id":"{{{id}}}","name":[{"family":"批量改"}]},"request":{"method":"PUT","url":"Patient/{{{id}}}"}},
              {"request":{"method":"GET","url":"Patient/{{{id}}}"}},
              {"request":{"method":"GET","url":"Patient/nobody-{{{Unique()}}}"}},
              {"resource":{"resourceType":"Patient","id":"{{{id}}}"},"request":{"method":"PUT","url":"Patient/{{{id}}}","ifMatch":"W/\"1\""}},
              {"request":{"method":"DELETE","url":"Patient/{{{gone}}}"}},
              {"request":{"method":"DELETE","url":"Patient?family=nobody-{{{Unique()}}}"}}
            ]}
            """;
        var r = await _c.PostAsync("/", Body(bundle));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var entries = (await r.JsonAsync()).GetProperty("entry").EnumerateArray().ToList();
        Assert.Equal(["201 Created", "200 OK", "200 OK", "404 Not Found", "412 Precondition Failed", "200 OK", "204 No Content"],
            entries.Select(e => e.GetProperty("response").GetProperty("status").GetString()));
        foreach (var failed in new[] { entries[3], entries[4] })
        {
            Assert.False(failed.TryGetProperty("resource", out _));
            AssertOutcome(failed.GetProperty("response").GetProperty("outcome"));
        }
        Assert.False(entries[0].GetProperty("response").TryGetProperty("outcome", out _));
    }

    [Fact]
    public async Task A_deletions_history_entry_says_delete_and_the_status_the_delete_answered()
    {
        var id = await _c.CreateAsync(Patient("删除史"));
        await _c.PutAsync($$"""{"resourceType":"Patient","id":"{{id}}","name":[{"family":"删除史二"}]}""");
        var deleted = await _c.DeleteAsync($"/Patient/{id}");
        var answered = $"{(int)deleted.StatusCode} {ReasonPhrases.GetReasonPhrase((int)deleted.StatusCode)}";
        var entries = (await (await _c.GetAsync($"/Patient/{id}/_history")).JsonAsync()).GetProperty("entry").EnumerateArray().ToList();
        Assert.Equal("DELETE", entries[0].GetProperty("request").GetProperty("method").GetString());
        Assert.Equal($"Patient/{id}", entries[0].GetProperty("request").GetProperty("url").GetString());
        Assert.Equal([answered, "200 OK", "201 Created"], entries.Select(e => e.GetProperty("response").GetProperty("status").GetString()));
    }

    // ---- Parse failures ----

    [Fact]
    public async Task What_cannot_be_parsed_as_fhir_is_400_in_json_and_xml()
    {
        string[] json =
        [
            """{"resourceType":"Patient","nonsense":1}""",
            """{"resourceType":"Patient","gender":1}""",
            """{"resourceType":"Patient","name":{"family":"x"}}""",
            """{"resourceType":"Patient","birthDate":"1990-13-45"}""",
        ];
        foreach (var body in json)
        {
            var outcome = await OutcomeAsync(await _c.PostAsync("/Patient", Body(body)), HttpStatusCode.BadRequest);
            Assert.Contains(outcome.GetProperty("issue")[0].GetProperty("code").GetString(), new[] { "structure", "value" });
        }
        string[] xml =
        [
            """<Patient xmlns="http://hl7.org/fhir"><nonsense value="1"/></Patient>""",
            """<Patient xmlns="http://hl7.org/fhir"><birthDate value="1990-13-45"/></Patient>""",
        ];
        foreach (var body in xml)
            await OutcomeAsync(await _c.PostAsync("/Patient", Body(body, Xml)), HttpStatusCode.BadRequest);
        // The same in an update and a batch.
        var id = await _c.CreateAsync(Patient("解析"));
        await OutcomeAsync(await _c.PutAsync($"/Patient/{id}", Body($$"""{"resourceType":"Patient","id":"{{id}}","nonsense":1}""")), HttpStatusCode.BadRequest);
        await OutcomeAsync(await _c.PostAsync("/", Body("""{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"resourceType":"Patient","nonsense":1},"request":{"method":"POST","url":"Patient"}}]}""")),
            HttpStatusCode.BadRequest);
    }
}

/// <summary>Conditional-read headers do not reach past the access rules: a hidden resource is missing whatever they say.</summary>
public sealed class ConditionalReadAccessTests(PolicyFixture fx) : IClassFixture<PolicyFixture>
{
    [Fact]
    public async Task A_hidden_resource_is_404_whatever_the_conditional_headers()
    {
        var c = fx.Client;
        var id = await c.CreateAsync("""{"resourceType":"Patient","meta":{"tag":[{"code":"secret"}]},"name":[{"family":"隐"}]}""");
        foreach (var header in new[] { ("If-None-Match", "W/\"1\""), ("If-None-Match", "*"), ("If-Modified-Since", DateTimeOffset.UtcNow.AddDays(1).ToString("R")) })
        {
            foreach (var url in new[] { $"/Patient/{id}", $"/Patient/{id}/_history/1" })
            {
                var r = await c.SendAsync(HttpMethod.Get, url, null, header);
                Assert.True(r.StatusCode == HttpStatusCode.NotFound, $"{url} {header}: {(int)r.StatusCode}");
                Assert.Null(r.Headers.ETag);
                var head = await c.SendAsync(new HttpRequestMessage(HttpMethod.Head, url) { Headers = { { header.Item1, header.Item2 } } });
                Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
            }
        }
    }
}

/// <summary>Cors:Origins narrows the browser apps that may call the server.</summary>
public sealed class CorsOriginsFixture() : ServerFixtureWith(new Dictionary<string, string> { ["Cors:Origins:0"] = "https://app.example.cn" }, null);

public sealed class CorsOriginsTests(CorsOriginsFixture fx) : IClassFixture<CorsOriginsFixture>
{
    [Fact]
    public async Task Only_the_configured_origins_are_allowed()
    {
        using var bare = fx.BareClient();
        async Task<HttpResponseMessage> Preflight(string origin)
        {
            var req = new HttpRequestMessage(HttpMethod.Options, "/Patient/x");
            req.Headers.Add("Origin", origin);
            req.Headers.Add("Access-Control-Request-Method", "GET");
            req.Headers.Add("Access-Control-Request-Headers", "authorization");
            return await bare.SendAsync(req);
        }
        var allowed = await Preflight("https://app.example.cn");
        Assert.Equal(HttpStatusCode.NoContent, allowed.StatusCode);
        Assert.Equal("https://app.example.cn", Assert.Single(allowed.Headers.GetValues("Access-Control-Allow-Origin")));
        Assert.False(allowed.Headers.Contains("Access-Control-Allow-Credentials"));
        var other = await Preflight("https://elsewhere.example.com");
        Assert.False(other.Headers.Contains("Access-Control-Allow-Origin"));
    }
}

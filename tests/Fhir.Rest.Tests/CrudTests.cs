using System.Net;
using System.Text;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Rest.Tests;

public abstract class CrudTestsBase<TFixture>(TFixture fx) where TFixture : ServerFixture
{
    private readonly HttpClient _c = fx.Client;

    private static string Patient(string family, string? id = null, string extra = "") =>
        $$"""{"resourceType":"Patient"{{(id is null ? "" : $",\"id\":\"{id}\"")}},"name":[{"family":"{{family}}","given":["测试"]}]{{extra}}}""";

    [FhirFact]
    public async Task Create_returns_201_with_location_etag_last_modified_and_the_stored_resource()
    {
        var r = await _c.PostAsync("/Patient", Body(Patient("王", "ignored-id")));
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        var body = await r.JsonAsync();
        var id = body.GetProperty("id").GetString()!;
        Assert.NotEqual("ignored-id", id);
        Assert.Equal("1", body.GetProperty("meta").GetProperty("versionId").GetString());
        Assert.EndsWith($"/Patient/{id}/_history/1", r.Headers.Location!.ToString());
        Assert.Equal("W/\"1\"", r.Headers.ETag!.ToString());
        Assert.NotNull(r.Content.Headers.LastModified);
        Assert.StartsWith("application/fhir+json", r.Content.Headers.ContentType!.ToString());
    }

    [FhirFact]
    public async Task Read_serves_the_stored_resource_and_versioned_headers()
    {
        var id = await _c.CreateAsync(Patient("李"));
        var r = await _c.GetAsync($"/Patient/{id}");
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("W/\"1\"", r.Headers.ETag!.ToString());
        Assert.Equal("李", (await r.JsonAsync()).GetProperty("name")[0].GetProperty("family").GetString());
    }

    [FhirFact]
    public async Task Read_of_unknown_id_or_type_is_404_outcome()
    {
        var r = await _c.GetAsync("/Patient/does-not-exist");
        Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
        AssertOutcome(await r.JsonAsync());
        r = await _c.GetAsync("/NoSuchType/1");
        Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
        AssertOutcome(await r.JsonAsync(), "Unknown resource type");
    }

    [FhirFact]
    public async Task Update_makes_a_new_version_and_vread_returns_each()
    {
        var id = await _c.CreateAsync(Patient("赵"));
        var r = await _c.PutAsync($"/Patient/{id}", Body(Patient("钱", id)));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("W/\"2\"", r.Headers.ETag!.ToString());
        var v1 = await (await _c.GetAsync($"/Patient/{id}/_history/1")).JsonAsync();
        Assert.Equal("赵", v1.GetProperty("name")[0].GetProperty("family").GetString());
        var v2 = await (await _c.GetAsync($"/Patient/{id}/_history/2")).JsonAsync();
        Assert.Equal("钱", v2.GetProperty("name")[0].GetProperty("family").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await _c.GetAsync($"/Patient/{id}/_history/9")).StatusCode);
    }

    [FhirFact]
    public async Task Update_as_create_with_a_client_id_is_201()
    {
        var id = "client-" + Unique();
        var r = await _c.PutAsync($"/Patient/{id}", Body(Patient("孙", id)));
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        Assert.EndsWith($"/Patient/{id}/_history/1", r.Headers.Location!.ToString());
    }

    [FhirFact]
    public async Task Bad_update_bodies_are_400()
    {
        (string Body, string Message)[] cases =
        [
            ("{\"resourceType\":\"Patient\",\"id\":\"other\"}", "does not match"),
            ("{\"resourceType\":\"Patient\"}", "no id"),
            ("{\"resourceType\":\"Observation\",\"id\":\"x1\",\"status\":\"final\",\"code\":{\"text\":\"x\"}}", "URL is for Patient"),
        ];
        foreach (var (body, message) in cases)
        {
            var r = await _c.PutAsync("/Patient/x1", Body(body));
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
            AssertOutcome(await r.JsonAsync(), message);
        }
    }

    [FhirFact]
    public async Task Malformed_json_and_xml_and_unknown_elements_are_400()
    {
        var r = await _c.PostAsync("/Patient", Body("{\"resourceType\":\"Patient\","));
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        AssertOutcome(await r.JsonAsync());
        r = await _c.PostAsync("/Patient", Body("<Patient xmlns=\"http://hl7.org/fhir\"><gender value=\"male\"/>", Xml));
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        AssertOutcome(await r.JsonAsync());
        r = await _c.PostAsync("/Patient", Body("{\"resourceType\":\"NotAType\"}"));
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
    }

    [FhirFact]
    public async Task Unknown_elements_and_invalid_values_cannot_be_parsed_as_fhir_400()
    {
        // R4 http.html: 400 for what cannot be parsed; 422 is for profiles and business rules (ValidationTests).
        var r = await _c.PostAsync("/Patient", Body("{\"resourceType\":\"Patient\",\"nonsense\":1}"));
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        AssertOutcome(await r.JsonAsync(), "nonsense");
        r = await _c.PostAsync("/Patient", Body("{\"resourceType\":\"Patient\",\"birthDate\":\"1990-13-45\"}"));
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        AssertOutcome(await r.JsonAsync());
    }

    [FhirFact]
    public async Task Wrong_resource_type_in_create_is_400()
    {
        var r = await _c.PostAsync("/Patient", Body("{\"resourceType\":\"Organization\",\"name\":\"x\"}"));
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        AssertOutcome(await r.JsonAsync(), "URL is for Patient");
    }

    [FhirFact]
    public async Task Unsupported_media_type_is_415_and_oversized_body_is_413()
    {
        var r = await _c.PostAsync("/Patient", new StringContent("name=x", Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, r.StatusCode);
        AssertOutcome(await r.JsonAsync());
        var huge = "{\"resourceType\":\"Patient\",\"text\":{\"status\":\"generated\",\"div\":\"<div xmlns=\\\"http://www.w3.org/1999/xhtml\\\">" + new string('x', 17 * 1024 * 1024) + "</div>\"}}";
        r = await _c.PostAsync("/Patient", Body(huge));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, r.StatusCode);
        AssertOutcome(await r.JsonAsync());
    }

    [FhirFact]
    public async Task Xml_in_and_out()
    {
        var xml = "<Patient xmlns=\"http://hl7.org/fhir\"><name><family value=\"周\"/></name><gender value=\"female\"/></Patient>";
        var r = await _c.PostAsync("/Patient", Body(xml, Xml));
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        var id = (await r.JsonAsync()).GetProperty("id").GetString();
        var get = await _c.GetAsync($"/Patient/{id}?_format=xml");
        Assert.StartsWith(Xml, get.Content.Headers.ContentType!.ToString());
        var text = await get.Content.ReadAsStringAsync();
        Assert.Contains("<family value=\"周\" />", text.Replace("\"/>", "\" />"));
        var req = new HttpRequestMessage(HttpMethod.Get, $"/Patient/{id}");
        req.Headers.Accept.Add(Accept(Xml));
        var viaAccept = await _c.SendAsync(req);
        Assert.StartsWith(Xml, viaAccept.Content.Headers.ContentType!.ToString());
        // _format wins over Accept
        req = new HttpRequestMessage(HttpMethod.Get, $"/Patient/{id}?_format=json");
        req.Headers.Accept.Add(Accept(Xml));
        Assert.StartsWith(Json, (await _c.SendAsync(req)).Content.Headers.ContentType!.ToString());
    }

    [FhirFact]
    public async Task Unsupported_format_is_406_and_elements_apply_to_reads()
    {
        var id = await _c.CreateAsync(Patient("何", extra: ",\"gender\":\"male\""));
        var r = await _c.GetAsync($"/Patient/{id}?_format=text/csv");
        Assert.Equal(HttpStatusCode.NotAcceptable, r.StatusCode);
        AssertOutcome(await r.JsonAsync());
        var subset = await (await _c.GetAsync($"/Patient/{id}?_elements=gender")).JsonAsync();
        Assert.Equal("male", subset.GetProperty("gender").GetString());
        Assert.False(subset.TryGetProperty("name", out _));
    }

    [FhirFact]
    public async Task Pretty_output_is_indented()
    {
        var id = await _c.CreateAsync(Patient("吴"));
        var compact = await (await _c.GetAsync($"/Patient/{id}")).Content.ReadAsStringAsync();
        var pretty = await (await _c.GetAsync($"/Patient/{id}?_pretty=true")).Content.ReadAsStringAsync();
        Assert.DoesNotContain("\n", compact);
        Assert.Contains("\n  ", pretty);
    }

    [FhirFact]
    public async Task Delete_keeps_history_and_read_becomes_410()
    {
        var id = await _c.CreateAsync(Patient("郑"));
        var r = await _c.DeleteAsync($"/Patient/{id}");
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("W/\"2\"", r.Headers.ETag!.ToString());
        var gone = await _c.GetAsync($"/Patient/{id}");
        Assert.Equal(HttpStatusCode.Gone, gone.StatusCode);
        AssertOutcome(await gone.JsonAsync());
        Assert.Equal(HttpStatusCode.OK, (await _c.GetAsync($"/Patient/{id}/_history/1")).StatusCode);
        Assert.Equal(HttpStatusCode.Gone, (await _c.GetAsync($"/Patient/{id}/_history/2")).StatusCode);
        // Deleting again changes nothing; an unknown id is 404.
        Assert.Equal(HttpStatusCode.OK, (await _c.DeleteAsync($"/Patient/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _c.DeleteAsync("/Patient/never-was")).StatusCode);
        var history = await (await _c.GetAsync($"/Patient/{id}/_history")).JsonAsync();
        Assert.Equal(2, history.GetProperty("total").GetInt32());
        // Re-creating a deleted resource by update is a 201 with the next version.
        var again = await _c.PutAsync($"/Patient/{id}", Body(Patient("郑", id)));
        Assert.Equal(HttpStatusCode.Created, again.StatusCode);
        Assert.Equal("W/\"3\"", again.Headers.ETag!.ToString());
    }

    [FhirFact]
    public async Task If_match_versioned_update_412_on_mismatch_409_on_deleted()
    {
        var id = await _c.CreateAsync(Patient("冯"));
        var ok = await _c.SendAsync(HttpMethod.Put, $"/Patient/{id}", Patient("冯", id), ("If-Match", "W/\"1\""));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        var stale = await _c.SendAsync(HttpMethod.Put, $"/Patient/{id}", Patient("冯", id), ("If-Match", "W/\"1\""));
        Assert.Equal(HttpStatusCode.PreconditionFailed, stale.StatusCode);
        AssertOutcome(await stale.JsonAsync(), "Version conflict");
        await _c.DeleteAsync($"/Patient/{id}");
        var deleted = await _c.SendAsync(HttpMethod.Put, $"/Patient/{id}", Patient("冯", id), ("If-Match", "W/\"3\""));
        Assert.Equal(HttpStatusCode.Conflict, deleted.StatusCode);
        var bad = await _c.SendAsync(HttpMethod.Put, $"/Patient/{id}", Patient("冯", id), ("If-Match", "nonsense"));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }

    [FhirFact]
    public async Task Conditional_reads_return_304()
    {
        var id = await _c.CreateAsync(Patient("陈"));
        var r = await _c.SendAsync(HttpMethod.Get, $"/Patient/{id}", null, ("If-None-Match", "W/\"1\""));
        Assert.Equal(HttpStatusCode.NotModified, r.StatusCode);
        r = await _c.SendAsync(HttpMethod.Get, $"/Patient/{id}", null, ("If-None-Match", "W/\"7\""));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var lastModified = r.Content.Headers.LastModified!.Value;
        r = await _c.SendAsync(HttpMethod.Get, $"/Patient/{id}", null, ("If-Modified-Since", lastModified.AddMinutes(1).ToString("R")));
        Assert.Equal(HttpStatusCode.NotModified, r.StatusCode);
        r = await _c.SendAsync(HttpMethod.Get, $"/Patient/{id}", null, ("If-Modified-Since", lastModified.AddMinutes(-1).ToString("R")));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
    }

    [FhirFact]
    public async Task Prefer_return_minimal_and_operation_outcome()
    {
        var r = await _c.SendAsync(HttpMethod.Post, "/Patient", Patient("褚"), ("Prefer", "return=minimal"));
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        Assert.Empty(await r.Content.ReadAsByteArrayAsync());
        Assert.NotNull(r.Headers.Location);
        r = await _c.SendAsync(HttpMethod.Post, "/Patient", Patient("卫"), ("Prefer", "return=OperationOutcome"));
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        AssertOutcome(await r.JsonAsync(), "Created");
    }

    [FhirFact]
    public async Task Conditional_create_returns_the_existing_match_or_412()
    {
        var system = "urn:test:" + Unique();
        var body = Patient("蒋", extra: $",\"identifier\":[{{\"system\":\"{system}\",\"value\":\"1\"}}]");
        var first = await _c.SendAsync(HttpMethod.Post, "/Patient", body, ("If-None-Exist", $"identifier={system}|1"));
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        var second = await _c.SendAsync(HttpMethod.Post, "/Patient", body, ("If-None-Exist", $"identifier={system}|1"));
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal((await first.JsonAsync()).GetProperty("id").GetString(), (await second.JsonAsync()).GetProperty("id").GetString());
        await _c.CreateAsync(body);
        var many = await _c.SendAsync(HttpMethod.Post, "/Patient", body, ("If-None-Exist", $"identifier={system}|1"));
        Assert.Equal(HttpStatusCode.PreconditionFailed, many.StatusCode);
    }

    [FhirFact]
    public async Task Conditional_update_creates_updates_or_412()
    {
        var system = "urn:test:" + Unique();
        var body = Patient("沈", extra: $",\"identifier\":[{{\"system\":\"{system}\",\"value\":\"A\"}}]");
        var created = await _c.PutAsync($"/Patient?identifier={system}|A", Body(body));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var updated = await _c.PutAsync($"/Patient?identifier={system}|A", Body(body));
        Assert.Equal(HttpStatusCode.OK, updated.StatusCode);
        Assert.Equal("W/\"2\"", updated.Headers.ETag!.ToString());
        await _c.CreateAsync(body);
        Assert.Equal(HttpStatusCode.PreconditionFailed, (await _c.PutAsync($"/Patient?identifier={system}|A", Body(body))).StatusCode);
        // Conditional operations are strict about their criteria.
        Assert.Equal(HttpStatusCode.BadRequest, (await _c.PutAsync("/Patient?nonsense=1", Body(body))).StatusCode);
    }

    [FhirFact]
    public async Task Conditional_delete_deletes_one_204_for_none_412_for_several()
    {
        var system = "urn:test:" + Unique();
        var body = Patient("韩", extra: $",\"identifier\":[{{\"system\":\"{system}\",\"value\":\"D\"}}]");
        var id = await _c.CreateAsync(body);
        Assert.Equal(HttpStatusCode.OK, (await _c.DeleteAsync($"/Patient?identifier={system}|D")).StatusCode);
        Assert.Equal(HttpStatusCode.Gone, (await _c.GetAsync($"/Patient/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await _c.DeleteAsync($"/Patient?identifier={system}|D")).StatusCode);
        await _c.CreateAsync(body);
        await _c.CreateAsync(body);
        Assert.Equal(HttpStatusCode.PreconditionFailed, (await _c.DeleteAsync($"/Patient?identifier={system}|D")).StatusCode);
    }

    [FhirFact]
    public async Task Unsupported_methods_are_405_and_unknown_urls_404_as_outcomes()
    {
        var id = await _c.CreateAsync(Patient("杨"));
        var r = await _c.PatchAsync($"/Patient/{id}/_history/1", Body("{}"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, r.StatusCode);
        AssertOutcome(await r.JsonAsync());
        r = await _c.PutAsync($"/Patient/{id}/_history/1", Body(Patient("杨", id)));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, r.StatusCode);
        r = await _c.GetAsync("/a/b/c/d/e");
        Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
        AssertOutcome(await r.JsonAsync());
    }

    [FhirFact]
    public async Task Concurrent_updates_of_one_resource_get_distinct_consecutive_versions()
    {
        var id = "concurrent-" + Unique();
        var tasks = Enumerable.Range(0, 12).Select(_ => _c.PutAsync($"/Patient/{id}", Body(Patient("并发", id)))).ToList();
        var responses = await Task.WhenAll(tasks);
        Assert.All(responses, r => Assert.True(r.StatusCode is HttpStatusCode.OK or HttpStatusCode.Created));
        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.Created);
        var versions = responses.Select(r => r.Headers.ETag!.ToString()).Order().ToList();
        Assert.Equal(12, versions.Distinct().Count());
        var read = await _c.GetAsync($"/Patient/{id}");
        Assert.Equal("W/\"12\"", read.Headers.ETag!.ToString());
    }

    [FhirFact]
    public async Task Odd_requests_never_produce_a_500()
    {
        string[] gets =
        [
            "/Patient?_sort=", "/Patient?_sort=-", "/Patient?birthdate=ge", "/Observation?value-quantity=gt", "/Patient?_count=0",
            "/Patient?name=", "/Observation?subject.organization.name=x", "/Patient?_has=x", "/Patient?_has:Observation=1",
            "/Patient?_include=*", "/Patient?_include=Patient", "/Location?near=1|2|3", "/Observation?combo-code-value-quantity=1",
            "/Patient/" + new string('a', 300), "/Patient?_offset=-1", "/Patient?_format=", "/Patient?_id=", "/_history?_at=2024",
            "/Patient?subject:Nope=1", "/Patient?gender:unknownmod=x", "/Patient?_lastUpdated=xx", "/Patient/x/_history/abc",
            "/Observation?code=%7C", "/Observation?value-quantity=1|%7C", "/Patient?identifier=%5C,",
        ];
        foreach (var url in gets)
        {
            var r = await _c.GetAsync(url);
            Assert.True((int)r.StatusCode < 500, $"{url} -> {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
            var type = (await r.JsonAsync()).GetProperty("resourceType").GetString();
            Assert.True(type is "Bundle" or "OperationOutcome", url);
        }
        (HttpMethod Method, string Url, string? Body)[] writes =
        [
            (HttpMethod.Delete, "/Patient", null),
            (HttpMethod.Put, "/Patient/a%20b", "{\"resourceType\":\"Patient\",\"id\":\"a b\"}"),
            (HttpMethod.Post, "/", "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":[{\"resource\":{\"resourceType\":\"Patient\"}}]}"),
            (HttpMethod.Post, "/", "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":[{\"request\":{\"method\":\"POST\",\"url\":\"Patient\"}}]}"),
            (HttpMethod.Post, "/", "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":[{\"request\":{\"method\":\"PATCH\",\"url\":\"Patient/1\"}}]}"),
            (HttpMethod.Post, "/", "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":[{\"request\":{\"method\":\"GET\",\"url\":\"Nope/1\"}}]}"),
            (HttpMethod.Post, "/Patient", ""),
            (HttpMethod.Post, "/Patient", "[]"),
            (HttpMethod.Post, "/Patient", "null"),
        ];
        foreach (var (method, url, body) in writes)
        {
            var r = await _c.SendAsync(method, url, body);
            Assert.True((int)r.StatusCode < 500, $"{method} {url} -> {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
        }
    }

    [FhirFact]
    public async Task Responses_are_compressed_when_asked()
    {
        var id = await _c.CreateAsync(Patient("朱"));
        foreach (var enc in new[] { "gzip", "br" })
        {
            var req = new HttpRequestMessage(HttpMethod.Get, $"/Patient?_id={id}");
            req.Headers.AcceptEncoding.ParseAdd(enc);
            var r = await _c.SendAsync(req);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Contains(enc, r.Content.Headers.ContentEncoding);
        }
    }
}

public sealed class CrudTests(ServerFixture fx) : CrudTestsBase<ServerFixture>(fx), IClassFixture<ServerFixture>;

public sealed class PostgresCrudTests(PostgresServerFixture fx) : CrudTestsBase<PostgresServerFixture>(fx), IClassFixture<PostgresServerFixture>;

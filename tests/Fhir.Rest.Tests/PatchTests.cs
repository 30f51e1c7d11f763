using System.Net;
using System.Text;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Rest.Tests;

/// <summary>PATCH [type]/[id] and conditional PATCH with JSON Patch and FHIRPath Patch, plain and inside bundles.</summary>
public abstract class PatchTestsBase<TFixture>(TFixture fx) where TFixture : ServerFixture
{
    private const string JsonPatchType = "application/json-patch+json";
    private readonly HttpClient _c = fx.Client;

    private static string Patient(string family, string extra = "") =>
        $$"""{"resourceType":"Patient","name":[{"family":"{{family}}","given":["测试"]}],"birthDate":"1980-01-01"{{extra}}}""";

    private Task<HttpResponseMessage> PatchAsync(string url, string body, string type, params (string, string)[] headers)
    {
        var req = new HttpRequestMessage(HttpMethod.Patch, url) { Content = new StringContent(body, Encoding.UTF8, type) };
        foreach (var (n, v) in headers) req.Headers.TryAddWithoutValidation(n, v);
        return _c.SendAsync(req);
    }

    private static string FhirPathReplace(string path, string valueElement) =>
        $$"""{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"replace"},{"name":"path","valueString":"{{path}}"},{"name":"value",{{valueElement}}}]}]}""";

    [FhirFact]
    public async Task Json_patch_changes_the_resource_and_makes_a_new_version()
    {
        var id = await _c.CreateAsync(Patient("周"));
        var r = await PatchAsync($"/Patient/{id}",
            """[{"op":"replace","path":"/name/0/family","value":"吴"},{"op":"add","path":"/gender","value":"female"},{"op":"remove","path":"/birthDate"}]""",
            JsonPatchType);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("W/\"2\"", r.Headers.ETag!.ToString());
        var read = await (await _c.GetAsync($"/Patient/{id}")).JsonAsync();
        Assert.Equal("吴", read.GetProperty("name")[0].GetProperty("family").GetString());
        Assert.Equal("female", read.GetProperty("gender").GetString());
        Assert.False(read.TryGetProperty("birthDate", out _));
        // The search index follows the patch.
        Assert.Equal([id], await _c.SearchIdsAsync($"/Patient?_id={id}&family=吴&gender=female"));
    }

    [FhirFact]
    public async Task Fhirpath_patch_in_json_and_xml()
    {
        var id = await _c.CreateAsync(Patient("郑"));
        var r = await PatchAsync($"/Patient/{id}", FhirPathReplace("Patient.birthDate", "\"valueDate\":\"1990-05-06\""), Json);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("1990-05-06", (await r.JsonAsync()).GetProperty("birthDate").GetString());
        const string xml = """
            <Parameters xmlns="http://hl7.org/fhir"><parameter><name value="operation"/>
              <part><name value="type"/><valueCode value="add"/></part>
              <part><name value="path"/><valueString value="Patient"/></part>
              <part><name value="name"/><valueString value="telecom"/></part>
              <part><name value="value"/><valueContactPoint><system value="phone"/><value value="010-1234"/></valueContactPoint></part>
            </parameter></Parameters>
            """;
        r = await PatchAsync($"/Patient/{id}", xml, Xml);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("010-1234", (await r.JsonAsync()).GetProperty("telecom")[0].GetProperty("value").GetString());
    }

    [FhirFact]
    public async Task If_match_guards_a_patch()
    {
        var id = await _c.CreateAsync(Patient("冯"));
        var patch = """[{"op":"replace","path":"/name/0/family","value":"陈"}]""";
        var r = await PatchAsync($"/Patient/{id}", patch, JsonPatchType, ("If-Match", "W/\"7\""));
        Assert.Equal(HttpStatusCode.PreconditionFailed, r.StatusCode);
        AssertOutcome(await r.JsonAsync());
        r = await PatchAsync($"/Patient/{id}", patch, JsonPatchType, ("If-Match", "W/\"1\""));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("W/\"2\"", r.Headers.ETag!.ToString());
    }

    [FhirFact]
    public async Task Conditional_patch_needs_exactly_one_match()
    {
        var system = "urn:test:patch:" + Unique();
        var body = Patient("褚", $$""","identifier":[{"system":"{{system}}","value":"P1"}]""");
        var patch = """[{"op":"add","path":"/active","value":true}]""";
        Assert.Equal(HttpStatusCode.NotFound, (await PatchAsync($"/Patient?identifier={system}|P1", patch, JsonPatchType)).StatusCode);
        var id = await _c.CreateAsync(body);
        var r = await PatchAsync($"/Patient?identifier={system}|P1", patch, JsonPatchType);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal(id, (await r.JsonAsync()).GetProperty("id").GetString());
        await _c.CreateAsync(body);
        Assert.Equal(HttpStatusCode.PreconditionFailed, (await PatchAsync($"/Patient?identifier={system}|P1", patch, JsonPatchType)).StatusCode);
    }

    [FhirFact]
    public async Task Bad_patches_are_4xx_outcomes()
    {
        var id = await _c.CreateAsync(Patient("卫"));
        (string Url, string Body, string Type, HttpStatusCode Status)[] cases =
        [
            ($"/Patient/{id}", "not json", JsonPatchType, HttpStatusCode.BadRequest),
            ($"/Patient/{id}", "{}", JsonPatchType, HttpStatusCode.BadRequest),
            ($"/Patient/{id}", """[{"op":"remove","path":"/nothere"}]""", JsonPatchType, HttpStatusCode.UnprocessableEntity),
            ($"/Patient/{id}", """[{"op":"test","path":"/birthDate","value":"2000-01-01"}]""", JsonPatchType, HttpStatusCode.UnprocessableEntity),
            ($"/Patient/{id}", """[{"op":"add","path":"/unknownElement","value":1}]""", JsonPatchType, HttpStatusCode.UnprocessableEntity),
            ($"/Patient/{id}", """[{"op":"replace","path":"/birthDate","value":"not a date"}]""", JsonPatchType, HttpStatusCode.UnprocessableEntity),
            ($"/Patient/{id}", """[{"op":"replace","path":"/id","value":"other"}]""", JsonPatchType, HttpStatusCode.UnprocessableEntity),
            ($"/Patient/{id}", """[{"op":"replace","path":"/resourceType","value":"Basic"}]""", JsonPatchType, HttpStatusCode.UnprocessableEntity),
            ($"/Patient/{id}", """[{"op":"replace","path":"","value":[]}]""", JsonPatchType, HttpStatusCode.UnprocessableEntity),
            ($"/Patient/{id}", FhirPathReplace("Patient.birthDate", "\"valueString\":\"yesterday\""), Json, HttpStatusCode.UnprocessableEntity),
            ($"/Patient/{id}", FhirPathReplace("Patient.name", "\"valueQuantity\":{\"value\":1}"), Json, HttpStatusCode.UnprocessableEntity),
            ($"/Patient/{id}", FhirPathReplace("Patient.gender", "\"valueCode\":\"male\""), Json, HttpStatusCode.UnprocessableEntity),
            ($"/Patient/{id}", FhirPathReplace("Patient.name.where(", "\"valueCode\":\"male\""), Json, HttpStatusCode.UnprocessableEntity),
            ($"/Patient/{id}", """{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"explode"},{"name":"path","valueString":"Patient"}]}]}""", Json, HttpStatusCode.UnprocessableEntity),
            ($"/Patient/{id}", """{"resourceType":"Patient"}""", Json, HttpStatusCode.BadRequest),
            ($"/Patient/{id}", "[]", "text/plain", HttpStatusCode.UnsupportedMediaType),
            ("/Patient/does-not-exist", "[]", JsonPatchType, HttpStatusCode.NotFound),
            ("/NoSuchType/1", "[]", JsonPatchType, HttpStatusCode.NotFound),
        ];
        foreach (var (url, body, type, status) in cases)
        {
            var r = await PatchAsync(url, body, type);
            Assert.True(status == r.StatusCode, $"{body} -> {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
            AssertOutcome(await r.JsonAsync());
        }
        // None of them changed the resource.
        Assert.Equal("W/\"1\"", (await _c.GetAsync($"/Patient/{id}")).Headers.ETag!.ToString());
    }

    [FhirFact]
    public async Task Patch_of_a_deleted_resource_is_410()
    {
        var id = await _c.CreateAsync(Patient("蒋"));
        await _c.DeleteAsync($"/Patient/{id}");
        Assert.Equal(HttpStatusCode.Gone, (await PatchAsync($"/Patient/{id}", "[]", JsonPatchType)).StatusCode);
    }

    [FhirFact]
    public async Task Patch_entries_in_a_transaction_and_a_batch()
    {
        var id = await _c.CreateAsync(Patient("沈"));
        var jsonPatch = Convert.ToBase64String(Encoding.UTF8.GetBytes("""[{"op":"add","path":"/gender","value":"male"}]"""));
        var transaction = $$$"""
            {"resourceType":"Bundle","type":"transaction","entry":[
              {"resource":{"resourceType":"Binary","contentType":"application/json-patch+json","data":"{{{jsonPatch}}}"},
               "request":{"method":"PATCH","url":"Patient/{{{id}}}"}},
              {"resource":{{{FhirPathReplace("Patient.birthDate", "\"valueDate\":\"1970-07-07\"")}}},
               "request":{"method":"PATCH","url":"Patient/{{{id}}}","ifMatch":"W/\"2\""}}]}
            """;
        var r = await _c.PostAsync("/", Body(transaction));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var read = await (await _c.GetAsync($"/Patient/{id}")).JsonAsync();
        Assert.Equal("male", read.GetProperty("gender").GetString());
        Assert.Equal("1970-07-07", read.GetProperty("birthDate").GetString());
        Assert.Equal("3", read.GetProperty("meta").GetProperty("versionId").GetString());

        var batch = $$$"""
            {"resourceType":"Bundle","type":"batch","entry":[
              {"resource":{{{FhirPathReplace("Patient.birthDate", "\"valueDate\":\"1971-01-01\"")}}},"request":{"method":"PATCH","url":"Patient/{{{id}}}"}},
              {"resource":{"resourceType":"Patient"},"request":{"method":"PATCH","url":"Patient/{{{id}}}"}}]}
            """;
        var b = await (await _c.PostAsync("/", Body(batch))).JsonAsync();
        Assert.Equal("200 OK", b.GetProperty("entry")[0].GetProperty("response").GetProperty("status").GetString());
        Assert.Equal("400 Bad Request", b.GetProperty("entry")[1].GetProperty("response").GetProperty("status").GetString());
    }
}

public sealed class PatchTests(ServerFixture fx) : PatchTestsBase<ServerFixture>(fx), IClassFixture<ServerFixture>;

public sealed class PostgresPatchTests(PostgresServerFixture fx) : PatchTestsBase<PostgresServerFixture>(fx), IClassFixture<PostgresServerFixture>;

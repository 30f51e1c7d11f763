using System.Net;
using System.Text.Json;
using FhirArchive.Profiles;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Rest.Tests;

/// <summary>A server that validates record Patients against the resident-record profile on every write.</summary>
public sealed class RecordProfileFixture() : ServerFixtureWith(new Dictionary<string, string>
{
    ["Validation:RecordProfiles:Patient"] = CnProfiles.ResidentPatient,
}, null);

public sealed class ValidationTests(RecordProfileFixture fx) : IClassFixture<RecordProfileFixture>
{
    private readonly HttpClient _c = fx.Client;

    private static string Example(string name) =>
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Examples", name + ".json"));

    private static string ResidentWith(string idCard, string gender = "male", string birthDate = "1980-01-01") => $$$"""
        {"resourceType":"Patient","identifier":[{"system":"urn:oid:2.16.156.10011.1.3","value":"{{{idCard}}}"}],
         "name":[{"text":"张伟"}],"gender":"{{{gender}}}","birthDate":"{{{birthDate}}}","managingOrganization":{"reference":"Organization/wz-gst-chc"}}
        """;

    private static IEnumerable<JsonElement> Issues(JsonElement oo) => oo.GetProperty("issue").EnumerateArray();

    [Fact]
    public async Task A_record_patient_meeting_the_profile_is_stored()
    {
        var r = await _c.PostAsync("/Patient", Body(ResidentWith("500101198001010013")));
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
    }

    [Fact]
    public async Task A_record_patient_breaking_the_profile_or_the_id_card_rules_gets_422_with_the_issues()
    {
        var r = await _c.PostAsync("/Patient", Body(ResidentWith("500101198001010014")));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, r.StatusCode);
        var oo = await r.JsonAsync();
        Assert.Equal("OperationOutcome", oo.GetProperty("resourceType").GetString());
        Assert.Contains(Issues(oo), i => i.GetProperty("expression")[0].GetString() == "Patient.identifier[0].value");

        var wrongSex = await _c.PutAsync("/Patient/p-sex", Body(ResidentWith("500101198001010013", gender: "female").Replace("{\"resourceType\":\"Patient\",", "{\"resourceType\":\"Patient\",\"id\":\"p-sex\",")));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, wrongSex.StatusCode);
        Assert.Contains(Issues(await wrongSex.JsonAsync()), i => i.GetProperty("expression")[0].GetString() == "Patient.gender");
        Assert.Equal(HttpStatusCode.NotFound, (await _c.GetAsync("/Patient/p-sex")).StatusCode); // nothing was written
    }

    [Fact]
    public async Task A_transaction_with_an_invalid_entry_writes_nothing()
    {
        var bundle = $$$"""
            {"resourceType":"Bundle","type":"transaction","entry":[
              {"resource":{"resourceType":"Organization","id":"tx-org","name":"机构"},"request":{"method":"PUT","url":"Organization/tx-org"}},
              {"resource":{{{ResidentWith("500101198001010014")}}},"request":{"method":"POST","url":"Patient"}}]}
            """;
        var r = await _c.PostAsync("/", Body(bundle));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, r.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _c.GetAsync("/Organization/tx-org")).StatusCode);
    }

    [Fact]
    public async Task A_resource_claiming_a_profile_is_held_to_it_even_outside_the_record_types()
    {
        var noDivision = System.Text.Json.Nodes.JsonNode.Parse(Example("Organization-wz-gst-chc"))!.AsObject();
        noDivision.Remove("extension");
        var r = await _c.PutAsync("/Organization/wz-gst-chc", Body(noDivision.ToJsonString()));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, r.StatusCode);
        Assert.Contains(Issues(await r.JsonAsync()), i => i.GetProperty("expression")[0].GetString() == "Organization.extension:divisionCode");
        Assert.Equal(HttpStatusCode.Created, (await _c.PutAsync("/Organization/wz-gst-chc", Body(Example("Organization-wz-gst-chc")))).StatusCode);
    }

    [Fact]
    public async Task Validate_reports_every_issue_with_200_and_honours_profile_and_mode()
    {
        var plain = """{"resourceType":"Observation","code":{"text":"t"}}""";
        var r = await _c.PostAsync("/Observation/$validate", Body(plain));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Contains(Issues(await r.JsonAsync()), i => i.GetProperty("severity").GetString() == "error" && i.GetProperty("expression")[0].GetString() == "Observation.status");

        var parameters = """
            {"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Observation","status":"final","code":{"text":"t"}}},
             {"name":"profile","valueUri":"PROFILE"},{"name":"mode","valueCode":"create"}]}
            """.Replace("PROFILE", CnProfiles.Observation);
        var withProfile = await (await _c.PostAsync("/Observation/$validate", Body(parameters))).JsonAsync();
        Assert.Contains(Issues(withProfile), i => i.GetProperty("expression")[0].GetString() == "Observation.subject");

        var good = await (await _c.PostAsync("/Patient/$validate", Body(Example("Patient-zhang-wei")))).JsonAsync();
        Assert.DoesNotContain(Issues(good), i => i.GetProperty("severity").GetString() is "error" or "fatal");

        var update = await (await _c.PostAsync("/Patient/other/$validate?mode=update", Body(Example("Patient-zhang-wei")))).JsonAsync();
        Assert.Contains(Issues(update), i => i.GetProperty("code").GetString() == "invalid" && i.GetProperty("expression")[0].GetString() == "Patient.id");

        Assert.Equal(HttpStatusCode.BadRequest, (await _c.PostAsync("/Patient/$validate?mode=purge", Body(Example("Patient-zhang-wei")))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _c.GetAsync("/Patient/nobody/$validate")).StatusCode);
    }

    [Fact]
    public async Task Validate_an_instance_in_store_and_for_deletion()
    {
        Assert.Equal(HttpStatusCode.Created, (await _c.PutAsync("/Practitioner/li-na", Body(Example("Practitioner-li-na")))).StatusCode);
        var stored = await (await _c.GetAsync("/Practitioner/li-na/$validate")).JsonAsync();
        Assert.DoesNotContain(Issues(stored), i => i.GetProperty("severity").GetString() == "error");
        var delete = await (await _c.PostAsync("/Practitioner/li-na/$validate?mode=delete", null)).JsonAsync();
        Assert.Contains(Issues(delete), i => i.GetProperty("severity").GetString() == "information");
    }
}

public sealed class TerminologyOperationTests(ServerFixture fx) : IClassFixture<ServerFixture>
{
    private readonly HttpClient _c = fx.Client;

    [Fact]
    public async Task The_capability_statement_lists_the_operations()
    {
        var cs = await (await _c.GetAsync("/metadata")).JsonAsync();
        // $validate applies to every type, Bulk Data $export is system-level; the terminology operations are listed under the type they are invoked on.
        var rest = cs.GetProperty("rest")[0];
        Assert.Equal(["export", "validate"], rest.GetProperty("operation").EnumerateArray().Select(o => o.GetProperty("name").GetString()));
        List<string?> On(string type) => rest.GetProperty("resource").EnumerateArray().Single(r => r.GetProperty("type").GetString() == type)
            .GetProperty("operation").EnumerateArray().Select(o => o.GetProperty("name").GetString()).ToList();
        Assert.Equal(["lookup", "subsumes"], On("CodeSystem"));
        Assert.Equal(["expand", "validate-code"], On("ValueSet"));
        Assert.Equal(["translate"], On("ConceptMap"));
    }

    [Fact]
    public async Task Lookup_gives_the_chinese_display_and_the_english_designation()
    {
        var r = await (await _c.GetAsync("/CodeSystem/$lookup?system=urn:oid:2.16.156.10011.2.3.3.3&code=01")).JsonAsync();
        Assert.Equal("汉族", Param(r, "display"));
        Assert.Contains("Han", r.GetRawText());
        var en = await (await _c.GetAsync("/CodeSystem/$lookup?system=urn:oid:2.16.156.10011.2.3.3.3&code=01&displayLanguage=en")).JsonAsync();
        Assert.Equal("Han", Param(en, "display"));
        Assert.Equal(HttpStatusCode.NotFound, (await _c.GetAsync("/CodeSystem/$lookup?system=urn:oid:2.16.156.10011.2.3.3.3&code=99")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await _c.GetAsync("/CodeSystem/$lookup?code=01")).StatusCode);
    }

    [Fact]
    public async Task Validate_code_expand_subsumes_and_translate_answer_as_fhir_says()
    {
        var yes = await (await _c.GetAsync("/ValueSet/$validate-code?url=http://hl7.org/fhir/ValueSet/administrative-gender&system=http://hl7.org/fhir/administrative-gender&code=male")).JsonAsync();
        Assert.Equal("true", Param(yes, "result"));
        var post = await _c.PostAsync("/ValueSet/$validate-code", Body("""
            {"resourceType":"Parameters","parameter":[{"name":"url","valueUri":"http://hl7.org/fhir/ValueSet/administrative-gender"},
             {"name":"coding","valueCoding":{"system":"http://hl7.org/fhir/administrative-gender","code":"man"}}]}
            """));
        Assert.Equal("false", Param(await post.JsonAsync(), "result"));

        var expansion = await (await _c.GetAsync("/ValueSet/$expand?url=http://fhirarchive.cn/fhir/ValueSet/gb-3304-ethnicity&filter=族&count=5&offset=2")).JsonAsync();
        var e = expansion.GetProperty("expansion");
        Assert.True(e.GetProperty("total").GetInt32() >= 56);
        Assert.Equal(5, e.GetProperty("contains").GetArrayLength());
        Assert.Equal(2, e.GetProperty("offset").GetInt32());
        Assert.Equal(HttpStatusCode.NotFound, (await _c.GetAsync("/ValueSet/$expand?url=http://example.org/none")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await _c.GetAsync("/ValueSet/$expand?url=http://fhirarchive.cn/fhir/ValueSet/gb-3304-ethnicity&count=-1")).StatusCode);

        var subsumes = await (await _c.GetAsync("/CodeSystem/$subsumes?system=urn:oid:2.16.156.10011.2.3.3.8&codeA=10&codeB=11")).JsonAsync();
        Assert.Equal("subsumes", Param(subsumes, "outcome"));

        var translated = await (await _c.GetAsync("/ConceptMap/$translate?system=urn:oid:2.16.156.10011.2.3.3.4&code=2&targetsystem=http://hl7.org/fhir/administrative-gender")).JsonAsync();
        Assert.Equal("true", Param(translated, "result"));
        Assert.Contains("\"female\"", translated.GetRawText());
    }
}

using System.Net;
using System.Text.Json;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Rest.Tests;

public sealed class SearchFixture : ServerFixture
{
    public SearchFixture() => SearchData.Seed(Client);
}

/// <summary>A fixed data set, loaded into a fresh database, so every search result is exactly known.</summary>
public static class SearchData
{
    public static void Seed(HttpClient c)
    {
        Task.Run(async () =>
        {
            await c.PutAsync("""{"resourceType":"Organization","id":"org1","name":"北京协和医院","identifier":[{"system":"urn:org","value":"PUMCH"}]}""");
            await c.PutAsync("""{"resourceType":"Patient","id":"p1","active":true,"gender":"male","birthDate":"1985-03-12","name":[{"family":"Zhāng","given":["Wěi"],"text":"张伟"}],"identifier":[{"system":"urn:oid:2.16.156.10011.1.3","value":"110105198503120311"}],"managingOrganization":{"reference":"Organization/org1"}}""");
            await c.PutAsync("""{"resourceType":"Patient","id":"p2","active":false,"gender":"female","birthDate":"1990-07-24","name":[{"family":"Wang","given":["Fang"],"text":"王芳"}],"identifier":[{"system":"urn:local","value":"W-2"}]}""");
            await c.PutAsync("""{"resourceType":"Patient","id":"p3","gender":"female","birthDate":"1990","name":[{"family":"Wangshu","given":["Li"]}]}""");
            await c.PutAsync("""{"resourceType":"Observation","id":"o1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8480-6","display":"Systolic blood pressure"}],"text":"收缩压"},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-05-01T09:10:00Z","valueQuantity":{"value":118,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}""");
            await c.PutAsync("""{"resourceType":"Observation","id":"o2","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-06-15T10:00:00Z","valueQuantity":{"value":135.5,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}""");
            await c.PutAsync("""{"resourceType":"Observation","id":"o3","status":"preliminary","code":{"coding":[{"system":"http://loinc.org","code":"29463-7","display":"Body weight"}]},"subject":{"reference":"Patient/p2"},"effectiveDateTime":"2023-12-31","valueQuantity":{"value":55,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}}""");
            await c.PutAsync("""{"resourceType":"Observation","id":"o4","status":"final","code":{"text":"free text only"},"subject":{"identifier":{"system":"urn:local","value":"W-2"}}}""");
            await c.PutAsync("""{"resourceType":"RiskAssessment","id":"r1","status":"final","subject":{"reference":"Patient/p1"},"prediction":[{"probabilityDecimal":0.25}]}""");
            await c.PutAsync("""{"resourceType":"RiskAssessment","id":"r2","status":"final","subject":{"reference":"Patient/p2"},"prediction":[{"probabilityDecimal":0.8}]}""");
            await c.PutAsync("""{"resourceType":"Encounter","id":"e1","status":"finished","class":{"code":"AMB"},"period":{"start":"2024-07-01T01:00:00+08:00","end":"2024-07-01T02:00:00+08:00"}}""");
            await c.PutAsync("""{"resourceType":"ValueSet","id":"vs1","status":"active","url":"http://example.org/fhir/ValueSet/a"}""");
            await c.PutAsync("""{"resourceType":"ValueSet","id":"vs2","status":"active","url":"http://example.org/fhir/ValueSet/b"}""");
        }).GetAwaiter().GetResult();
    }
}

public abstract class SearchTestsBase<TFixture>(TFixture fx) where TFixture : ServerFixture
{
    private readonly HttpClient _c = fx.Client;

    private async Task Expect(string url, params string[] ids)
    {
        var found = await _c.SearchIdsAsync(url);
        Assert.Equal(ids.Order(), found.Order());
    }

    [FhirFact] public Task String_default_is_case_and_accent_insensitive_prefix() => Expect("/Patient?family=zhang", "p1");
    [FhirFact] public Task String_prefix_matches_several() => Expect("/Patient?family=wang", "p2", "p3");
    [FhirFact] public Task String_exact() => Expect("/Patient?family:exact=Wang", "p2");
    [FhirFact] public Task String_exact_is_case_sensitive() => Expect("/Patient?family:exact=wang");
    [FhirFact] public Task String_contains() => Expect("/Patient?name:contains=ngsh", "p3");
    [FhirFact] public Task String_chinese_text() => Expect("/Patient?name=%E7%8E%8B", "p2");
    [FhirFact] public Task String_or_with_commas() => Expect("/Patient?family=zhang,wangshu", "p1", "p3");
    [FhirFact] public Task String_and_by_repetition() => Expect("/Patient?name=wang&name=fang", "p2");

    [FhirFact] public Task Token_code() => Expect("/Patient?gender=female", "p2", "p3");
    [FhirFact] public Task Token_system_and_code() => Expect("/Patient?identifier=urn:oid:2.16.156.10011.1.3|110105198503120311", "p1");
    [FhirFact] public Task Token_system_only() => Expect("/Patient?identifier=urn:local|", "p2");
    [FhirFact] public Task Token_no_system() => Expect("/Observation?code=|8480-6");
    [FhirFact] public Task Token_boolean() => Expect("/Patient?active=true", "p1");
    [FhirFact] public Task Token_not() => Expect("/Patient?gender:not=male", "p2", "p3");
    [FhirFact] public Task Token_text() => Expect("/Observation?code:text=body", "o3");
    [FhirFact] public Task Token_text_from_concept_text() => Expect("/Observation?code:text=%E6%94%B6%E7%BC%A9", "o1");
    [FhirFact] public Task Token_coding_or() => Expect("/Observation?code=http://loinc.org|8480-6,http://loinc.org|29463-7", "o1", "o2", "o3");

    [FhirFact] public Task Date_day_equality() => Expect("/Patient?birthdate=1985-03-12", "p1");
    [FhirFact] public Task Date_year_precision_contains_days() => Expect("/Patient?birthdate=1990", "p2", "p3");
    [FhirFact] public Task Date_month_precision_excludes_a_year_value() => Expect("/Patient?birthdate=1990-07", "p2");
    [FhirFact] public Task Date_gt() => Expect("/Observation?date=gt2024-05-01", "o2");
    [FhirFact] public Task Date_lt() => Expect("/Observation?date=lt2024-01-01", "o3");
    [FhirFact] public Task Date_ge() => Expect("/Observation?date=ge2024-05-01", "o1", "o2");
    [FhirFact] public Task Date_le() => Expect("/Observation?date=le2023-12-31", "o3");
    [FhirFact] public Task Date_ne() => Expect("/Observation?date=ne2024-05-01", "o2", "o3");
    [FhirFact] public Task Date_sa() => Expect("/Observation?date=sa2024-05-31", "o2");
    [FhirFact] public Task Date_eb() => Expect("/Observation?date=eb2024-01-01", "o3");
    [FhirFact] public Task Date_ap() => Expect("/Observation?date=ap2024-06-14", "o1", "o2");
    [FhirFact] public Task Date_range_by_and() => Expect("/Observation?date=ge2024-01-01&date=lt2024-06-01", "o1");
    [FhirFact] public Task Date_without_zone_is_a_beijing_day() => Expect("/Encounter?date=2024-07-01", "e1");
    [FhirFact] public Task Date_without_zone_previous_utc_day_does_not_match() => Expect("/Encounter?date=2024-06-30");
    [FhirFact] public Task Date_with_time() => Expect("/Observation?date=2024-05-01T09:10:00Z", "o1");

    [FhirFact] public Task Number_eq_uses_precision() => Expect("/RiskAssessment?probability=0.25", "r1");
    [FhirFact] public Task Number_gt() => Expect("/RiskAssessment?probability=gt0.5", "r2");
    [FhirFact] public Task Number_le() => Expect("/RiskAssessment?probability=le0.25", "r1");

    [FhirFact] public Task Quantity_value_system_code() => Expect("/Observation?value-quantity=118|http://unitsofmeasure.org|mm[Hg]", "o1");
    [FhirFact] public Task Quantity_prefix_and_code_only() => Expect("/Observation?value-quantity=gt100||mm[Hg]", "o1", "o2");
    [FhirFact] public Task Quantity_precision() => Expect("/Observation?value-quantity=135.5", "o2");
    [FhirFact] public Task Quantity_lt_any_unit() => Expect("/Observation?value-quantity=lt100", "o3");

    [FhirFact] public Task Reference_type_and_id() => Expect("/Observation?subject=Patient/p1", "o1", "o2");
    [FhirFact] public Task Reference_id_only() => Expect("/Observation?subject=p2", "o3");
    [FhirFact] public Task Reference_type_modifier() => Expect("/Observation?subject:Patient=p1", "o1", "o2");
    [FhirFact] public Task Reference_patient_param_narrowed_from_multi_base_expression() => Expect("/Observation?patient=p2", "o3");
    [FhirFact] public Task Reference_absolute_url() => Expect("/Observation?subject=http://other.example/fhir/Patient/p1", "o1", "o2");
    [FhirFact] public Task Reference_identifier_modifier() => Expect("/Observation?subject:identifier=urn:local|W-2", "o4");
    [FhirFact] public Task Reference_chained() => Expect("/Observation?subject.family=zhang", "o1", "o2");
    [FhirFact] public Task Reference_chained_with_type() => Expect("/Observation?subject:Patient.gender=female", "o3");
    [FhirFact] public Task Reference_organization_chain() => Expect("/Patient?organization.identifier=urn:org|PUMCH", "p1");

    [FhirFact] public Task Reverse_chaining_has() => Expect("/Patient?_has:Observation:subject:code=29463-7", "p2");
    [FhirFact] public Task Reverse_chaining_has_or_values() => Expect("/Patient?_has:Observation:patient:date=ge2024-01-01", "p1");
    [FhirFact] public Task Reverse_chaining_no_match() => Expect("/Patient?_has:Observation:subject:code=nothing");

    [FhirFact] public Task Uri_exact() => Expect("/ValueSet?url=http://example.org/fhir/ValueSet/a", "vs1");

    [FhirFact] public Task Missing_true() => Expect("/Patient?organization:missing=true", "p2", "p3");
    [FhirFact] public Task Missing_false() => Expect("/Patient?organization:missing=false", "p1");
    [FhirFact] public Task Id_param() => Expect("/Patient?_id=p1,p3", "p1", "p3");

    [FhirFact]
    public async Task LastUpdated_param()
    {
        await Expect("/Patient?_lastUpdated=gt2000-01-01", "p1", "p2", "p3");
        await Expect("/Patient?_lastUpdated=lt2000-01-01");
    }

    [FhirFact]
    public async Task System_search_with_type_and_id()
    {
        await Expect("/?_type=Patient,RiskAssessment&_lastUpdated=gt2000-01-01", "p1", "p2", "p3", "r1", "r2");
        await Expect("/?_id=o1,vs2", "o1", "vs2");
        Assert.Equal(HttpStatusCode.NotFound, (await _c.GetAsync("/?_type=Nope")).StatusCode);
    }

    [FhirFact]
    public async Task Sort_by_several_keys_and_descending()
    {
        Assert.Equal(["p3", "p2", "p1"], await _c.SearchIdsAsync("/Patient?_sort=-birthdate,_id"));
        Assert.Equal(["p2", "p3", "p1"], await _c.SearchIdsAsync("/Patient?_sort=family"));
        Assert.Equal(["p3", "p2", "p1"], await _c.SearchIdsAsync("/Patient?_sort=gender,-_id"));
        Assert.Equal(["o3", "o1", "o2", "o4"], await _c.SearchIdsAsync("/Observation?_sort=date"));
    }

    [FhirFact]
    public async Task Paging_has_stable_next_and_previous_links_and_total()
    {
        var seen = new List<string>();
        // The suite's client acts for the platform: with consent rules in force a multi-page total is given when asked for.
        var url = "/Patient?_sort=_id&_count=2&_total=accurate";
        var pages = 0;
        while (url is not null && pages++ < 5)
        {
            var b = await (await _c.GetAsync(url)).JsonAsync();
            Assert.Equal(3, b.GetProperty("total").GetInt32());
            seen.AddRange(b.GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("resource").GetProperty("id").GetString()!));
            var links = b.GetProperty("link").EnumerateArray().ToDictionary(l => l.GetProperty("relation").GetString()!, l => l.GetProperty("url").GetString()!);
            if (pages == 2) Assert.True(links.ContainsKey("previous"));
            url = links.TryGetValue("next", out var next) ? new Uri(next).PathAndQuery : null;
        }
        Assert.Equal(["p1", "p2", "p3"], seen);
    }

    [FhirFact]
    public async Task Total_none_and_summary_count()
    {
        var b = await (await _c.GetAsync("/Patient?_total=none")).JsonAsync();
        Assert.False(b.TryGetProperty("total", out _));
        b = await (await _c.GetAsync("/Patient?_summary=count")).JsonAsync();
        Assert.Equal(3, b.GetProperty("total").GetInt32());
        Assert.False(b.TryGetProperty("entry", out _));
    }

    [FhirFact]
    public async Task Elements_and_summary_subset_the_resources()
    {
        var b = await (await _c.GetAsync("/Patient?_id=p1&_elements=gender")).JsonAsync();
        var p = b.GetProperty("entry")[0].GetProperty("resource");
        Assert.True(p.TryGetProperty("gender", out _));
        Assert.False(p.TryGetProperty("name", out _));
        Assert.Contains("SUBSETTED", p.GetProperty("meta").GetRawText());
        b = await (await _c.GetAsync("/Patient?_id=p1&_summary=true")).JsonAsync();
        Assert.True(b.GetProperty("entry")[0].GetProperty("resource").TryGetProperty("name", out _));
    }

    [FhirFact]
    public async Task Include_and_revinclude()
    {
        var b = await (await _c.GetAsync("/Observation?_id=o1&_include=Observation:subject")).JsonAsync();
        var entries = b.GetProperty("entry").EnumerateArray().Select(e => (e.GetProperty("resource").GetProperty("id").GetString(), e.GetProperty("search").GetProperty("mode").GetString())).ToList();
        Assert.Equal([("o1", "match"), ("p1", "include")], entries);
        b = await (await _c.GetAsync("/Patient?_id=p1&_revinclude=Observation:subject")).JsonAsync();
        var ids = b.GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("resource").GetProperty("id").GetString()).Order().ToList();
        Assert.Equal(["o1", "o2", "p1"], ids);
        Assert.Equal(1, b.GetProperty("total").GetInt32());
    }

    [FhirFact]
    public async Task Include_iterate_follows_included_resources()
    {
        var plain = await (await _c.GetAsync("/Observation?_id=o1&_include=Observation:subject&_include=Patient:organization")).JsonAsync();
        Assert.DoesNotContain("org1", plain.GetRawText().Replace("Organization/org1", ""));
        var b = await (await _c.GetAsync("/Observation?_id=o1&_include=Observation:subject&_include:iterate=Patient:organization")).JsonAsync();
        var ids = b.GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("resource").GetProperty("id").GetString()).ToList();
        Assert.Equal(["o1", "p1", "org1"], ids);
        var rev = await (await _c.GetAsync("/Organization?_id=org1&_revinclude=Patient:organization&_revinclude:iterate=Observation:subject")).JsonAsync();
        var revIds = rev.GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("resource").GetProperty("id").GetString()).Order().ToList();
        Assert.Equal(["o1", "o2", "org1", "p1"], revIds);
    }

    [FhirFact]
    public async Task Compartment_search()
    {
        await Expect("/Patient/p1/Observation", "o1", "o2");
        await Expect("/Patient/p1/Observation?date=gt2024-06-01", "o2");
        await Expect("/Patient/p1/RiskAssessment", "r1");
        Assert.Equal(HttpStatusCode.NotFound, (await _c.GetAsync("/Observation/o1/Patient")).StatusCode);
    }

    [FhirFact]
    public async Task Unknown_parameter_is_a_warning_when_lenient_and_400_when_strict()
    {
        var b = await (await _c.GetAsync("/Patient?nonsense=1&gender=male")).JsonAsync();
        var outcome = b.GetProperty("entry").EnumerateArray().Single(e => e.GetProperty("search").GetProperty("mode").GetString() == "outcome");
        Assert.Equal("warning", outcome.GetProperty("resource").GetProperty("issue")[0].GetProperty("severity").GetString());
        Assert.Equal(1, b.GetProperty("total").GetInt32());
        var strict = await _c.SendAsync(HttpMethod.Get, "/Patient?nonsense=1", null, ("Prefer", "handling=strict"));
        Assert.Equal(HttpStatusCode.BadRequest, strict.StatusCode);
        AssertOutcome(await strict.JsonAsync(), "nonsense");
    }

    [FhirFact]
    public async Task Bad_values_are_400()
    {
        Assert.Equal(HttpStatusCode.BadRequest, (await _c.GetAsync("/Patient?birthdate=notadate")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await _c.GetAsync("/RiskAssessment?probability=abc")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await _c.GetAsync("/Patient?_count=many")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await _c.GetAsync("/Patient?active:missing=maybe")).StatusCode);
    }

    [FhirFact]
    public async Task Post_search_with_form_parameters()
    {
        var r = await _c.PostAsync("/Patient/_search", new FormUrlEncodedContent([new("gender", "female"), new("_sort", "_id")]));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var b = await r.JsonAsync();
        Assert.Equal(["p2", "p3"], b.GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("resource").GetProperty("id").GetString()).ToList());
        var bad = await _c.PostAsync("/Patient/_search", Body("{}"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, bad.StatusCode);
    }

    [FhirFact]
    public async Task Search_as_xml()
    {
        var r = await _c.GetAsync("/Patient?_id=p1&_format=application/fhir%2Bxml");
        Assert.StartsWith(Xml, r.Content.Headers.ContentType!.ToString());
        var text = await r.Content.ReadAsStringAsync();
        Assert.Contains("<Bundle", text);
        Assert.Contains("<Patient", text);
    }
}

public sealed class SearchTests(SearchFixture fx) : SearchTestsBase<SearchFixture>(fx), IClassFixture<SearchFixture>;

public sealed class PostgresSearchTests(PostgresSearchFixture fx) : SearchTestsBase<PostgresSearchFixture>(fx), IClassFixture<PostgresSearchFixture>;

public sealed class PostgresSearchFixture : PostgresServerFixture
{
    public PostgresSearchFixture() => SearchData.Seed(Client);
}

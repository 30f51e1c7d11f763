using System.Net;
using System.Text.Json;
using FhirArchive.Rest.Access;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Rest.Tests;

/// <summary>The modifiers, composites, text, wildcard includes and $everything, over a fixed data set behind the test access policy.</summary>
public static class SearchFeatureData
{
    public const string Loinc = "http://loinc.org";
    public const string FamilyRelationship = "urn:oid:2.16.156.10011.2.3.3.8";
    public const string Sex = "urn:oid:2.16.156.10011.2.3.3.4";

    public static void AddPolicy(IServiceCollection s)
    {
        s.AddSingleton<TestAccessPolicy>();
        s.AddSingleton<IAccessPolicy>(sp => sp.GetRequiredService<TestAccessPolicy>());
    }

    public static void Seed(HttpClient c)
    {
        static string Bp(string id, string date, int sys, int dia, string extra = "") => $$$"""
            {"resourceType":"Observation","id":"{{{id}}}","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}],"text":"血压"},
             "subject":{"reference":"Patient/p1"},"effectiveDateTime":"{{{date}}}"{{{extra}}},
             "component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":{{{sys}}},"system":"http://unitsofmeasure.org","code":"mm[Hg]"}},
                          {"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":{{{dia}}},"system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}
            """;
        Task.Run(async () =>
        {
            await c.PutAsync("""{"resourceType":"Organization","id":"org1","name":"重庆医院"}""");
            await c.PutAsync("""{"resourceType":"Practitioner","id":"dr1","name":[{"family":"Chen"}]}""");
            await c.PutAsync("""{"resourceType":"Medication","id":"med1","code":{"text":"氨氯地平"}}""");
            await c.PutAsync("""
                {"resourceType":"Patient","id":"p1","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>张伟 高血压 随访记录</p></div>"},
                 "identifier":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]},"system":"urn:hosp","value":"MR-001"}],
                 "name":[{"family":"Zhang","given":["Wei"]}],"gender":"male","generalPractitioner":[{"reference":"Practitioner/dr1"}],"managingOrganization":{"reference":"Organization/org1"}}
                """);
            await c.PutAsync("""
                {"resourceType":"Patient","id":"p2","identifier":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"PPN"}]},"system":"urn:hosp","value":"MR-001"}],
                 "name":[{"family":"Wang"}],"gender":"female"}
                """);
            await c.PutAsync("""{"resourceType":"Patient","id":"p3","name":[{"family":"Li"}]}""");
            await c.PutAsync(Bp("bp1", "2024-03-01", 150, 85, ""","performer":[{"reference":"Practitioner/dr1"}]"""));
            await c.PutAsync(Bp("bp2", "2024-04-01", 120, 80));
            await c.PutAsync(Bp("s1", "2024-05-01", 200, 120, ""","meta":{"tag":[{"code":"secret"}]}"""));
            await c.PutAsync("""{"resourceType":"Observation","id":"w1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},"subject":{"reference":"Patient/p2"},"valueQuantity":{"value":70,"system":"http://unitsofmeasure.org","code":"kg"}}""");
            await c.PutAsync("""{"resourceType":"Observation","id":"dt1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"21112-8"}]},"subject":{"reference":"Patient/p1"},"valueDateTime":"2024-02-02"}""");
            await c.PutAsync("""{"resourceType":"Observation","id":"c1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"12345-6"}]},"subject":{"reference":"Patient/p2"},"valueCodeableConcept":{"coding":[{"system":"http://loinc.org","code":"LA6576-8"}]}}""");
            await c.PutAsync("""{"resourceType":"Observation","id":"sx1","status":"final","code":{"text":"sex"},"subject":{"reference":"Patient/p2"},"valueCodeableConcept":{"coding":[{"system":"urn:oid:2.16.156.10011.2.3.3.4","code":"2"}]}}""");
            await c.PutAsync("""{"resourceType":"Encounter","id":"e1","status":"finished","class":{"code":"AMB"},"subject":{"reference":"Patient/p1"},"participant":[{"individual":{"reference":"Practitioner/dr1"}}],"serviceProvider":{"reference":"Organization/org1"}}""");
            await c.PutAsync("""{"resourceType":"MedicationRequest","id":"mr1","status":"active","intent":"order","medicationReference":{"reference":"Medication/med1"},"subject":{"reference":"Patient/p1"},"requester":{"reference":"Practitioner/dr1"}}""");
            await c.PutAsync("""{"resourceType":"RelatedPerson","id":"rp1","patient":{"reference":"Patient/p1"},"relationship":[{"coding":[{"system":"urn:oid:2.16.156.10011.2.3.3.8","code":"12"}]}]}""");
            await c.PutAsync("""{"resourceType":"RelatedPerson","id":"rp3","patient":{"reference":"Patient/p1"},"relationship":[{"coding":[{"system":"urn:oid:2.16.156.10011.2.3.3.8","code":"10"}]}]}""");
            await c.PutAsync("""{"resourceType":"RelatedPerson","id":"rp2","patient":{"reference":"Patient/p2"},"relationship":[{"coding":[{"system":"urn:oid:2.16.156.10011.2.3.3.8","code":"21"}]}]}""");
            await c.PutAsync("""{"resourceType":"ValueSet","id":"vsA","status":"active","url":"http://example.org/fhir/ValueSet/a"}""");
            await c.PutAsync("""{"resourceType":"ValueSet","id":"vsB","status":"active","url":"http://example.org/fhir/ValueSet/a/sub"}""");
            await c.PutAsync("""{"resourceType":"ValueSet","id":"vsC","status":"active","url":"http://example.org/fhirx/ValueSet/c"}""");
            await c.PutAsync("""{"resourceType":"QuestionnaireResponse","id":"qr1","status":"completed","questionnaire":"http://example.org/Questionnaire/q1|1.2"}""");
            await c.PutAsync("""{"resourceType":"QuestionnaireResponse","id":"qr2","status":"completed","questionnaire":"http://example.org/Questionnaire/q1|2.0"}""");
            await c.PutAsync("""{"resourceType":"QuestionnaireResponse","id":"qr3","status":"completed","questionnaire":"http://example.org/Questionnaire/q2"}""");
            await c.PutAsync("""{"resourceType":"List","id":"l1","status":"current","mode":"working","entry":[{"item":{"reference":"Patient/p2"}},{"item":{"reference":"Observation/w1"}}]}""");
        }).GetAwaiter().GetResult();
    }
}

public sealed class SearchFeatureFixture : ServerFixtureWith
{
    public SearchFeatureFixture() : base(null, SearchFeatureData.AddPolicy) => SearchFeatureData.Seed(Client);
}

public sealed class PostgresSearchFeatureFixture : PostgresServerFixture
{
    public PostgresSearchFeatureFixture() : base(null, SearchFeatureData.AddPolicy) => SearchFeatureData.Seed(Client);
}

public abstract class SearchFeatureTestsBase<TFixture>(TFixture fx) where TFixture : ServerFixture
{
    private readonly HttpClient _c = fx.Client;
    private static readonly (string, string) Strict = ("Prefer", "handling=strict");

    private async Task Expect(string url, params string[] ids) => Assert.Equal(ids.Order(), (await _c.SearchIdsAsync(url)).Order());

    private async Task ExpectStrict400(string url, string diagnostics)
    {
        var r = await _c.SendAsync(HttpMethod.Get, url, null, Strict);
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        AssertOutcome(await r.JsonAsync(), diagnostics);
    }

    private static string Warning(JsonElement bundle) =>
        bundle.GetProperty("entry").EnumerateArray().Single(e => e.GetProperty("search").GetProperty("mode").GetString() == "outcome")
            .GetProperty("resource").GetProperty("issue")[0].GetProperty("diagnostics").GetString()!;

    private static List<(string Id, string Mode)> Entries(JsonElement bundle) =>
        bundle.TryGetProperty("entry", out var e)
            ? e.EnumerateArray().Where(x => x.TryGetProperty("resource", out var r) && r.GetProperty("resourceType").GetString() != "OperationOutcome")
                .Select(x => (x.GetProperty("resource").GetProperty("id").GetString()!, x.GetProperty("search").GetProperty("mode").GetString()!)).ToList()
            : [];

    private static string? Link(JsonElement bundle, string relation) =>
        bundle.GetProperty("link").EnumerateArray().Where(l => l.GetProperty("relation").GetString() == relation)
            .Select(l => new Uri(l.GetProperty("url").GetString()!).PathAndQuery).FirstOrDefault();

    // Composite parameters: the components must match within one element.
    [FhirFact] public Task Composite_component_code_and_value() => Expect("/Observation?component-code-value-quantity=http://loinc.org|8480-6$gt140", "bp1");
    [FhirFact] public Task Composite_values_correlate_within_one_component() => Expect("/Observation?component-code-value-quantity=http://loinc.org|8480-6$85");
    [FhirFact] public Task Composite_other_component() => Expect("/Observation?component-code-value-quantity=http://loinc.org|8462-4$85", "bp1");
    [FhirFact] public Task Composite_or_values() => Expect("/Observation?component-code-value-quantity=http://loinc.org|8480-6$lt130,http://loinc.org|8462-4$ge85", "bp1", "bp2");
    [FhirFact] public Task Composite_and_values() => Expect("/Observation?component-code-value-quantity=8480-6$gt100&component-code-value-quantity=8462-4$lt82", "bp2");
    [FhirFact] public Task Composite_code_value_quantity_with_unit() => Expect("/Observation?code-value-quantity=http://loinc.org|29463-7$gt60|http://unitsofmeasure.org|kg", "w1");
    [FhirFact] public Task Composite_code_value_quantity_wrong_code() => Expect("/Observation?code-value-quantity=http://loinc.org|8480-6$70");
    [FhirFact] public Task Composite_code_value_date() => Expect("/Observation?code-value-date=http://loinc.org|21112-8$2024-02", "dt1");
    [FhirFact] public Task Composite_code_value_date_outside() => Expect("/Observation?code-value-date=http://loinc.org|21112-8$lt2024");
    [FhirFact] public Task Composite_code_value_concept() => Expect("/Observation?code-value-concept=http://loinc.org|12345-6$http://loinc.org|LA6576-8", "c1");
    [FhirFact] public Task Composite_combo_code_value_concept() => Expect("/Observation?combo-code-value-concept=12345-6$LA6576-8", "c1");
    [FhirFact] public Task Composite_missing() => Expect("/Observation?code-value-date:missing=false", "dt1");
    [FhirFact] public Task Composite_with_wrong_number_of_parts_is_400() => ExpectStrict400("/Observation?code-value-quantity=8480-6", "2 parts");

    // Token subsumption through the terminology service (GB/T 4761 family relationships: 10 配偶 ⊃ 11 夫, 12 妻).
    [FhirFact] public Task Token_below() => Expect("/RelatedPerson?relationship:below=urn:oid:2.16.156.10011.2.3.3.8|10", "rp1", "rp3");
    [FhirFact] public Task Token_below_other_branch() => Expect("/RelatedPerson?relationship:below=urn:oid:2.16.156.10011.2.3.3.8|20", "rp2");
    [FhirFact] public Task Token_above() => Expect("/RelatedPerson?relationship:above=urn:oid:2.16.156.10011.2.3.3.8|11", "rp3");

    [FhirFact]
    public async Task Token_below_without_hierarchy_is_400_strict_and_exact_with_a_warning_lenient()
    {
        await ExpectStrict400("/Observation?value-concept:below=urn:oid:2.16.156.10011.2.3.3.4|2", "no hierarchy");
        var b = await (await _c.GetAsync("/Observation?value-concept:below=urn:oid:2.16.156.10011.2.3.3.4|2")).JsonAsync();
        Assert.Equal([("sx1", "match")], Entries(b));
        Assert.Contains("matched the code exactly", Warning(b));
        await ExpectStrict400("/RelatedPerson?relationship:below=urn:nowhere|1", "not known");
    }

    // Value-set membership: a Chinese value set, and a base R4 one over bare codes.
    [FhirFact] public Task Token_in_chinese_value_set() => Expect("/Observation?value-concept:in=http://fhirarchive.cn/fhir/ValueSet/gbt-2261-1-sex", "sx1");
    [FhirFact] public Task Token_in_base_value_set_with_bare_codes() => Expect("/Patient?gender:in=http://hl7.org/fhir/ValueSet/administrative-gender", "p1", "p2");
    [FhirFact] public Task Token_not_in() => Expect("/Observation?value-concept:not-in=http://fhirarchive.cn/fhir/ValueSet/gbt-2261-1-sex", "bp1", "bp2", "w1", "dt1", "c1");

    [FhirFact]
    public async Task Token_in_a_value_set_that_cannot_be_expanded()
    {
        await ExpectStrict400("/Observation?code:in=http://example.org/ValueSet/unknown", "not known");
        var b = await (await _c.GetAsync("/Patient?gender=male&gender:in=http://example.org/ValueSet/unknown")).JsonAsync();
        Assert.Equal([("p1", "match")], Entries(b));
        Assert.Contains("ignored", Warning(b));
    }

    [FhirFact] public Task Token_of_type() => Expect("/Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|MR-001", "p1");
    [FhirFact] public Task Token_of_type_other_type() => Expect("/Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|PPN|MR-001", "p2");
    [FhirFact] public Task Token_of_type_needs_three_parts() => ExpectStrict400("/Patient?identifier:of-type=MR|MR-001", "type-system|type-code|value");

    // Uri and canonical: path and version prefixes.
    [FhirFact] public Task Uri_below() => Expect("/ValueSet?url:below=http://example.org/fhir", "vsA", "vsB");
    [FhirFact] public Task Uri_below_is_by_path_segment() => Expect("/ValueSet?url:below=http://example.org/fhir/ValueSet/a", "vsA", "vsB");
    [FhirFact] public Task Uri_above() => Expect("/ValueSet?url:above=http://example.org/fhir/ValueSet/a/sub/deeper", "vsA", "vsB");
    [FhirFact] public Task Uri_above_exact_leaf() => Expect("/ValueSet?url:above=http://example.org/fhir/ValueSet/a", "vsA");
    [FhirFact] public Task Canonical_below_any_version() => Expect("/QuestionnaireResponse?questionnaire:below=http://example.org/Questionnaire/q1", "qr1", "qr2");
    [FhirFact] public Task Canonical_below_version() => Expect("/QuestionnaireResponse?questionnaire:below=http://example.org/Questionnaire/q1|1", "qr1");
    [FhirFact] public Task Canonical_above_version() => Expect("/QuestionnaireResponse?questionnaire:above=http://example.org/Questionnaire/q1|1.2.5", "qr1");

    // Reference :[type].
    [FhirFact] public Task Reference_type_modifier_with_typed_value() => Expect("/Observation?subject:Patient=Patient/p2", "w1", "c1", "sx1");
    [FhirFact] public Task Reference_type_modifier_with_another_type_in_the_value_is_400() => ExpectStrict400("/Observation?subject:Patient=Group/p2", "not a Patient reference");
    [FhirFact] public Task Reference_type_modifier_must_be_a_target() => ExpectStrict400("/Observation?subject:Medication=med1", "not a target type");

    // _text, _content, _list.
    [FhirFact] public Task Text_searches_the_narrative() => Expect("/Patient?_text=高血压", "p1");
    [FhirFact] public Task Text_needs_every_word() => Expect("/Patient?_text=张伟 糖尿病");
    [FhirFact] public Task Content_searches_all_strings() => Expect("/Observation?_content=血压", "bp1", "bp2");
    [FhirFact] public Task Content_words_and_alternatives() => Expect("/Patient?_content=zhang wei,wang", "p1", "p2");
    [FhirFact] public Task List_members() => Expect("/Patient?_list=l1", "p2");
    [FhirFact] public Task List_members_of_another_type() => Expect("/Observation?_list=l1", "w1");

    [FhirFact]
    public async Task Include_and_revinclude_wildcards()
    {
        var b = await (await _c.GetAsync("/Observation?_id=bp1&_include=*")).JsonAsync();
        Assert.Equal([("bp1", "match"), ("dr1", "include"), ("p1", "include")], Entries(b).OrderBy(e => e.Item2 == "include").ThenBy(e => e.Item1).ToList());
        b = await (await _c.GetAsync("/Patient?_id=p2&_revinclude=*")).JsonAsync();
        Assert.Equal(["c1", "l1", "p2", "rp2", "sx1", "w1"], Entries(b).Select(e => e.Id).Order());
        b = await (await _c.GetAsync("/Patient?_id=p2&_revinclude=RelatedPerson:*")).JsonAsync();
        Assert.Equal(["p2", "rp2"], Entries(b).Select(e => e.Id).Order());
    }

    [FhirFact]
    public async Task Everything_returns_the_compartment_and_what_it_refers_to_through_the_access_policy()
    {
        var b = await (await _c.GetAsync("/Patient/p1/$everything")).JsonAsync();
        var entries = Entries(b);
        Assert.Equal(["bp1", "bp2", "dt1", "e1", "mr1", "p1", "rp1", "rp3"], entries.Where(e => e.Mode == "match").Select(e => e.Id).Order());
        Assert.Equal(["dr1", "med1", "org1"], entries.Where(e => e.Mode == "include").Select(e => e.Id).Order());
        Assert.DoesNotContain("s1", entries.Select(e => e.Id)); // hidden by the policy
        Assert.Equal("searchset", b.GetProperty("type").GetString());
    }

    [FhirFact]
    public async Task Everything_with_type_since_and_paging()
    {
        var b = await (await _c.GetAsync("/Patient/p1/$everything?_type=Observation,Practitioner")).JsonAsync();
        Assert.Equal([("bp1", "match"), ("bp2", "match"), ("dr1", "include"), ("dt1", "match")], Entries(b).OrderBy(e => e.Id).ToList());
        b = await (await _c.GetAsync("/Patient/p1/$everything?_since=2100-01-01T00:00:00Z")).JsonAsync();
        Assert.Equal(0, b.GetProperty("total").GetInt32());
        Assert.Empty(Entries(b));

        var matches = new List<string>();
        var includes = new HashSet<string>();
        string? url = "/Patient/p1/$everything?_count=3";
        for (var pages = 0; url is not null && pages < 10; pages++)
        {
            b = await (await _c.GetAsync(url)).JsonAsync();
            matches.AddRange(Entries(b).Where(e => e.Mode == "match").Select(e => e.Id));
            includes.UnionWith(Entries(b).Where(e => e.Mode == "include").Select(e => e.Id));
            url = Link(b, "next");
        }
        Assert.Equal(["bp1", "bp2", "dt1", "e1", "mr1", "p1", "rp1", "rp3"], matches.Order());
        Assert.Equal(["dr1", "med1", "org1"], includes.Order());
        Assert.Equal(HttpStatusCode.NotFound, (await _c.GetAsync("/Patient/nobody/$everything")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _c.GetAsync("/Patient/p1/$everything?_type=Nope")).StatusCode); // as for _type in search
        Assert.Equal(HttpStatusCode.BadRequest, (await _c.SendAsync(HttpMethod.Get, "/Patient/p1/$everything?start=2024", null, Strict)).StatusCode);
    }

    [FhirFact]
    public async Task Paging_links_stay_correct_while_resources_are_written()
    {
        var tag = Unique();
        foreach (var n in new[] { "b", "d", "f", "h", "j" })
            await _c.PutAsync($$"""{"resourceType":"Location","id":"{{tag}}-{{n}}","name":"{{tag}} {{n}}"}""");

        // Default order (keyset): an insert and an update between pages neither shift nor repeat.
        var b = await (await _c.GetAsync($"/Location?name={tag}&_count=2")).JsonAsync();
        var seen = Entries(b).Select(e => e.Id).ToList();
        await _c.PutAsync($$"""{"resourceType":"Location","id":"{{tag}}-a","name":"{{tag}} a"}""");
        await _c.PutAsync($$"""{"resourceType":"Location","id":"{{tag}}-b","name":"{{tag}} b","description":"changed"}""");
        for (var url = Link(b, "next"); url is not null; url = Link(b, "next"))
        {
            b = await (await _c.GetAsync(url)).JsonAsync();
            Assert.Equal(4, b.GetProperty("total").GetInt32()); // within the snapshot: the updated b now has a newer row
            seen.AddRange(Entries(b).Select(e => e.Id));
        }
        Assert.Equal([$"{tag}-b", $"{tag}-d", $"{tag}-f", $"{tag}-h", $"{tag}-j"], seen);

        // Sorted (offset within the snapshot): a resource inserted before the current page does not shift it.
        b = await (await _c.GetAsync($"/Location?name={tag}&_sort=name&_count=2")).JsonAsync();
        seen = Entries(b).Select(e => e.Id).ToList();
        await _c.PutAsync($$"""{"resourceType":"Location","id":"{{tag}}-0","name":"{{tag}} 0"}""");
        for (var url = Link(b, "next"); url is not null; url = Link(b, "next"))
        {
            b = await (await _c.GetAsync(url)).JsonAsync();
            Assert.NotNull(Link(b, "previous"));
            seen.AddRange(Entries(b).Select(e => e.Id));
        }
        Assert.Equal([$"{tag}-a", $"{tag}-b", $"{tag}-d", $"{tag}-f", $"{tag}-h", $"{tag}-j"], seen);
        Assert.Equal(7, (await _c.SearchIdsAsync($"/Location?name={tag}&_count=100")).Count); // a fresh search sees everything
        Assert.Equal(HttpStatusCode.BadRequest, (await _c.GetAsync($"/Location?_snapshot=x")).StatusCode);
    }

    [FhirFact]
    public async Task CapabilityStatement_lists_everything_and_composite_parameters()
    {
        var cs = await (await _c.GetAsync("/metadata")).JsonAsync();
        var resources = cs.GetProperty("rest")[0].GetProperty("resource").EnumerateArray().ToDictionary(r => r.GetProperty("type").GetString()!);
        var patientOps = resources["Patient"].GetProperty("operation").EnumerateArray().Select(o => o.GetProperty("name").GetString()).ToList();
        Assert.Contains("everything", patientOps);
        var obsParams = resources["Observation"].GetProperty("searchParam").EnumerateArray()
            .ToDictionary(p => p.GetProperty("name").GetString()!, p => p.GetProperty("type").GetString());
        Assert.Equal("composite", obsParams["component-code-value-quantity"]);
        Assert.Equal("composite", obsParams["code-value-date"]);
    }
}

public sealed class SearchFeatureTests(SearchFeatureFixture fx) : SearchFeatureTestsBase<SearchFeatureFixture>(fx), IClassFixture<SearchFeatureFixture>;

public sealed class PostgresSearchFeatureTests(PostgresSearchFeatureFixture fx) : SearchFeatureTestsBase<PostgresSearchFeatureFixture>(fx), IClassFixture<PostgresSearchFeatureFixture>;

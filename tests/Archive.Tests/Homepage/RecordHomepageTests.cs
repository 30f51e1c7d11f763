using System.Net;
using System.Text.Json;
using FhirArchive.Archive.Tests.Consent;
using Xunit;
using static FhirArchive.Archive.Tests.Consent.ConsentData;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Archive.Tests.Homepage;

/// <summary>
/// The record homepage (Patient/[id]/$summary): a document Bundle whose references all resolve, tags with their
/// evidence, the service timeline newest first and paged, and each caller's own view under the consent decision.
/// On the consent suite's world (its adult, holder, authorised hospital, stranger, guardian), with a few more records
/// of the adult: an allergy, a family history, a type 2 diabetes diagnosis whose evidence is schizophrenia (so labelled PSY by the server) and visits at three institutions.
/// </summary>
public abstract class RecordHomepageTestsBase<TFixture>(TFixture fx) : IAsyncLifetime where TFixture : ServerFixture
{
    private readonly HttpClient _c = fx.Client;
    private static readonly HashSet<object> Seeded = [];
    private static readonly SemaphoreSlim Gate = new(1, 1);

    public async Task InitializeAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (!Seeded.Add(fx)) return;
            await ((IConsentWorld)fx).SeedOnceAsync();
            foreach (var json in HomepageData) await Put(json);
        }
        finally
        {
            Gate.Release();
        }
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private async Task Put(string json)
    {
        var root = JsonDocument.Parse(json).RootElement;
        var url = $"/{root.GetProperty("resourceType").GetString()}/{root.GetProperty("id").GetString()}";
        var r = await _c.SendAsync(HttpMethod.Put, url, json, HolderClinician);
        Assert.True((int)r.StatusCode is 200 or 201, $"{url}: {await r.Content.ReadAsStringAsync()}");
    }

    private static string Visit(string id, string when, string org, string type, string problem) => $$$"""
        {"resourceType":"Encounter","id":"{{{id}}}","meta":{"source":"{{{org}}}"},"status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},
         "type":[{"text":"{{{type}}}"}],"reasonCode":[{"text":"{{{problem}}}"}],
         "subject":{"reference":"Patient/adult"},"period":{"start":"{{{when}}}"},"serviceProvider":{"reference":"{{{org}}}"}}
        """;

    private static readonly string[] HomepageData =
    [
        """{"resourceType":"AllergyIntolerance","id":"hp-allergy","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical","code":"active"}]},"code":{"text":"青霉素 / Penicillin"},"patient":{"reference":"Patient/adult"}}""",
        """
        {"resourceType":"FamilyMemberHistory","id":"hp-family","status":"completed","patient":{"reference":"Patient/adult"},
         "relationship":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-RoleCode","code":"FTH"}]},
         "condition":[{"code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10","code":"I10"}],"text":"高血压"}}]}
        """,
        $$$"""
        {"resourceType":"Condition","id":"hp-dm",
         "clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},
         "code":{"coding":[{"system":"{{{Icd10}}}","code":"E11.9"}],"text":"2型糖尿病"},"subject":{"reference":"Patient/adult"},
         "evidence":[{"code":[{"coding":[{"system":"{{{Icd10}}}","code":"F20.0"}],"text":"抗精神病药物治疗后"}]}]}
        """,
        """
        {"resourceType":"Coverage","id":"hp-coverage","status":"active","beneficiary":{"reference":"Patient/adult"},"payor":[{"reference":"Patient/adult"}],
         "type":{"coding":[{"system":"http://fhirarchive.cn/fhir/CodeSystem/cv07-10-003-payment-method","code":"01","display":"城镇职工基本医疗保险"}]}}
        """,
        """
        {"resourceType":"Observation","id":"hp-occupation","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"social-history"}]}],
         "code":{"coding":[{"system":"http://loinc.org","code":"11341-5"}],"text":"职业 / Occupation"},"subject":{"reference":"Patient/adult"},
         "valueCodeableConcept":{"coding":[{"system":"http://fhirarchive.cn/fhir/CodeSystem/gbt-6565-occupation","code":"2","display":"专业技术人员"}]}}
        """,
        """
        {"resourceType":"DiagnosticReport","id":"hp-report","status":"final","code":{"text":"血常规 / Complete blood count"},
         "subject":{"reference":"Patient/adult"},"encounter":{"reference":"Encounter/hp-enc-2025"}}
        """,
        """
        {"resourceType":"ChargeItem","id":"hp-charge","status":"billed","code":{"text":"门诊诊查费"},"subject":{"reference":"Patient/adult"},
         "context":{"reference":"Encounter/hp-enc-2025"},"priceOverride":{"value":128.5,"currency":"CNY"}}
        """,
        Visit("hp-enc-2024", "2024-03-01T09:00:00+08:00", Holder, "高血压随访", "高血压"),
        Visit("hp-enc-2025", "2025-06-15T10:00:00+08:00", Hospital, "门诊", "头晕"),
        Visit("hp-enc-2026", "2026-01-20", Stranger, "健康体检", "体检"),
    ];

    private async Task<(HttpResponseMessage Response, string Body)> SummaryAsync((string, string) caller, string query = "", string patient = "adult")
    {
        var r = await _c.SendAsync(HttpMethod.Get, $"/Patient/{patient}/$summary{query}", null, caller);
        return (r, await r.Content.ReadAsStringAsync());
    }

    private async Task<JsonElement> DocumentAsync((string, string) caller, string query = "")
    {
        var (r, body) = await SummaryAsync(caller, query);
        Assert.True(r.StatusCode == HttpStatusCode.OK, body);
        return JsonDocument.Parse(body).RootElement;
    }

    private static List<JsonElement> Entries(JsonElement bundle) => [.. bundle.GetProperty("entry").EnumerateArray()];

    private static JsonElement Section(JsonElement composition, string code) =>
        composition.GetProperty("section").EnumerateArray().Single(s => s.GetProperty("code").GetProperty("coding")[0].GetProperty("code").GetString() == code);

    private static List<JsonElement> Resolve(JsonElement bundle, JsonElement section) =>
        section.TryGetProperty("entry", out var es)
            ? [.. es.EnumerateArray().Select(e => Entries(bundle).Single(x => x.GetProperty("fullUrl").GetString() == e.GetProperty("reference").GetString()).GetProperty("resource"))]
            : [];

    private static List<string> Ids(JsonElement bundle) =>
        [.. Entries(bundle).Select(e => e.GetProperty("resource")).Where(r => r.TryGetProperty("id", out _))
            .Select(r => $"{r.GetProperty("resourceType").GetString()}/{r.GetProperty("id").GetString()}")];

    private static Dictionary<string, List<string>> Tags(JsonElement bundle) =>
        Resolve(bundle, Section(Entries(bundle)[0].GetProperty("resource"), "health-tags")).ToDictionary(
            f => f.GetProperty("code").GetProperty("coding")[0].GetProperty("code").GetString()!,
            f => f.GetProperty("extension").EnumerateArray().Select(x => Tail(x.GetProperty("valueReference").GetProperty("reference").GetString()!)).ToList());

    /// <summary>"Type/id" of a reference or full URL.</summary>
    private static string Tail(string url) => string.Join("/", url.Split('/')[^2..]);

    /// <summary>Every reference anywhere in the Bundle's entries names one of its entries (by fullUrl, or a relative Type/id under it).</summary>
    private static void AssertReferencesResolve(JsonElement bundle)
    {
        var fullUrls = Entries(bundle).Select(e => e.GetProperty("fullUrl").GetString()!).ToList();
        foreach (var reference in References(bundle.GetProperty("entry")))
            Assert.True(fullUrls.Contains(reference) || fullUrls.Any(u => u.EndsWith("/" + reference, StringComparison.Ordinal)), $"{reference} does not resolve in the Bundle");
    }

    private static bool Redacted(JsonElement bundle) =>
        bundle.GetProperty("meta").TryGetProperty("security", out var s) && s.EnumerateArray().Any(l => l.GetProperty("code").GetString() == "REDACTED");

    private static IEnumerable<string> References(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => e.EnumerateObject().SelectMany(p =>
            p.Name == "reference" && p.Value.ValueKind == JsonValueKind.String ? [p.Value.GetString()!] : References(p.Value)),
        JsonValueKind.Array => e.EnumerateArray().SelectMany(References),
        _ => [],
    };

    [FhirFact]
    public async Task The_homepage_is_a_document_Bundle_whose_Composition_comes_first_and_every_reference_resolves()
    {
        var bundle = await DocumentAsync(HolderClinician);
        Assert.Equal("Bundle", bundle.GetProperty("resourceType").GetString());
        Assert.Equal("document", bundle.GetProperty("type").GetString());
        Assert.Equal("urn:ietf:rfc:3986", bundle.GetProperty("identifier").GetProperty("system").GetString());
        Assert.StartsWith("urn:uuid:", bundle.GetProperty("identifier").GetProperty("value").GetString());
        Assert.True(DateTimeOffset.TryParse(bundle.GetProperty("timestamp").GetString(), out _));
        var entries = Entries(bundle);
        var composition = entries[0].GetProperty("resource");
        Assert.Equal("Composition", composition.GetProperty("resourceType").GetString());
        Assert.Equal("http://fhirarchive.cn/fhir/StructureDefinition/cn-record-homepage", composition.GetProperty("meta").GetProperty("profile")[0].GetString());
        Assert.Equal("final", composition.GetProperty("status").GetString());
        var types = composition.GetProperty("type").GetProperty("coding").EnumerateArray().Select(c => c.GetProperty("code").GetString()).ToList();
        Assert.Equal(["60591-5", "homepage"], types);
        Assert.Equal("居民电子健康档案首页 / Record homepage", composition.GetProperty("title").GetString());
        Assert.EndsWith("/Patient/adult", composition.GetProperty("subject").GetProperty("reference").GetString());
        Assert.EndsWith("/" + Holder, composition.GetProperty("author")[0].GetProperty("reference").GetString());
        Assert.EndsWith("/" + Holder, composition.GetProperty("custodian").GetProperty("reference").GetString());
        Assert.Equal(["health-tags", "basic-information", "service-timeline"],
            composition.GetProperty("section").EnumerateArray().Select(s => s.GetProperty("code").GetProperty("coding")[0].GetProperty("code").GetString()));
        Assert.All(composition.GetProperty("section").EnumerateArray(), s => Assert.Contains("xhtml", s.GetProperty("text").GetProperty("div").GetString()));

        // Every entry has a distinct fullUrl; every reference anywhere in the Bundle names one of them.
        var fullUrls = entries.Select(e => e.GetProperty("fullUrl").GetString()!).ToList();
        Assert.Equal(fullUrls.Count, fullUrls.Distinct().Count());
        AssertReferencesResolve(bundle);

        // Basic health information: the Patient, the holder, the family doctor; allergies, past and family history (LOINC).
        var basic = Section(composition, "basic-information");
        var basicIds = Resolve(bundle, basic).Select(r => $"{r.GetProperty("resourceType").GetString()}/{r.GetProperty("id").GetString()}").ToList();
        Assert.Equal(["Patient/adult", Holder], basicIds);
        var sections = basic.GetProperty("section").EnumerateArray().ToDictionary(s => s.GetProperty("code").GetProperty("coding")[0].GetProperty("code").GetString()!);
        var sub = sections.ToDictionary(kv => kv.Key, kv => Resolve(bundle, kv.Value).Select(r => r.GetProperty("id").GetString()).ToList());
        string Narrative(string code) => sections[code].GetProperty("text").GetProperty("div").GetString()!;
        Assert.Equal(["record-creation", "family-doctor-contract", "29762-2", "emergency-contact", "48768-6", "48765-2", "11348-0", "10157-6"], sections.Keys);
        // Record creation: the Provenance of the Patient's creation (by the holder's administrator) and its institution.
        Assert.Equal([Holder.Split('/')[1]], sub["record-creation"]);
        Assert.Matches(@"建档日期 / date: \d{4}-\d\d-\d\dT", Narrative("record-creation"));
        Assert.Contains("建档机构 / institution: " + Holder, Narrative("record-creation"));
        Assert.Equal(["fd"], sub["family-doctor-contract"]);
        Assert.Equal(["hp-occupation"], sub["29762-2"]);
        Assert.Contains("专业技术人员", Narrative("29762-2"));
        Assert.Equal(["hp-coverage"], sub["48768-6"]);
        Assert.Contains("城镇职工基本医疗保险", Narrative("48768-6"));
        Assert.Contains("无记录 / None recorded", Narrative("emergency-contact"));
        Assert.Equal(["hp-allergy"], sub["48765-2"]);
        Assert.Equal(["cond-adult-hiv", "cond-adult-psy", "hp-dm"], sub["11348-0"].Order());
        Assert.Equal(["hp-family"], sub["10157-6"]);
        // The holder sees the whole record: nothing withheld, no label.
        Assert.False(Redacted(bundle));
    }

    [FhirFact]
    public async Task The_document_and_its_Composition_validate_against_the_core_rules_and_the_homepage_profile()
    {
        var (r, body) = await SummaryAsync(HolderClinician);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var composition = Entries(JsonDocument.Parse(body).RootElement)[0].GetProperty("resource").GetRawText();
        foreach (var (type, json) in new[] { ("Bundle", body), ("Composition", composition) })
        {
            var outcome = await (await _c.SendAsync(HttpMethod.Post, $"/{type}/$validate", json)).JsonAsync();
            var errors = outcome.GetProperty("issue").EnumerateArray().Where(i => i.GetProperty("severity").GetString() is "error" or "fatal").Select(i => i.GetRawText()).ToList();
            Assert.True(errors.Count == 0, $"{type}: {string.Join("\n", errors)}");
        }
        // The profile is what is checked: without the custodian it requires, the Composition fails.
        var node = System.Text.Json.Nodes.JsonNode.Parse(composition)!.AsObject();
        node.Remove("custodian");
        var refused = await (await _c.SendAsync(HttpMethod.Post, "/Composition/$validate", node.ToJsonString())).JsonAsync();
        Assert.Contains(refused.GetProperty("issue").EnumerateArray(), i => i.GetProperty("severity").GetString() == "error" && i.GetRawText().Contains("custodian"));
    }

    [FhirFact]
    public async Task Tags_are_derived_from_the_record_and_name_their_evidence()
    {
        var bundle = await DocumentAsync(HolderClinician);
        var tags = Tags(bundle);
        Assert.Equal(["Patient/adult"], tags["hypertension"]); // the Patient's key-population extension
        Assert.Equal(["Condition/hp-dm"], tags["diabetes-t2"]);
        var flag = Resolve(bundle, Section(Entries(bundle)[0].GetProperty("resource"), "health-tags"))
            .Single(f => f.GetProperty("code").GetProperty("coding")[0].GetProperty("code").GetString() == "diabetes-t2");
        Assert.Equal("Flag", flag.GetProperty("resourceType").GetString());
        Assert.False(flag.TryGetProperty("id", out _)); // generated, not stored
        Assert.Equal("2型糖尿病 / Type 2 diabetes", flag.GetProperty("code").GetProperty("text").GetString());
        Assert.Contains("Condition/hp-dm", Ids(bundle)); // the evidence is in the Bundle
    }

    [FhirFact]
    public async Task The_timeline_lists_the_services_newest_first_labelled_with_their_institution_and_is_paged()
    {
        List<JsonElement> Items(JsonElement b) => Resolve(b, Section(Entries(b)[0].GetProperty("resource"), "service-timeline"));
        List<string> Timeline(JsonElement b) => [.. Items(b).Where(r => r.GetProperty("resourceType").GetString() == "Encounter").Select(r => r.GetProperty("id").GetString()!)];
        var all = await DocumentAsync(HolderClinician);
        Assert.Equal(["hp-enc-2026", "hp-enc-2025", "hp-enc-2024", "enc-adult"], Timeline(all)); // no time: last
        var text = Section(Entries(all)[0].GetProperty("resource"), "service-timeline").GetProperty("text").GetProperty("div").GetString()!;
        Assert.Contains(Stranger, text); // the institution's name (here its reference) and the source
        Assert.Contains("健康体检", text);
        Assert.Contains("头晕", text);
        // A visit's reports and its cost: the 2025 visit had a blood count and a charge of 128.50 yuan, both in the Bundle.
        Assert.True(text.Contains("血常规 / Complete blood count"), text);
        Assert.Contains("128.50 元", text);
        Assert.Equal(["hp-report", "hp-charge"], Items(all).Where(r => r.GetProperty("resourceType").GetString() != "Encounter").Select(r => r.GetProperty("id").GetString()));
        Assert.True(text.IndexOf("2026-01-20", StringComparison.Ordinal) < text.IndexOf("2025-06-15", StringComparison.Ordinal));
        // Each listed institution is in the Bundle.
        foreach (var org in new[] { Holder, Hospital, Stranger }) Assert.Contains(org, Ids(all));
        Assert.False(all.TryGetProperty("link", out _));

        var first = await DocumentAsync(HolderClinician, "?_count=2");
        Assert.Equal(["hp-enc-2026", "hp-enc-2025"], Timeline(first));
        Assert.DoesNotContain("Encounter/hp-enc-2024", Ids(first));
        var next = first.GetProperty("link").EnumerateArray().Single(l => l.GetProperty("relation").GetString() == "next").GetProperty("url").GetString()!;
        Assert.Contains("timelineOffset=2", next);
        var r = await _c.SendAsync(HttpMethod.Get, new Uri(next).PathAndQuery, null, HolderClinician);
        var second = await r.JsonAsync();
        Assert.Equal(["hp-enc-2024", "enc-adult"], Timeline(second));
        Assert.False(second.TryGetProperty("link", out _));
        // POST with a Parameters body alike.
        var posted = await _c.SendAsync(HttpMethod.Post, "/Patient/adult/$summary", Params(("_count", "Integer", "1"), ("timelineOffset", "Integer", "1")), HolderClinician);
        Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
        Assert.Equal(["hp-enc-2025"], Timeline(await posted.JsonAsync()));
    }

    [FhirFact]
    public async Task The_resident_the_guardian_and_an_authorised_clinician_see_their_own_view_without_hidden_data_or_tags_derived_from_it()
    {
        foreach (var caller in new[] { AdultResident, Guardian, AuthorisedDoctor })
        {
            var (r, body) = await SummaryAsync(caller);
            Assert.True(r.StatusCode == HttpStatusCode.OK, $"{caller}: {body}");
            var bundle = JsonDocument.Parse(body).RootElement;
            var ids = Ids(bundle);
            Assert.Contains("Patient/adult", ids);
            Assert.Contains("AllergyIntolerance/hp-allergy", ids);
            Assert.Contains("Encounter/hp-enc-2025", ids);
            // Mental-health and HIV data are neither shown, cited nor used for a tag (looked for outside the random
            // bytes of the signature, where "E11" may occur by chance).
            var signature = bundle.GetProperty("signature").GetProperty("data").GetString()!;
            foreach (var hidden in new[] { "cond-adult-psy", "cond-adult-hiv", "hp-dm", "F20", "B20", "E11", "\"SMD\"", "精神", "糖尿病" })
                Assert.DoesNotContain(hidden, body.Replace(signature, ""));
            var tags = Tags(bundle);
            Assert.False(tags.ContainsKey("diabetes-t2"));
            Assert.Equal(["Patient/adult"], tags["hypertension"]);
            Assert.True(Redacted(bundle), $"{caller}: something was withheld, the Bundle says so");
            AssertReferencesResolve(bundle);
        }
        // Audited as an operation on the record: what was shown, and what was withheld from the authorised clinician with the reason.
        var events = (await (await _c.SendAsync(HttpMethod.Get, "/AuditEvent?patient=Patient/adult&_count=200", null, TestCallers.Auditor)).JsonAsync())
            .GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("resource"))
            .Where(e => e.GetProperty("subtype").EnumerateArray().Any(s => s.GetProperty("code").GetString()!.Contains("summary"))
                        && e.GetRawText().Contains("Practitioner/doc")).ToList();
        Assert.NotEmpty(events);
        Assert.Contains(events, e => e.GetRawText().Contains("deny Condition/hp-dm: severe-mental-disorder") && e.GetRawText().Contains("Encounter/hp-enc-2025/_history/1"));
    }

    [FhirFact]
    public async Task A_tag_rule_that_names_its_search_finds_its_evidence_among_many_Observations_and_the_page_brings_its_own_reports()
    {
        // A record of its own: a pregnancy status (the pregnant rule names the search code=LOINC 82810-3), 30 blood
        // pressures the rules do not read, and two visits, each with a report; the timeline's page holds one visit.
        var id = "hp-mother-" + Unique();
        await Put($$$"""{"resourceType":"Patient","id":"{{{id}}}","birthDate":"1995-02-01","gender":"female","managingOrganization":{"reference":"{{{Holder}}}"}}""");
        await Put($$$"""
            {"resourceType":"Observation","id":"{{{id}}}-preg","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"82810-3"}]},
             "subject":{"reference":"Patient/{{{id}}}"},"valueCodeableConcept":{"coding":[{"system":"http://snomed.info/sct","code":"77386006"}]}}
            """);
        for (var i = 0; i < 30; i++)
            await Put($$$"""{"resourceType":"Observation","id":"{{{id}}}-bp{{{i}}}","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"subject":{"reference":"Patient/{{{id}}}"},"valueQuantity":{"value":{{{110 + i}}},"unit":"mmHg"}}""");
        foreach (var (visit, when) in new[] { ("v1", "2025-01-10"), ("v2", "2026-02-20") })
        {
            await Put($$$"""{"resourceType":"Encounter","id":"{{{id}}}-{{{visit}}}","status":"finished","class":{"code":"AMB"},"type":[{"text":"产前随访"}],"subject":{"reference":"Patient/{{{id}}}"},"period":{"start":"{{{when}}}"},"serviceProvider":{"reference":"{{{Holder}}}"}}""");
            await Put($$$"""{"resourceType":"DiagnosticReport","id":"{{{id}}}-{{{visit}}}-us","status":"final","code":{"text":"B超 {{{visit}}}"},"subject":{"reference":"Patient/{{{id}}}"},"encounter":{"reference":"Encounter/{{{id}}}-{{{visit}}}"}}""");
        }

        var r = await _c.SendAsync(HttpMethod.Get, $"/Patient/{id}/$summary?_count=1", null, HolderClinician);
        var bundle = await r.JsonAsync();
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal([$"Observation/{id}-preg"], Tags(bundle)["pregnant"]);
        var ids = Ids(bundle);
        Assert.DoesNotContain(ids, x => x.StartsWith($"Observation/{id}-bp", StringComparison.Ordinal)); // read by no part of the homepage
        Assert.Contains($"DiagnosticReport/{id}-v2-us", ids); // the newest visit's report, on the page
        Assert.DoesNotContain($"DiagnosticReport/{id}-v1-us", ids); // the other visit's is on the next page, with it
        AssertReferencesResolve(bundle);
        var next = bundle.GetProperty("link")[0].GetProperty("url").GetString()!;
        var second = await (await _c.SendAsync(HttpMethod.Get, new Uri(next).PathAndQuery, null, HolderClinician)).JsonAsync();
        Assert.Contains($"DiagnosticReport/{id}-v1-us", Ids(second));
    }

    [FhirFact]
    public async Task A_caller_who_may_not_read_the_Patient_gets_the_read_s_404_and_bad_input_a_4xx_outcome()
    {
        var read = await _c.SendAsync(HttpMethod.Get, "/Patient/adult", null, StrangerDoctor);
        var (summary, body) = await SummaryAsync(StrangerDoctor);
        Assert.Equal(HttpStatusCode.NotFound, read.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, summary.StatusCode);
        Assert.Equal((await read.JsonAsync()).GetProperty("issue")[0].GetProperty("diagnostics").GetString(),
            JsonDocument.Parse(body).RootElement.GetProperty("issue")[0].GetProperty("diagnostics").GetString());
        Assert.DoesNotContain("1970-01-01", body);
        var (missing, _) = await SummaryAsync(HolderClinician, patient: "no-such-" + Unique());
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);

        foreach (var query in new[] { "?_count=0", "?_count=abc", "?_count=-1", "?timelineOffset=-1", "?timelineOffset=x" })
        {
            var (r, text) = await SummaryAsync(HolderClinician, query);
            Assert.True(r.StatusCode == HttpStatusCode.BadRequest, $"{query}: {r.StatusCode} {text}");
            AssertOutcome(JsonDocument.Parse(text).RootElement);
        }
        var notParameters = await _c.SendAsync(HttpMethod.Post, "/Patient/adult/$summary", """{"resourceType":"Patient"}""", HolderClinician);
        Assert.True((int)notParameters.StatusCode is >= 400 and < 500, notParameters.StatusCode.ToString());
        AssertOutcome(await notParameters.JsonAsync());
    }
}

public sealed class RecordHomepageTests(ConsentFixture fx) : RecordHomepageTestsBase<ConsentFixture>(fx), IClassFixture<ConsentFixture>;
public sealed class PostgresRecordHomepageTests(PostgresConsentFixture fx) : RecordHomepageTestsBase<PostgresConsentFixture>(fx), IClassFixture<PostgresConsentFixture>;

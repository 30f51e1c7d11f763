using System.Net;
using System.Text.Json;
using FhirArchive.Archive.Tests.Records;
using FhirArchive.Archive.Tests.Transfer;
using FhirArchive.Rest.Access;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Archive.Tests.OffSite;

/// <summary>
/// Off-site service (annex 1 五): a non-holding institution's limited view of a key-population resident, nothing more
/// on any other path, the push of its service records to the holder until acknowledged, and the warning on a second
/// once-a-year free service. On the transfer suite's fixture (record rules, consent rules, a clock the test moves).
/// </summary>
public abstract class OffSiteTestsBase<TFixture>(TFixture fx) : RecordTestsBase<TFixture>(fx) where TFixture : ServerFixture
{
    private readonly ManualClock _clock = (ManualClock)fx.Factory.Services.GetRequiredService<TimeProvider>();

    private const string Serving = "Organization/os-fuling";
    private const string Health = "http://fhirarchive.cn/fhir/CodeSystem/public-health-service";
    private static readonly (string, string) OffSiteDoctor = TestCallers.As("os-dr", Roles.Clinician, org: Serving, practitioner: "Practitioner/os-dr");
    private static readonly (string, string) OffSiteNurse = TestCallers.As("os-fd", Roles.FamilyDoctor, org: Serving, practitioner: "Practitioner/os-fd");

    private async Task<string> ResidentAsync(string birthDate, string extra = "", (string, string)? who = null)
    {
        await EnsureInstitutionAsync();
        await C.PutAsync("""{"resourceType":"Organization","id":"os-fuling","name":"涪陵区敦仁街道社区卫生服务中心"}""");
        return await CreateRecordAsync(Residents.Patient(Residents.IdCardIdentifier(Residents.IdCard("female", birthDate)), name: "王秀英", gender: "female", birthDate: birthDate, extra: extra), who);
    }

    private static string Encounter(string patient, string when, string? service = null, string provider = "Organization/rec-chc", string typeText = "随访")
    {
        var coding = service is null ? "" : $$"""
            "coding":[{"system":"{{Health}}","code":"{{service}}"}],
            """;
        return $$$"""
            {"resourceType":"Encounter","status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},
             "type":[{{{{coding}}}"text":"{{{typeText}}}"}],
             "subject":{"reference":"Patient/{{{patient}}}"},"period":{"start":"{{{when}}}"},"serviceProvider":{"reference":"{{{provider}}}"}}
            """;
    }

    private static string Condition(string patient, string code) => $$$"""
        {"resourceType":"Condition","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},
         "code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10","code":"{{{code}}}"}]},"subject":{"reference":"Patient/{{{patient}}}"}}
        """;

    private async Task<string> CreateAsync(string type, string json, (string, string) who)
    {
        var r = await Send(HttpMethod.Post, "/" + type, json, who);
        Assert.True(r.StatusCode == HttpStatusCode.Created, await r.Content.ReadAsStringAsync());
        return (await r.JsonAsync()).GetProperty("id").GetString()!;
    }

    /// <summary>The summary for a resident staying here since <paramref name="monthsAgo"/> months before the test clock's day (China).</summary>
    private async Task<HttpResponseMessage> SummaryAsync(string patient, (string, string) who, int monthsAgo = 2) =>
        await Send(HttpMethod.Get, $"/Patient/{patient}/$offsite-summary?since={Since(monthsAgo)}", null, who);

    private string Since(int monthsAgo) =>
        DateOnly.FromDateTime(_clock.Now.ToOffset(TimeSpan.FromHours(8)).DateTime).AddMonths(-monthsAgo).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);

    private static IEnumerable<JsonElement> Params(JsonElement parameters, string name) =>
        parameters.GetProperty("parameter").EnumerateArray().Where(p => p.GetProperty("name").GetString() == name);

    private static JsonElement Part(JsonElement parameter, string name) =>
        parameter.GetProperty("part").EnumerateArray().First(p => p.GetProperty("name").GetString() == name);

    private async Task<List<JsonElement>> WorkListAsync(string patient, string status = "in-progress")
    {
        var r = await Send(HttpMethod.Get, $"/Communication?recipient={Org}&status={status}&subject=Patient/{patient}", null, Admin);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var b = await r.JsonAsync();
        return b.TryGetProperty("entry", out var e) ? [.. e.EnumerateArray().Select(x => x.GetProperty("resource"))] : [];
    }

    private static string Ref(JsonElement r, string element) =>
        (r.GetProperty(element).ValueKind == JsonValueKind.Array ? r.GetProperty(element)[0] : r.GetProperty(element)).GetProperty("reference").GetString()!;

    [FhirFact]
    public async Task A_key_population_resident_s_summary_shows_basic_information_tags_and_follow_ups_and_is_audited_as_off_site_service()
    {
        _clock.Now = new DateTimeOffset(2026, 6, 1, 2, 0, 0, TimeSpan.Zero);
        var patient = await ResidentAsync("1950-03-04");
        var followUp = await CreateAsync("Encounter", Encounter(patient, "2026-05-10T09:00:00+08:00", "hypertension-followup", typeText: "高血压患者随访"), Doctor);
        await CreateAsync("Observation", Residents.Observation(patient, "2026-05-10T09:05:00+08:00", "150"), Doctor);
        // A severe-mental-disorder follow-up (PSY): never in the summary.
        var smd = await CreateAsync("Encounter", """
            {"resourceType":"Encounter","status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"HH"},
             "type":[{"coding":[{"system":"http://fhirarchive.cn/fhir/CodeSystem/key-population","code":"SMD"}],"text":"严重精神障碍患者随访"}],
             "subject":{"reference":"Patient/PID"},"period":{"start":"2026-05-20T09:00:00+08:00"},"serviceProvider":{"reference":"Organization/rec-chc"}}
            """.Replace("PID", patient), Doctor);

        var r = await SummaryAsync(patient, OffSiteDoctor);
        var body = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.OK, body);
        var summary = JsonDocument.Parse(body).RootElement;
        Assert.Equal("Parameters", summary.GetProperty("resourceType").GetString());
        var basic = Params(summary, "patient").Single().GetProperty("resource");
        Assert.Equal(patient, basic.GetProperty("id").GetString());
        Assert.Equal("1950-03-04", basic.GetProperty("birthDate").GetString());
        var tag = Params(summary, "tag").Single();
        Assert.Equal("elderly", Part(tag, "code").GetProperty("valueCoding").GetProperty("code").GetString());
        Assert.Equal("老年人群 / Elderly (65+)", Part(tag, "display").GetProperty("valueString").GetString());
        Assert.Equal($"Patient/{patient}", Part(tag, "evidence").GetProperty("valueReference").GetProperty("reference").GetString());
        var visit = Params(summary, "followUp").Single();
        Assert.Equal("2026-05-10T09:00:00+08:00", Part(visit, "date").GetProperty("valueDateTime").GetString());
        Assert.Equal(Org, Part(visit, "institution").GetProperty("valueReference").GetProperty("reference").GetString());
        Assert.Equal("万州区高笋塘街道社区卫生服务中心", Part(visit, "institution").GetProperty("valueReference").GetProperty("display").GetString());
        Assert.Equal("hypertension-followup", Part(visit, "type").GetProperty("valueCodeableConcept").GetProperty("coding")[0].GetProperty("code").GetString());
        // Not their content: no values, no references to the records themselves, nothing of the SMD visit.
        Assert.DoesNotContain("150", body);
        Assert.DoesNotContain(followUp, body);
        Assert.DoesNotContain(smd, body);
        Assert.DoesNotContain("SMD", body);
        Assert.DoesNotContain("精神", body);
        var check = Params(summary, "freeService").Single(p => Part(p, "service").GetProperty("valueCoding").GetProperty("code").GetString() == "elderly-health-check");
        Assert.False(Part(check, "given").GetProperty("valueBoolean").GetBoolean());
        Assert.Equal(2026, Part(check, "year").GetProperty("valueInteger").GetInt32());

        // GET and POST alike; the audit names the purpose (local code) and the decision's reason.
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Post, $"/Patient/{patient}/$offsite-summary", $$"""{"resourceType":"Parameters","parameter":[{"name":"since","valueDate":"{{Since(1)}}"}]}""", OffSiteDoctor)).StatusCode);
        var events = (await (await Send(HttpMethod.Get, $"/AuditEvent?patient=Patient/{patient}&_count=100", null, TestCallers.Auditor)).JsonAsync())
            .GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("resource"))
            .Where(e => e.GetProperty("subtype").EnumerateArray().Any(s => s.GetProperty("code").GetString()!.Contains("offsite-summary"))).ToList();
        Assert.Equal(2, events.Count);
        foreach (var e in events)
        {
            var purpose = e.GetProperty("purposeOfEvent")[0].GetProperty("coding")[0];
            Assert.Equal("http://fhirarchive.cn/fhir/CodeSystem/purpose-of-use", purpose.GetProperty("system").GetString());
            Assert.Equal("offsite-service", purpose.GetProperty("code").GetString());
            Assert.Equal("0", e.GetProperty("outcome").GetString());
            var text = e.GetRawText();
            Assert.Contains("off-site service (purpose offsite-service)", text);
            Assert.Contains($"Encounter/{smd}", text); // the SMD visit: named as withheld (deny) for the auditor
        }
    }

    [FhirFact]
    public async Task The_off_site_clinician_gets_nothing_more_through_read_search_include_everything_history_or_batch()
    {
        _clock.Now = new DateTimeOffset(2026, 6, 2, 2, 0, 0, TimeSpan.Zero);
        var patient = await ResidentAsync("1948-01-01");
        var encounter = await CreateAsync("Encounter", Encounter(patient, "2026-05-10T09:00:00+08:00", "hypertension-followup"), Doctor);
        var observation = await CreateAsync("Observation", Residents.Observation(patient, "2026-05-10T09:05:00+08:00"), Doctor);
        Assert.Equal(HttpStatusCode.OK, (await SummaryAsync(patient, OffSiteDoctor)).StatusCode);
        // Having seen the summary opens nothing else.
        foreach (var url in new[]
                 {
                     $"/Patient/{patient}", $"/Patient/{patient}/_history", $"/Patient/{patient}/_history/1", $"/Observation/{observation}",
                     $"/Encounter/{encounter}", $"/Observation/{observation}/_history", $"/Patient/{patient}/$everything",
                 })
        {
            var r = await Send(HttpMethod.Get, url, null, OffSiteDoctor);
            if (r.StatusCode == HttpStatusCode.OK) Assert.DoesNotContain(observation, await r.Content.ReadAsStringAsync());
            else Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
        }
        foreach (var url in new[]
                 {
                     $"/Observation?subject=Patient/{patient}", $"/Encounter?patient={patient}", $"/Patient?_id={patient}",
                     $"/Patient?_id={patient}&_revinclude=Observation:subject&_revinclude=Encounter:subject",
                     $"/Observation?_id={observation}&_include=Observation:subject", $"/Encounter?_id={encounter}&_include=Encounter:subject",
                     $"/Patient/{patient}/Observation", "/Observation/_history", $"/Communication?subject=Patient/{patient}",
                 })
        {
            var r = await Send(HttpMethod.Get, url, null, OffSiteDoctor);
            var body = await r.Content.ReadAsStringAsync();
            Assert.True(r.StatusCode is HttpStatusCode.OK or HttpStatusCode.NotFound, $"{url}: {body}");
            var shown = JsonDocument.Parse(body).RootElement.TryGetProperty("entry", out var entries)
                ? entries.EnumerateArray().Where(e => e.TryGetProperty("resource", out _)).Select(e => e.GetProperty("resource").GetProperty("id").GetString()).ToList() : [];
            Assert.DoesNotContain(observation, shown);
            Assert.DoesNotContain(encounter, shown);
            Assert.DoesNotContain(patient, shown);
            Assert.DoesNotContain("1948-01-01", body);
        }
        var batch = $$$"""
            {"resourceType":"Bundle","type":"batch","entry":[
              {"request":{"method":"GET","url":"Patient/{{{patient}}}"}},{"request":{"method":"GET","url":"Observation/{{{observation}}}"}},
              {"request":{"method":"GET","url":"Observation?subject=Patient/{{{patient}}}"}},{"request":{"method":"GET","url":"Patient/{{{patient}}}/$everything"}}]}
            """;
        var answer = await Send(HttpMethod.Post, "/", batch, OffSiteDoctor);
        var text = await answer.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.DoesNotContain("\"resourceType\":\"Observation\"", text);
        Assert.DoesNotContain("\"resourceType\":\"Patient\"", text);
        Assert.DoesNotContain("1948-01-01", text);
        var statuses = JsonDocument.Parse(text).RootElement.GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("response").GetProperty("status").GetString()!).ToList();
        Assert.StartsWith("404", statuses[0]);
        Assert.StartsWith("404", statuses[1]);
    }

    [FhirFact]
    public async Task Residents_outside_the_key_populations_are_refused_clearly_classified_ones_and_unknown_ids_are_not_known()
    {
        _clock.Now = new DateTimeOffset(2026, 6, 3, 2, 0, 0, TimeSpan.Zero);
        var adult = await ResidentAsync("1985-07-07");
        // Refused as a missing record is (hidden looks missing), with an outcome that says why it may be so.
        var refused = await SummaryAsync(adult, OffSiteDoctor);
        Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
        var outcome = await refused.JsonAsync();
        Assert.Equal("OperationOutcome", outcome.GetProperty("resourceType").GetString());
        Assert.Contains("key population", Diagnostics(outcome));
        Assert.Contains("重点人群", Diagnostics(outcome));
        var missing = await (await SummaryAsync("no-such-record", OffSiteDoctor)).JsonAsync();
        Assert.Equal(Diagnostics(outcome).Replace(adult, "{ID}"), Diagnostics(missing).Replace("no-such-record", "{ID}"));

        // The same adult with hypertension on file (the holder's diagnosis) is one of them; the tag names the Condition.
        var htn = await CreateAsync("Condition", Condition(adult, "I10"), Doctor);
        var summary = await (await SummaryAsync(adult, OffSiteNurse)).JsonAsync();
        var tag = Params(summary, "tag").Single();
        Assert.Equal("hypertension", Part(tag, "code").GetProperty("valueCoding").GetProperty("code").GetString());
        Assert.Equal($"Condition/{htn}", Part(tag, "evidence").GetProperty("valueReference").GetProperty("reference").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await Send(HttpMethod.Get, $"/Condition/{htn}", null, OffSiteNurse)).StatusCode);

        // A classified elderly person: as unknown as a missing record, the holder still reads its own.
        var classified = await ResidentAsync("1940-02-02", ""","meta":{"security":[{"system":"http://fhirarchive.cn/fhir/CodeSystem/sensitivity","code":"classified"}]}""", Admin);
        Assert.Equal(HttpStatusCode.NotFound, (await SummaryAsync(classified, OffSiteDoctor)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SummaryAsync(classified, Doctor)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await SummaryAsync("no-such-record", OffSiteDoctor)).StatusCode);

        // Who may ask: staff of an institution, not a resident or a researcher; bad input is a 4xx outcome.
        var resident = TestCallers.As("res-os", Roles.Resident, patient: $"Patient/{classified}");
        Assert.Equal(HttpStatusCode.Forbidden, (await SummaryAsync(adult, resident)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await SummaryAsync(adult, TestCallers.As("rs", Roles.Researcher, org: Serving))).StatusCode);
        var bad = await Send(HttpMethod.Post, $"/Patient/{adult}/$offsite-summary", """{"resourceType":"Parameters","parameter":[{"name":"x","valueFoo":1}]}""", OffSiteDoctor);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("OperationOutcome", (await bad.JsonAsync()).GetProperty("resourceType").GetString());
    }

    [FhirFact]
    public async Task Off_site_service_is_for_a_stay_under_six_months()
    {
        _clock.Now = new DateTimeOffset(2026, 6, 5, 2, 0, 0, TimeSpan.Zero); // 2026-06-05 in China
        var elderly = await ResidentAsync("1945-03-03");
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Get, $"/Patient/{elderly}/$offsite-summary?since=2025-12-06", null, OffSiteDoctor)).StatusCode);
        // Six months or more: the resident lives here, the record is transferred instead (422), for a missing record alike.
        foreach (var patient in new[] { elderly, "no-such-record" })
        {
            var settled = await Send(HttpMethod.Get, $"/Patient/{patient}/$offsite-summary?since=2025-12-05", null, OffSiteDoctor);
            Assert.Equal(HttpStatusCode.UnprocessableEntity, settled.StatusCode);
            Assert.Contains("transfer-request", Diagnostics(await settled.JsonAsync()));
            // No day, a future day or no date at all: 400.
            foreach (var query in new[] { "", "?since=2026-06-06", "?since=June" })
                Assert.Equal(HttpStatusCode.BadRequest, (await Send(HttpMethod.Get, $"/Patient/{patient}/$offsite-summary{query}", null, OffSiteDoctor)).StatusCode);
        }
    }

    [FhirFact]
    public async Task An_upload_is_labelled_with_its_source_and_pushed_to_the_holder_until_the_holder_acknowledges_it()
    {
        _clock.Now = new DateTimeOffset(2026, 6, 4, 2, 0, 0, TimeSpan.Zero);
        var patient = await ResidentAsync("1952-09-09");
        var visit = await CreateAsync("Encounter", Encounter(patient, "2026-06-04T10:00:00+08:00", "hypertension-followup", Serving), OffSiteDoctor);
        var stored = await ReadAsync($"/Encounter/{visit}");
        Assert.Equal(Serving, stored.GetProperty("meta").GetProperty("source").GetString());

        var push = Assert.Single(await WorkListAsync(patient));
        Assert.Equal("in-progress", push.GetProperty("status").GetString());
        Assert.Equal("off-site-service", push.GetProperty("category")[0].GetProperty("coding")[0].GetProperty("code").GetString());
        Assert.Equal($"Encounter/{visit}", Ref(push, "about"));
        Assert.Equal($"Encounter/{visit}", push.GetProperty("payload")[0].GetProperty("contentReference").GetProperty("reference").GetString());
        Assert.Equal(Org, Ref(push, "recipient"));
        Assert.Equal(Serving, Ref(push, "sender"));
        Assert.Equal($"Patient/{patient}", Ref(push, "subject"));
        // The holder reads the pushed record and sees it in the resident's follow-ups.
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Get, $"/Encounter/{visit}", null, Doctor)).StatusCode);
        var summary = await (await SummaryAsync(patient, OffSiteDoctor)).JsonAsync();
        Assert.Equal(Serving, Part(Params(summary, "followUp").Single(), "institution").GetProperty("valueReference").GetProperty("reference").GetString());

        // Only the recipient acknowledges it, changing nothing but its status; it is never deleted.
        var id = push.GetProperty("id").GetString()!;
        var done = push.GetRawText().Replace("\"in-progress\"", "\"completed\"");
        Assert.Equal(HttpStatusCode.Forbidden, (await Send(HttpMethod.Put, $"/Communication/{id}", done, OffSiteDoctor)).StatusCode);
        var tampered = await Send(HttpMethod.Put, $"/Communication/{id}", done.Replace($"Encounter/{visit}", "Encounter/other"), Admin);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, tampered.StatusCode);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await Send(HttpMethod.Delete, $"/Communication/{id}", null, Admin)).StatusCode);
        var acknowledged = await Send(HttpMethod.Put, $"/Communication/{id}", done, Admin);
        Assert.True(acknowledged.StatusCode == HttpStatusCode.OK, await acknowledged.Content.ReadAsStringAsync());
        Assert.True((await acknowledged.JsonAsync()).TryGetProperty("received", out _));
        Assert.Empty(await WorkListAsync(patient));
        Assert.Single(await WorkListAsync(patient, "completed"));

        // The holder's own records are not pushed to itself.
        await CreateAsync("Observation", Residents.Observation(patient, "2026-06-04T11:00:00+08:00"), Doctor);
        Assert.Empty(await WorkListAsync(patient));
    }

    [FhirFact]
    public async Task A_transaction_upload_pushes_each_record_with_it_a_failed_one_pushes_nothing_and_a_patch_acknowledges()
    {
        _clock.Now = new DateTimeOffset(2026, 6, 5, 2, 0, 0, TimeSpan.Zero);
        var patient = await ResidentAsync("1955-05-05");
        string Bundle(string second) => $$$"""
            {"resourceType":"Bundle","type":"transaction","entry":[
              {"fullUrl":"urn:uuid:11111111-1111-1111-1111-111111111111","resource":{{{Encounter(patient, "2026-06-05T09:00:00+08:00", "elderly-tcm", Serving)}}},"request":{"method":"POST","url":"Encounter"}},
              {{{second}}}]}
            """;
        var obs = Residents.Observation(patient, "2026-06-05T09:10:00+08:00").Replace("\"status\":\"final\",", "\"status\":\"final\",\"encounter\":{\"reference\":\"urn:uuid:11111111-1111-1111-1111-111111111111\"},");
        // The second entry fails after the first was written (a second record of the same person): nothing stays, no push either.
        var card = (await ReadAsync($"/Patient/{patient}")).GetProperty("identifier").EnumerateArray()
            .Single(i => i.GetProperty("system").GetString() == "urn:oid:2.16.156.10011.1.3").GetProperty("value").GetString()!;
        var twin = Residents.Patient(Residents.IdCardIdentifier(card), name: "王秀英", gender: "female", birthDate: "1955-05-05", org: Serving);
        var failed = await Send(HttpMethod.Post, "/", Bundle($$$"""{"resource":{{{twin}}},"request":{"method":"POST","url":"Patient"}}"""), OffSiteDoctor);
        Assert.True((int)failed.StatusCode is >= 400 and < 500, await failed.Content.ReadAsStringAsync());
        Assert.Empty(await WorkListAsync(patient));

        var ok = await Send(HttpMethod.Post, "/", Bundle($$$"""{"resource":{{{obs}}},"request":{"method":"POST","url":"Observation"}}"""), OffSiteDoctor);
        Assert.True(ok.StatusCode == HttpStatusCode.OK, await ok.Content.ReadAsStringAsync());
        var written = (await ok.JsonAsync()).GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("response").GetProperty("location").GetString()!.Split("/_history")[0]).ToList();
        var pushes = await WorkListAsync(patient);
        Assert.Equal(written.Order(), pushes.Select(p => Ref(p, "about")).Order());

        // A follow-up questionnaire is pushed too; the holder acknowledges with a JSON Patch of the status alone.
        var answers = await CreateAsync("QuestionnaireResponse", $$$"""
            {"resourceType":"QuestionnaireResponse","status":"completed","subject":{"reference":"Patient/{{{patient}}}"},"authored":"2026-06-05T09:20:00+08:00",
             "item":[{"linkId":"smoking","text":"吸烟 / smoking","answer":[{"valueBoolean":false}]}]}
            """, OffSiteDoctor);
        var push = (await WorkListAsync(patient)).Single(p => Ref(p, "about") == $"QuestionnaireResponse/{answers}");
        var patch = new HttpRequestMessage(HttpMethod.Patch, $"/Communication/{push.GetProperty("id").GetString()}")
        {
            Content = new StringContent("""[{"op":"replace","path":"/status","value":"completed"}]""", System.Text.Encoding.UTF8, "application/json-patch+json"),
        };
        patch.Headers.TryAddWithoutValidation(Admin.Item1, Admin.Item2);
        var patched = await C.SendAsync(patch);
        Assert.True(patched.StatusCode == HttpStatusCode.OK, await patched.Content.ReadAsStringAsync());
        Assert.Equal(2, (await WorkListAsync(patient)).Count);
    }

    [FhirFact]
    public async Task A_second_free_service_of_a_kind_in_one_calendar_year_is_accepted_with_a_warning_never_silently()
    {
        _clock.Now = new DateTimeOffset(2026, 7, 1, 2, 0, 0, TimeSpan.Zero);
        var patient = await ResidentAsync("1949-12-12");
        var first = await Send(HttpMethod.Post, "/Encounter", Encounter(patient, "2026-03-01T09:00:00+08:00", "elderly-health-check"), Doctor);
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.False(first.Headers.Contains("Warning"));

        // The summary tells before serving: already given this year, when and where.
        var summary = await (await SummaryAsync(patient, OffSiteDoctor)).JsonAsync();
        var check = Params(summary, "freeService").Single(p => Part(p, "service").GetProperty("valueCoding").GetProperty("code").GetString() == "elderly-health-check");
        Assert.True(Part(check, "given").GetProperty("valueBoolean").GetBoolean());
        Assert.Equal("2026-03-01T09:00:00+08:00", Part(check, "date").GetProperty("valueDateTime").GetString());
        Assert.Equal(Org, Part(check, "institution").GetProperty("valueReference").GetProperty("reference").GetString());

        // Served anyway: accepted (201), the answer carries the warning — as an OperationOutcome when asked for one...
        var second = await C.SendAsync(HttpMethod.Post, "/Encounter", Encounter(patient, "2026-07-01T09:00:00+08:00", "elderly-health-check", Serving), OffSiteDoctor, ("Prefer", "return=OperationOutcome"));
        Assert.Equal(HttpStatusCode.Created, second.StatusCode);
        var issues = (await second.JsonAsync()).GetProperty("issue").EnumerateArray().ToList();
        var warning = issues.Single(i => i.GetProperty("severity").GetString() == "warning");
        Assert.Equal("business-rule", warning.GetProperty("code").GetString());
        Assert.Contains("elderly-health-check", warning.GetProperty("diagnostics").GetString());
        Assert.Contains("已接受过", warning.GetProperty("diagnostics").GetString());
        // ...in a Warning header with the resource...
        var third = await Send(HttpMethod.Post, "/Encounter", Encounter(patient, "2026-07-02T09:00:00+08:00", "elderly-health-check", Serving), OffSiteDoctor);
        Assert.Equal(HttpStatusCode.Created, third.StatusCode);
        Assert.StartsWith("199 FhirArchive \"The free service 'elderly-health-check' was already given", third.Headers.GetValues("Warning").Single());
        // ...and as the entry's outcome in a batch.
        var batch = await Send(HttpMethod.Post, "/", $$$"""
            {"resourceType":"Bundle","type":"batch","entry":[{"resource":{{{Encounter(patient, "2026-07-03T09:00:00+08:00", "elderly-health-check", Serving)}}},"request":{"method":"POST","url":"Encounter"}}]}
            """, OffSiteDoctor);
        var response = (await batch.JsonAsync()).GetProperty("entry")[0].GetProperty("response");
        Assert.StartsWith("201", response.GetProperty("status").GetString());
        Assert.Equal("warning", response.GetProperty("outcome").GetProperty("issue")[0].GetProperty("severity").GetString());

        // Other kinds, and the next calendar year (in China), carry no warning.
        var followUp = await Send(HttpMethod.Post, "/Encounter", Encounter(patient, "2026-07-04T09:00:00+08:00", "hypertension-followup", Serving), OffSiteDoctor);
        Assert.False(followUp.Headers.Contains("Warning"));
        var nextYear = await Send(HttpMethod.Post, "/Encounter", Encounter(patient, "2026-12-31T17:00:00Z", "elderly-health-check", Serving), OffSiteDoctor);
        Assert.Equal(HttpStatusCode.Created, nextYear.StatusCode);
        Assert.False(nextYear.Headers.Contains("Warning"));
    }

    [FhirFact]
    public async Task The_holder_s_subscription_on_its_work_list_receives_the_push()
    {
        _clock.Now = new DateTimeOffset(2026, 6, 6, 2, 0, 0, TimeSpan.Zero);
        var patient = await ResidentAsync("1951-01-01");
        await using var hook = await HookListener.StartAsync();
        var subscription = $$$"""
            {"resourceType":"Subscription","status":"requested","reason":"异地服务回传 / off-site service pushed to us","criteria":"Communication?recipient={{{Org}}}&subject=Patient/{{{patient}}}",
             "channel":{"type":"rest-hook","endpoint":"{{{hook.Url}}}","payload":"application/fhir+json"}}
            """;
        var subscribed = await Send(HttpMethod.Post, "/Subscription", subscription, Doctor);
        Assert.True(subscribed.StatusCode == HttpStatusCode.Created, await subscribed.Content.ReadAsStringAsync());

        var visit = await CreateAsync("Encounter", Encounter(patient, "2026-06-06T10:00:00+08:00", "hypertension-followup", Serving), OffSiteDoctor);
        var push = Assert.Single(await WorkListAsync(patient));
        var received = await hook.NextAsync();
        Assert.Equal($"/hook/Communication/{push.GetProperty("id").GetString()}", received.Path);
        Assert.Contains($"Encounter/{visit}", received.Body);
    }
}

public sealed class OffSiteTests(TransferFixture fx) : OffSiteTestsBase<TransferFixture>(fx), IClassFixture<TransferFixture>;
public sealed class PostgresOffSiteTests(PostgresTransferFixture fx) : OffSiteTestsBase<PostgresTransferFixture>(fx), IClassFixture<PostgresTransferFixture>;

using System.Net;
using System.Text.Json;
using FhirArchive.Archive.Consent;
using Xunit;
using static FhirArchive.Archive.Tests.Consent.ConsentData;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Archive.Tests.Consent;

/// <summary>
/// The consent decision on every read path, with real tokens: read, vread, search, includes, chains, _has, history,
/// compartments, $everything, batch, conditional create, paging, totals — a hidden resource never shows and looks
/// exactly like a missing one.
/// </summary>
public abstract class ConsentPathTestsBase<TFixture>(TFixture fx) : IAsyncLifetime where TFixture : ServerFixture
{
    private readonly HttpClient _c = fx.Client;

    public Task InitializeAsync() => fx is IConsentWorld world ? world.SeedOnceAsync() : Task.CompletedTask;

    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>As the caller; null: as the suite's own client, which acts for the platform (Consent:PlatformClients).</summary>
    private Task<HttpResponseMessage> Get(string url, (string, string)? caller) =>
        caller is { } c ? _c.SendAsync(HttpMethod.Get, url, null, c) : _c.GetAsync(url);

    private async Task<List<string>> Ids(string url, (string, string)? caller, string mode = "match")
    {
        var b = await Json(url, caller);
        return b.TryGetProperty("entry", out var es)
            ? es.EnumerateArray().Where(e => e.GetProperty("search").GetProperty("mode").GetString() == mode)
                .Select(e => e.GetProperty("resource").GetProperty("id").GetString()!).ToList()
            : [];
    }

    private async Task<JsonElement> Json(string url, (string, string)? caller)
    {
        var r = await Get(url, caller);
        Assert.True(r.StatusCode == HttpStatusCode.OK, $"{url}: {r.StatusCode} {await r.Content.ReadAsStringAsync()}");
        return await r.JsonAsync();
    }

    /// <summary>Hidden looks missing: same status, same outcome, apart from the id named.</summary>
    private async Task AssertLooksMissing(string url, (string, string) caller)
    {
        var hidden = await Get(url, caller);
        var missingUrl = url.Replace(url.Split('/')[2], "no-such-" + Unique());
        var missing = await Get(missingUrl, caller);
        Assert.Equal(HttpStatusCode.NotFound, hidden.StatusCode);
        Assert.Equal(missing.StatusCode, hidden.StatusCode);
        var h = await hidden.Content.ReadAsStringAsync();
        var m = await missing.Content.ReadAsStringAsync();
        Assert.Equal(Normalise(m, missingUrl.Split('/')[2]), Normalise(h, url.Split('/')[2]));
    }

    private static string Normalise(string body, string id)
    {
        var issue = JsonDocument.Parse(body).RootElement.GetProperty("issue")[0];
        return issue.GetProperty("severity").GetString() + "|" + issue.GetProperty("code").GetString() + "|" + issue.GetProperty("diagnostics").GetString()!.Replace(id, "ID");
    }

    [FhirFact]
    public async Task Read_and_vread_show_what_the_caller_may_see_and_hide_the_rest_as_missing()
    {
        Assert.Equal(HttpStatusCode.OK, (await Get("/Observation/obs-adult", AuthorisedDoctor)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Get("/Observation/obs-adult/_history/1", AuthorisedDoctor)).StatusCode);
        await AssertLooksMissing("/Condition/cond-adult-psy", AuthorisedDoctor);
        await AssertLooksMissing("/Condition/cond-adult-hiv", AuthorisedDoctor);
        await AssertLooksMissing("/Condition/cond-adult-psy/_history/1", AuthorisedDoctor);
        await AssertLooksMissing("/Observation/obs-classified", AuthorisedDoctor);
        await AssertLooksMissing("/Patient/classified", AuthorisedDoctor);
        await AssertLooksMissing("/Observation/obs-adult", StrangerDoctor);
        await AssertLooksMissing("/Observation/obs-adult", Colleague);
        await AssertLooksMissing("/Observation/obs-adult", Researcher);
        // The responsible institution sees everything it holds.
        foreach (var url in new[] { "/Condition/cond-adult-psy", "/Condition/cond-adult-hiv", "/Observation/obs-classified", "/Patient/classified" })
            Assert.Equal(HttpStatusCode.OK, (await Get(url, HolderClinician)).StatusCode);
    }

    [FhirFact]
    public async Task Searches_compartments_and_totals_count_only_what_is_shown()
    {
        Assert.Equal(["obs-adult"], await Ids("/Observation?subject=Patient/adult", AuthorisedDoctor));
        // (Other tests of this class add ordinary Conditions to the adult's record: count what is there.)
        var conditions = await Json("/Condition?subject=Patient/adult", AuthorisedDoctor);
        var shown = conditions.TryGetProperty("entry", out var es) ? es.EnumerateArray().Select(e => e.GetProperty("resource").GetProperty("id").GetString()).ToList() : [];
        Assert.DoesNotContain("cond-adult-psy", shown);
        Assert.DoesNotContain("cond-adult-hiv", shown);
        Assert.Equal(shown.Count, conditions.GetProperty("total").GetInt32());
        Assert.Equal(shown.Count, (await Json("/Condition?subject=Patient/adult&_summary=count", AuthorisedDoctor)).GetProperty("total").GetInt32());
        Assert.Equal(shown.Count + 2, (await Json("/Condition?subject=Patient/adult&_summary=count", HolderClinician)).GetProperty("total").GetInt32());
        Assert.Equal(shown.Order(), (await Ids("/Patient/adult/Condition", AuthorisedDoctor)).Order());
        Assert.Equal(shown.Count + 2, (await Ids("/Patient/adult/Condition", HolderClinician)).Count);
        Assert.Empty(await Ids("/Patient?family=Consentclassified", AuthorisedDoctor));
        Assert.Equal(0, (await Json("/Patient?family=Consentclassified", AuthorisedDoctor)).GetProperty("total").GetInt32());
        Assert.Empty(await Ids("/Observation?code=http://loinc.org|8480-6", StrangerDoctor));
        // The platform's client reads ordinary data of every record, never the classified person's.
        var patients = await Ids("/Patient?family:contains=Consent", null);
        Assert.Equal(["adult", "minor"], patients.Order().ToList());
        Assert.Equal(2, (await Json("/Patient?family:contains=Consent&_count=1&_total=accurate", null)).GetProperty("total").GetInt32());
        // Unasked, a total that would need a decision per match over several pages is left out (FHIR: optional).
        Assert.False((await Json("/Patient?family:contains=Consent&_count=1", null)).TryGetProperty("total", out _));
    }

    [FhirFact]
    public async Task Paging_skips_hidden_resources_and_the_total_matches_the_pages()
    {
        var seen = new List<string>();
        var url = "/Observation?code=http://loinc.org|8480-6&_count=1&_total=accurate";
        int? total = null;
        while (url is not null)
        {
            var b = await Json(url, AuthorisedDoctor);
            total ??= b.GetProperty("total").GetInt32();
            if (b.TryGetProperty("entry", out var es)) seen.AddRange(es.EnumerateArray().Select(e => e.GetProperty("resource").GetProperty("id").GetString()!));
            url = b.GetProperty("link").EnumerateArray().Where(l => l.GetProperty("relation").GetString() == "next")
                .Select(l => new Uri(l.GetProperty("url").GetString()!).PathAndQuery).FirstOrDefault()!;
        }
        Assert.Equal(["obs-adult"], seen);
        Assert.Equal(seen.Count, total);
    }

    [FhirFact]
    public async Task Includes_revincludes_chains_and_has_neither_show_nor_reveal_hidden_data()
    {
        // _include: the Patient comes, redacted of its mental-health tag; the Bundle says so.
        var b = await Json("/Encounter?_id=enc-adult&_include=Encounter:subject&_include=Encounter:reason-reference", AuthorisedDoctor);
        var entries = b.GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("resource")).ToList();
        Assert.Equal(["Encounter/enc-adult", "Patient/adult"], entries.Select(e => $"{e.GetProperty("resourceType").GetString()}/{e.GetProperty("id").GetString()}").ToList());
        var patient = entries[1];
        Assert.DoesNotContain("SMD", patient.GetRawText());
        Assert.Contains("HTN", patient.GetRawText());
        Assert.Contains(patient.GetProperty("meta").GetProperty("security").EnumerateArray(), l => l.GetProperty("code").GetString() == ConsentTerms.Redacted);
        Assert.Contains(b.GetProperty("meta").GetProperty("security").EnumerateArray(), l => l.GetProperty("code").GetString() == ConsentTerms.Redacted);
        // _revinclude
        var revincluded = await Ids("/Patient?_id=adult&_revinclude=Condition:subject", AuthorisedDoctor, "include");
        Assert.DoesNotContain("cond-adult-psy", revincluded);
        Assert.DoesNotContain("cond-adult-hiv", revincluded);
        Assert.Contains("cond-adult-psy", await Ids("/Patient?_id=adult&_revinclude=Condition:subject", HolderClinician, "include"));
        // Chained and _has parameters cannot filter on what the caller may not see.
        Assert.Empty(await Ids($"/Encounter?reason-reference:Condition.code={Icd10}|F20.0", AuthorisedDoctor));
        Assert.Equal(["enc-adult"], await Ids($"/Encounter?reason-reference:Condition.code={Icd10}|F20.0", HolderClinician));
        Assert.Empty(await Ids($"/Patient?_has:Condition:subject:code={Icd10}|F20.0", AuthorisedDoctor));
        Assert.Equal(["adult"], await Ids($"/Patient?_has:Condition:subject:code={Icd10}|F20.0", HolderClinician));
        // The homepage's mental-health section is cut, the rest shown.
        var home = await Json("/Composition/home-adult", AuthorisedDoctor);
        Assert.Equal(["基本信息"], home.GetProperty("section").EnumerateArray().Select(s => s.GetProperty("title").GetString()).ToList());
        Assert.Equal(2, (await Json("/Composition/home-adult", HolderClinician)).GetProperty("section").GetArrayLength());
    }

    [FhirFact]
    public async Task History_everything_and_batch_go_through_the_same_decision()
    {
        await AssertLooksMissing("/Condition/cond-adult-psy/_history", AuthorisedDoctor);
        var typeHistory = await Json("/Condition/_history", AuthorisedDoctor);
        Assert.DoesNotContain("cond-adult", typeHistory.GetRawText());

        var everything = await Json("/Patient/adult/$everything", AuthorisedDoctor);
        var ids = everything.GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("resource").GetProperty("id").GetString()).ToList();
        var matches = everything.GetProperty("entry").EnumerateArray().Count(e => e.GetProperty("search").GetProperty("mode").GetString() == "match");
        Assert.Contains("obs-adult", ids);
        Assert.Contains("enc-adult", ids);
        Assert.DoesNotContain("cond-adult-psy", ids);
        Assert.DoesNotContain("cond-adult-hiv", ids);
        Assert.Equal(matches, everything.GetProperty("total").GetInt32());
        await AssertLooksMissing("/Patient/adult", StrangerDoctor);
        Assert.Equal(HttpStatusCode.NotFound, (await Get("/Patient/adult/$everything", StrangerDoctor)).StatusCode);
        Assert.Contains("cond-adult-psy", (await Json("/Patient/adult/$everything", HolderClinician)).GetRawText());

        var batch = """
            {"resourceType":"Bundle","type":"batch","entry":[
              {"request":{"method":"GET","url":"Observation/obs-adult"}},
              {"request":{"method":"GET","url":"Condition/cond-adult-psy"}},
              {"request":{"method":"GET","url":"Condition?subject=Patient/adult"}}]}
            """;
        var r = await _c.SendAsync(HttpMethod.Post, "/", batch, AuthorisedDoctor);
        var es = (await r.JsonAsync()).GetProperty("entry").EnumerateArray().ToList();
        Assert.Equal(["200", "404", "200"], es.Select(e => e.GetProperty("response").GetProperty("status").GetString()!.Split(' ')[0]).ToList());
        Assert.Equal(0, es[2].GetProperty("resource").GetProperty("total").GetInt32());
    }

    [FhirFact]
    public async Task A_deletion_is_decided_as_the_version_before_it()
    {
        // A severe-mental-disorder diagnosis (hidden from the authorised doctor) and a blood pressure (shown), both deleted.
        var hidden = "cond-del-" + Unique();
        var shown = "obs-del-" + Unique();
        await Send(HttpMethod.Put, $"/Condition/{hidden}", $$$"""{"resourceType":"Condition","id":"{{{hidden}}}","code":{"coding":[{"system":"{{{Icd10}}}","code":"F20.0"}]},"subject":{"reference":"Patient/adult"}}""");
        await Send(HttpMethod.Put, $"/Observation/{shown}", $$$"""{"resourceType":"Observation","id":"{{{shown}}}","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"subject":{"reference":"Patient/adult"},"valueQuantity":{"value":121,"unit":"mmHg"}}""");
        await Send(HttpMethod.Delete, $"/Condition/{hidden}", null);
        await Send(HttpMethod.Delete, $"/Observation/{shown}", null);

        // The hidden one's deletion does not reveal it: no 410, no history, no DELETE entry in the type's history.
        await AssertLooksMissing($"/Condition/{hidden}", AuthorisedDoctor);
        await AssertLooksMissing($"/Condition/{hidden}/_history", AuthorisedDoctor);
        Assert.DoesNotContain(hidden, (await Json("/Condition/_history", AuthorisedDoctor)).GetRawText());
        // The shown one's deletion is known to whoever saw it.
        Assert.Equal(HttpStatusCode.Gone, (await Get($"/Observation/{shown}", AuthorisedDoctor)).StatusCode);
        var history = (await Json($"/Observation/{shown}/_history", AuthorisedDoctor)).GetProperty("entry").EnumerateArray()
            .Select(e => e.GetProperty("request").GetProperty("method").GetString()).ToList();
        Assert.Equal(["DELETE", "POST"], history);
        Assert.Contains(shown, (await Json("/Observation/_history", AuthorisedDoctor)).GetRawText());
        // The holder knows of both.
        Assert.Equal(HttpStatusCode.Gone, (await Get($"/Condition/{hidden}", HolderClinician)).StatusCode);
        Assert.Contains(hidden, (await Json("/Condition/_history", HolderClinician)).GetRawText());
    }

    private async Task Send(HttpMethod method, string url, string? body)
    {
        var r = await _c.SendAsync(method, url, body, HolderClinician);
        Assert.True(r.IsSuccessStatusCode, $"{method} {url}: {r.StatusCode} {await r.Content.ReadAsStringAsync()}");
    }

    [FhirFact]
    public async Task Conditional_create_does_not_match_or_reveal_a_hidden_resource()
    {
        var r = await _c.SendAsync(HttpMethod.Post, "/Condition", $$$"""{"resourceType":"Condition","code":{"text":"x"},"subject":{"reference":"Patient/adult"}}""",
            AuthorisedDoctor, ("If-None-Exist", "_id=cond-adult-psy"));
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        var created = (await r.JsonAsync()).GetProperty("id").GetString();
        Assert.NotEqual("cond-adult-psy", created);
        // The holder's own conditional create finds it.
        var own = await _c.SendAsync(HttpMethod.Post, "/Condition", $$$"""{"resourceType":"Condition","code":{"text":"x"},"subject":{"reference":"Patient/adult"}}""",
            HolderClinician, ("If-None-Exist", "_id=cond-adult-psy"));
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        // The adult's conditions left as seeded, whatever order the tests run in (the batch of History_everything_and_batch_... counts them).
        await Send(HttpMethod.Delete, $"/Condition/{created}", null);
    }

    [FhirFact]
    public async Task Residents_guardians_minors_and_break_glass_see_what_the_rules_open()
    {
        Assert.Equal(HttpStatusCode.OK, (await Get("/Observation/obs-adult", AdultResident)).StatusCode);
        await AssertLooksMissing("/Condition/cond-adult-psy", AdultResident);
        Assert.DoesNotContain("SMD", (await Json("/Patient/adult", AdultResident)).GetRawText());
        Assert.Equal(3, (await Ids("/Consent?patient=Patient/adult", AdultResident)).Count);

        Assert.Equal(HttpStatusCode.OK, (await Get("/Observation/obs-adult", Guardian)).StatusCode);
        await AssertLooksMissing("/Condition/cond-adult-psy", Guardian);
        await AssertLooksMissing("/Condition/cond-adult-hiv", Guardian);

        // No guardian's application on file: the minor's record stays closed to them.
        await AssertLooksMissing("/Observation/obs-minor", MinorResident);

        Assert.Equal(HttpStatusCode.OK, (await Get("/Observation/obs-adult", EmergencyDoctor)).StatusCode);
        await AssertLooksMissing("/Condition/cond-adult-psy", EmergencyDoctor);
        await AssertLooksMissing("/Observation/obs-classified", EmergencyDoctor);
    }

    [FhirFact]
    public async Task Labels_follow_the_content_and_only_the_holder_sets_the_classified_flag()
    {
        var id = "cond-" + Unique();
        var psy = $$$"""{"resourceType":"Condition","id":"{{{id}}}","code":{"coding":[{"system":"{{{Icd10}}}","code":"F31.1"}]},"subject":{"reference":"Patient/adult"}}""";
        Assert.True((await _c.SendAsync(HttpMethod.Put, $"/Condition/{id}", psy, HolderClinician)).IsSuccessStatusCode);
        var labels = await LabelsAsync($"/Condition/{id}");
        Assert.Contains($"{ConsentTerms.ActCodeSystem}|PSY", labels);
        Assert.Contains($"{ConsentTerms.ConfidentialitySystem}|R", labels);
        Assert.Equal([id], await Ids($"/Condition?_id={id}&_security={ConsentTerms.ActCodeSystem}|PSY", HolderClinician));
        // A correction to an ordinary diagnosis drops the label, even when the client sends the old one back.
        var ordinary = psy.Replace("F31.1", "J18.9").Replace("\"code\":{", $$$""" "meta":{"security":[{"system":"{{{ConsentTerms.ActCodeSystem}}}","code":"PSY"}]},"code":{ """.Trim());
        Assert.True((await _c.SendAsync(HttpMethod.Put, $"/Condition/{id}", ordinary, HolderClinician)).IsSuccessStatusCode);
        labels = await LabelsAsync($"/Condition/{id}");
        Assert.DoesNotContain($"{ConsentTerms.ActCodeSystem}|PSY", labels);
        Assert.Contains($"{ConsentTerms.ConfidentialitySystem}|N", labels);
        Assert.Equal(HttpStatusCode.OK, (await Get($"/Condition/{id}", AuthorisedDoctor)).StatusCode);
        // The adult's conditions left as seeded, whatever order the tests run in (the batch of History_everything_and_batch_... counts them).
        await Send(HttpMethod.Delete, $"/Condition/{id}", null);

        // Only the holder's record administrator sets or clears the classified flag.
        var pid = "p-" + Unique();
        var patient = $$$"""{"resourceType":"Patient","id":"{{{pid}}}","name":[{"family":"Flag"}],"managingOrganization":{"reference":"{{{Holder}}}"}}""";
        var flagged = patient.Replace("\"name\"", $$$""" "meta":{"security":[{"system":"{{{ConsentTerms.SensitivitySystem}}}","code":"classified"}]},"name" """.Trim());
        Assert.True((await _c.SendAsync(HttpMethod.Put, $"/Patient/{pid}", flagged, HolderClinician)).IsSuccessStatusCode);
        Assert.DoesNotContain($"{ConsentTerms.SensitivitySystem}|classified", await LabelsAsync($"/Patient/{pid}"));
        Assert.True((await _c.SendAsync(HttpMethod.Put, $"/Patient/{pid}", flagged, HolderAdmin)).IsSuccessStatusCode);
        Assert.Contains($"{ConsentTerms.SensitivitySystem}|classified", await LabelsAsync($"/Patient/{pid}"));
        Assert.Contains($"{ConsentTerms.ConfidentialitySystem}|V", await LabelsAsync($"/Patient/{pid}"));
        // A clinician's update without the flag keeps it.
        Assert.True((await _c.SendAsync(HttpMethod.Put, $"/Patient/{pid}", patient, HolderClinician)).IsSuccessStatusCode);
        Assert.Contains($"{ConsentTerms.SensitivitySystem}|classified", await LabelsAsync($"/Patient/{pid}"));
        await AssertLooksMissing($"/Patient/{pid}", StrangerDoctor);
        Assert.True((await _c.SendAsync(HttpMethod.Put, $"/Patient/{pid}", patient, HolderAdmin)).IsSuccessStatusCode);
        Assert.DoesNotContain($"{ConsentTerms.SensitivitySystem}|classified", await LabelsAsync($"/Patient/{pid}"));
    }

    [FhirFact]
    public async Task A_revoked_authorisation_closes_the_record_at_once()
    {
        var pid = "p-" + Unique();
        Assert.True((await _c.SendAsync(HttpMethod.Put, $"/Patient/{pid}", $$$"""{"resourceType":"Patient","id":"{{{pid}}}","managingOrganization":{"reference":"{{{Holder}}}"}}""", HolderAdmin)).IsSuccessStatusCode);
        var grant = $$$"""
            {"resourceType":"Consent","id":"g-{{{pid}}}","status":"active","scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
             "category":[{"coding":[{"system":"{{{ConsentTerms.CategorySystem}}}","code":"record-access"}]}],"patient":{"reference":"Patient/{{{pid}}}"},
             "provision":{"type":"permit","actor":[{"role":{"coding":[{"system":"{{{ConsentTerms.ParticipationSystem}}}","code":"IRCP"}]},"reference":{"reference":"Practitioner/doc"}}]}}
            """;
        await AssertLooksMissing($"/Patient/{pid}", AuthorisedDoctor);
        Assert.True((await _c.SendAsync(HttpMethod.Put, $"/Consent/g-{pid}", grant, HolderAdmin)).IsSuccessStatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Get($"/Patient/{pid}", AuthorisedDoctor)).StatusCode);
        Assert.True((await _c.SendAsync(HttpMethod.Put, $"/Consent/g-{pid}", grant.Replace("\"active\"", "\"inactive\""), HolderAdmin)).IsSuccessStatusCode);
        await AssertLooksMissing($"/Patient/{pid}", AuthorisedDoctor);
    }

    [FhirFact]
    public async Task Every_decision_is_audited_with_its_reason()
    {
        var subject = "audit-doc-" + Unique();
        var doc = TestCallers.As(subject, Rest.Access.Roles.Clinician, org: Hospital, practitioner: "Practitioner/doc");
        Assert.Equal(HttpStatusCode.OK, (await Get("/Observation/obs-adult", doc)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Get("/Condition/cond-adult-psy", doc)).StatusCode);
        var events = (await Json($"/AuditEvent?agent={subject}&_count=10", TestCallers.Auditor)).GetProperty("entry").EnumerateArray()
            .Select(e => e.GetProperty("resource")).ToList();
        var details = events.SelectMany(e => e.GetProperty("entity").EnumerateArray())
            .Where(x => x.TryGetProperty("name", out var n) && n.GetString() == "access-decision")
            .SelectMany(x => x.GetProperty("detail").EnumerateArray()).Select(d => d.GetProperty("valueString").GetString()!).ToList();
        Assert.Contains(details, d => d.StartsWith("permit ×1: authorised by the resident (Consent/grant-adult)", StringComparison.Ordinal));
        Assert.Contains(details, d => d.StartsWith("deny Condition/cond-adult-psy: severe-mental-disorder information", StringComparison.Ordinal));
        // The denied read is audited as a failure to find, like a missing one.
        Assert.Contains(events, e => e.GetProperty("outcome").GetString() != "0");
    }

    private async Task<List<string>> LabelsAsync(string url)
    {
        var r = await Json(url, HolderAdmin);
        return r.GetProperty("meta").TryGetProperty("security", out var s)
            ? s.EnumerateArray().Select(l => $"{l.GetProperty("system").GetString()}|{l.GetProperty("code").GetString()}").ToList()
            : [];
    }
}

public sealed class ConsentPathTests(ConsentFixture fx) : ConsentPathTestsBase<ConsentFixture>(fx), IClassFixture<ConsentFixture>;

public sealed class PostgresConsentPathTests(PostgresConsentFixture fx) : ConsentPathTestsBase<PostgresConsentFixture>(fx), IClassFixture<PostgresConsentFixture>;

using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit;
using static FhirArchive.Archive.Tests.Consent.ConsentData;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Archive.Tests.Consent;

/// <summary>
/// The leaks an attack on the consent rules found, each on the path it used: pages cut before they were filtered,
/// Provenance and Task shown whatever they point at, system history, write answers that told hidden from missing,
/// and access logs naming what the reader may not see.
/// </summary>
public abstract class ConsentLeakTestsBase<TFixture>(TFixture fx) : IAsyncLifetime where TFixture : ServerFixture
{
    private readonly HttpClient _c = fx.Client;
    private static readonly (string, string)[] Outsiders = [AuthorisedDoctor, StrangerDoctor, Guardian, Researcher, AdultResident];
    private static readonly string[] Restricted = ["cond-adult-psy", "cond-adult-hiv", "Patient/classified", "obs-classified", "leak-task"];

    public async Task InitializeAsync()
    {
        if (fx is IConsentWorld world) await world.SeedOnceAsync();
        // A correction Task about the classified person's blood pressure, as the holder's clinician files it.
        var r = await _c.SendAsync(HttpMethod.Put, "/Task/leak-task", """
            {"resourceType":"Task","id":"leak-task","status":"requested","intent":"proposal","for":{"reference":"Patient/classified"},
             "focus":{"reference":"Observation/obs-classified"},"reasonCode":{"text":"录入错误"}}
            """, HolderClinician);
        Assert.True((int)r.StatusCode is 200 or 201, await r.Content.ReadAsStringAsync());
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private async Task<string> GetAsync(string url, (string, string) caller)
    {
        var r = await _c.SendAsync(HttpMethod.Get, url, null, caller);
        var body = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.OK, $"{url}: {r.StatusCode} {body}");
        return body;
    }

    private static void AssertNoneOf(string body, string where, params string[] ids)
    {
        foreach (var id in ids) Assert.False(body.Contains(id, StringComparison.Ordinal), $"{where} shows {id}: {body}");
    }

    [FhirFact]
    public async Task Pages_are_filled_with_visible_matches_and_a_next_link_only_when_one_follows()
    {
        // Three Observations exist; the authorised doctor may see one (the adult's), not the classified person's or the minor's.
        foreach (var (caller, expected) in new[] { (AuthorisedDoctor, new[] { "obs-adult" }), (StrangerDoctor, Array.Empty<string>()) })
        {
            var seen = new List<string>();
            var url = "/Observation?_count=1";
            for (var page = 0; url is not null; page++)
            {
                Assert.True(page < 10, "paging does not end");
                var bundle = JsonDocument.Parse(await GetAsync(url, caller)).RootElement;
                var ids = bundle.TryGetProperty("entry", out var es) ? es.EnumerateArray().Select(e => e.GetProperty("resource").GetProperty("id").GetString()!).ToList() : [];
                var next = bundle.GetProperty("link").EnumerateArray().FirstOrDefault(l => l.GetProperty("relation").GetString() == "next");
                url = next.ValueKind == JsonValueKind.Undefined ? null : new Uri(next.GetProperty("url").GetString()!).PathAndQuery;
                Assert.True(ids.Count > 0 || url is null, $"an empty page with a next link: {bundle}");
                seen.AddRange(ids);
            }
            Assert.Equal(expected.Intersect(seen).Count(), expected.Length);
            Assert.DoesNotContain("obs-classified", seen);
            Assert.DoesNotContain("obs-minor", seen);
        }
        // The mental-health Condition exists but is hidden: no page, no next link, no total beyond what is shown.
        var psy = JsonDocument.Parse(await GetAsync($"/Condition?code={Icd10}|F20.0&_count=1", AuthorisedDoctor)).RootElement;
        Assert.False(psy.TryGetProperty("entry", out _));
        Assert.DoesNotContain(psy.GetProperty("link").EnumerateArray(), l => l.GetProperty("relation").GetString() == "next");
        var labelled = JsonDocument.Parse(await GetAsync("/Condition?_security=http://terminology.hl7.org/CodeSystem/v3-ActCode|PSY&_count=1", Guardian)).RootElement;
        Assert.DoesNotContain(labelled.GetProperty("link").EnumerateArray(), l => l.GetProperty("relation").GetString() == "next");
    }

    [FhirFact]
    public async Task A_Provenance_is_shown_only_where_what_it_points_at_is()
    {
        // Control: the holder sees the Provenance its clinician's write of the mental-health diagnosis left.
        Assert.Contains("Condition/cond-adult-psy", await GetAsync("/Provenance?_count=500", HolderClinician));
        foreach (var caller in Outsiders)
        {
            AssertNoneOf(await GetAsync("/Provenance?_count=500", caller), $"Provenance search as {caller.Item2}", Restricted);
            AssertNoneOf(await GetAsync("/Provenance?agent=Practitioner/holder-doc&_count=500", caller), "Provenance?agent", Restricted);
            AssertNoneOf(await GetAsync("/Provenance/_history?_count=500", caller), "Provenance history", Restricted);
            AssertNoneOf(await GetAsync("/Patient?_id=adult&_revinclude=Provenance:target&_revinclude=Provenance:patient", caller), "_revinclude", Restricted);
        }
    }

    [FhirFact]
    public async Task A_Task_is_decided_by_the_record_it_is_for()
    {
        Assert.Contains("leak-task", await GetAsync("/Task", HolderClinician));
        foreach (var caller in Outsiders)
        {
            AssertNoneOf(await GetAsync("/Task?_count=500", caller), "Task search", "leak-task", "Patient/classified");
            AssertNoneOf(await GetAsync("/Task/_history?_count=500", caller), "Task history", "leak-task", "Patient/classified");
            Assert.Equal(HttpStatusCode.NotFound, (await _c.SendAsync(HttpMethod.Get, "/Task/leak-task", null, caller)).StatusCode);
        }
    }

    [FhirFact]
    public async Task A_visit_shown_does_not_cite_a_diagnosis_the_caller_may_not_see()
    {
        // The adult's visit names the mental-health diagnosis as its reason: the authorised doctor sees the visit,
        // without that reason (cut, labelled REDACTED); the holder sees it whole.
        var visit = JsonDocument.Parse(await GetAsync("/Encounter/enc-adult", AuthorisedDoctor)).RootElement;
        Assert.False(visit.TryGetProperty("reasonReference", out _), visit.GetRawText());
        Assert.Contains(visit.GetProperty("meta").GetProperty("security").EnumerateArray(), l => l.GetProperty("code").GetString() == "REDACTED");
        AssertNoneOf(await GetAsync("/Encounter?patient=Patient/adult", AuthorisedDoctor), "Encounter search", "cond-adult-psy");
        Assert.Contains("Condition/cond-adult-psy", await GetAsync("/Encounter/enc-adult", HolderClinician));
    }

    [FhirFact]
    public async Task System_history_names_nothing_hidden()
    {
        foreach (var caller in Outsiders)
            AssertNoneOf(await GetAsync("/_history?_count=500", caller), $"system history as {caller.Item2}", Restricted);
    }

    [FhirFact]
    public async Task Every_write_on_a_hidden_resource_answers_as_on_a_missing_one()
    {
        static string Normal(string body, string id) => Regex.Replace(body.Replace(id, "ID"), @"[0-9a-f]{32}", "~");
        async Task<string> Answer(HttpMethod method, string url, string? body, (string, string) caller, string contentType = Json)
        {
            var request = new HttpRequestMessage(method, url) { Content = body is null ? null : new StringContent(body, System.Text.Encoding.UTF8, contentType) };
            request.Headers.Add(caller.Item1, caller.Item2);
            var r = await _c.SendAsync(request);
            return $"{(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}";
        }
        foreach (var caller in new[] { AuthorisedDoctor, StrangerDoctor })
            foreach (var (type, id) in new[] { ("Condition", "cond-adult-psy"), ("Patient", "classified"), ("Observation", "obs-minor"), ("Task", "leak-task") })
            {
                var requests = new (HttpMethod Method, string Url, string? Body, string ContentType)[]
                {
                    (HttpMethod.Delete, $"/{type}/{{0}}", null, Json),
                    (HttpMethod.Patch, $"/{type}/{{0}}", """[{"op":"replace","path":"/status","value":"x"}]""", "application/json-patch+json"),
                    (HttpMethod.Post, $"/{type}/{{0}}/$close", """{"resourceType":"Parameters"}""", Json),
                    (HttpMethod.Post, $"/{type}/{{0}}/$approve", """{"resourceType":"Parameters"}""", Json),
                    (HttpMethod.Post, $"/{type}/{{0}}/$everything", null, Json),
                };
                foreach (var (method, url, body, contentType) in requests)
                {
                    var hidden = await Answer(method, string.Format(url, id), body, caller, contentType);
                    var missing = await Answer(method, string.Format(url, "no-such-id"), body, caller, contentType);
                    Assert.Equal(Normal(missing, "no-such-id"), Normal(hidden, id));
                    AssertNoneOf(hidden.Replace($"{type}/{id}", ""), $"{method} {url}", "Patient/adult", Holder, "Practitioner/fd");
                }
            }
    }

    /// <summary>
    /// A stored Bundle carrying the adult's Patient and data that names it only by urn:uuid (a document from another
    /// system, a collection): the records it carries decide it, not only its literal references.
    /// </summary>
    private const string CarriedPatient = "urn:uuid:0c3c1b9e-6a2f-4f43-9e71-5d2a7f0c1e11";

    private static string CarriedBundle(string id, string extra) => $$$$"""
        {"resourceType":"Bundle","id":"{{{{id}}}}","type":"collection","entry":[
          {"fullUrl":"{{{{CarriedPatient}}}}","resource":{"resourceType":"Patient","id":"adult","name":[{"text":"成人"}]}},
          {"fullUrl":"urn:uuid:5b7e0e55-2c1d-4a7e-8f00-000000000001","resource":{"resourceType":"Observation","status":"final",
            "code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"subject":{"reference":"{{{{CarriedPatient}}}}"},
            "valueQuantity":{"value":131,"unit":"mmHg"}}}{{{{extra}}}}]}
        """;

    [FhirFact]
    public async Task A_stored_Bundle_is_decided_by_the_records_it_carries_on_every_read_path()
    {
        var psy = $$$$"""
            ,{"fullUrl":"urn:uuid:5b7e0e55-2c1d-4a7e-8f00-000000000002","resource":{"resourceType":"Condition",
              "code":{"coding":[{"system":"{{{{Icd10}}}}","code":"F20.0","display":"偏执型精神分裂症"}]},"subject":{"reference":"{{{{CarriedPatient}}}}"}}}
            """;
        foreach (var (id, extra) in new[] { ("bdl-carry", ""), ("bdl-carry-psy", psy) })
        {
            var put = await _c.SendAsync(HttpMethod.Put, $"/Bundle/{id}", CarriedBundle(id, extra), HolderClinician);
            Assert.True((int)put.StatusCode is 200 or 201, await put.Content.ReadAsStringAsync());
        }
        string[] Paths(string id) => [$"/Bundle/{id}", $"/Bundle/{id}/_history/1", $"/Bundle?_id={id}", $"/Bundle/{id}/_history", "/Bundle/_history?_count=500", "/_history?_count=500"];
        async Task<bool> SeesAsync((string, string) caller, string id)
        {
            var seen = new List<bool>();
            foreach (var path in Paths(id))
            {
                var r = await _c.SendAsync(HttpMethod.Get, path, null, caller);
                var body = await r.Content.ReadAsStringAsync();
                seen.Add(r.StatusCode == HttpStatusCode.OK && body.Contains($"\"id\":\"{id}\"", StringComparison.Ordinal));
            }
            Assert.True(seen.Distinct().Count() == 1, $"{caller.Item2} on {id}: the paths disagree ({string.Join(",", seen)})");
            return seen[0];
        }
        // The plain Bundle is the adult's record: the holder, the resident and the statutory guardian see it; a stranger does not.
        Assert.True(await SeesAsync(HolderClinician, "bdl-carry"));
        Assert.True(await SeesAsync(AdultResident, "bdl-carry"));
        Assert.True(await SeesAsync(Guardian, "bdl-carry"));
        Assert.False(await SeesAsync(StrangerDoctor, "bdl-carry"));
        // With the severe-mental-disorder diagnosis inside, only the holder sees it.
        Assert.True(await SeesAsync(HolderClinician, "bdl-carry-psy"));
        foreach (var caller in new[] { StrangerDoctor, AdultResident, Guardian })
            Assert.False(await SeesAsync(caller, "bdl-carry-psy"));
    }

    /// <summary>
    /// A stored Bundle carrying a Patient that is not on this server — another server's Patient (with the id of one of
    /// ours), a urn:uuid reference no entry holds, a relative reference in an entry whose fullUrl is another server's —
    /// fails closed: no one but the platform's client (which sees every record) is shown it, on read, vread, search,
    /// the histories and _include; one whose absolute URLs are this server's is decided as the record it names.
    /// </summary>
    [FhirFact]
    public async Task A_stored_Bundle_carrying_a_patient_not_on_this_server_is_shown_to_no_one_but_the_platform()
    {
        var ours = _c.BaseAddress!.ToString().TrimEnd('/');
        const string other = "https://other-hospital.example/fhir";
        static string Entry(string fullUrl, string resource) => $$$"""{"fullUrl":"{{{fullUrl}}}","resource":{{{resource}}}}""";
        static string Patient(string? id) => $$$"""{"resourceType":"Patient",{{{(id is null ? "" : $"\"id\":\"{id}\",")}}}"name":[{"text":"成人"}]}""";
        static string Obs(string subject) => $$$"""
            {"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},
             "subject":{"reference":"{{{subject}}}"},"valueQuantity":{"value":131,"unit":"mmHg"}}
            """;
        static string Uuid() => "urn:uuid:" + Guid.NewGuid();
        var foreign = new Dictionary<string, string[]>
        {
            ["bdl-far-patient"] = [Entry($"{other}/Patient/adult", Patient("adult")), Entry(Uuid(), Obs($"{other}/Patient/adult"))],
            ["bdl-far-no-id"] = [Entry(Uuid(), Patient(null))],
            ["bdl-far-urn"] = [Entry(Uuid(), Obs("urn:uuid:9d0c7d1e-0000-4000-8000-00000000dead"))],
            ["bdl-far-relative"] = [Entry($"{other}/Observation/9", Obs("Patient/adult"))],
            ["bdl-far-subject"] = [Entry(Uuid(), Obs($"{other}/Patient/adult"))],
        };
        var local = new Dictionary<string, string[]>
        {
            ["bdl-our-absolute"] = [Entry($"{ours}/Patient/adult", Patient("adult")), Entry($"{ours}/Observation/9", Obs("Patient/adult"))],
        };
        foreach (var (id, entries) in foreign.Concat(local))
        {
            var put = await _c.SendAsync(HttpMethod.Put, $"/Bundle/{id}",
                $$$"""{"resourceType":"Bundle","id":"{{{id}}}","type":"collection","entry":[{{{string.Join(",", entries)}}}]}""");
            Assert.True((int)put.StatusCode is 200 or 201, await put.Content.ReadAsStringAsync());
            put = await _c.SendAsync(HttpMethod.Put, $"/Provenance/prov-{id}", $$$"""
                {"resourceType":"Provenance","id":"prov-{{{id}}}","target":[{"reference":"Bundle/{{{id}}}"},{"reference":"Patient/adult"}],"recorded":"2026-12-01T08:00:00+08:00",
                 "agent":[{"who":{"reference":"Organization/holder"}}]}
                """);
            Assert.True((int)put.StatusCode is 200 or 201, await put.Content.ReadAsStringAsync());
        }
        string[] Paths(string id) => [$"/Bundle/{id}", $"/Bundle/{id}/_history/1", $"/Bundle?_id={id}", $"/Bundle/{id}/_history", "/Bundle/_history?_count=500",
            "/_history?_count=500", $"/Provenance?_id=prov-{id}&_include=Provenance:target", $"/Bundle?_id={id}&_revinclude=Provenance:target"];
        async Task<bool> SeesAsync((string, string)? caller, string id)
        {
            var seen = new List<bool>();
            foreach (var path in Paths(id))
            {
                var r = caller is { } c ? await _c.SendAsync(HttpMethod.Get, path, null, c) : await _c.GetAsync(path);
                var body = await r.Content.ReadAsStringAsync();
                seen.Add(r.StatusCode == HttpStatusCode.OK && body.Contains($"\"id\":\"{id}\"", StringComparison.Ordinal));
            }
            Assert.True(seen.Distinct().Count() == 1, $"{caller?.Item2 ?? "platform"} on {id}: the paths disagree ({string.Join(",", seen)})");
            return seen[0];
        }
        foreach (var id in foreign.Keys)
        {
            Assert.True(await SeesAsync(null, id), $"the platform's client does not see {id}");
            foreach (var caller in new[] { StrangerDoctor, AdultResident, HolderClinician, AuthorisedDoctor })
                Assert.False(await SeesAsync(caller, id), $"{caller.Item2} sees {id}");
        }
        Assert.True(await SeesAsync(AdultResident, "bdl-our-absolute"));
        Assert.True(await SeesAsync(HolderClinician, "bdl-our-absolute"));
        Assert.False(await SeesAsync(StrangerDoctor, "bdl-our-absolute"));
    }

    /// <summary>
    /// A resource stored outside a Bundle whose subject is a logical reference (urn:uuid:…, which nothing resolves) or
    /// another server's Patient cannot be decided as any record of ours: it fails closed (the platform's client only)
    /// on read, search and history — before, the urn:uuid subject made it no one's record, open to every clinician.
    /// </summary>
    [FhirFact]
    public async Task A_resource_whose_subject_names_no_patient_of_ours_is_shown_to_no_one_but_the_platform()
    {
        static string Obs(string id, string subject) => $$$"""
            {"resourceType":"Observation","id":"{{{id}}}","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},
             "subject":{{{subject}}},"valueQuantity":{"value":131,"unit":"mmHg"}}
            """;
        var cases = new Dictionary<string, string>
        {
            ["obs-far-urn"] = """{"reference":"urn:uuid:9d0c7d1e-0000-4000-8000-00000000beef"}""",
            ["obs-far-urn-typed"] = """{"reference":"urn:uuid:9d0c7d1e-0000-4000-8000-00000000cafe","type":"Patient"}""",
            ["obs-far-base"] = """{"reference":"https://other-hospital.example/fhir/Patient/adult"}""",
        };
        foreach (var (id, subject) in cases)
        {
            var put = await _c.SendAsync(HttpMethod.Put, $"/Observation/{id}", Obs(id, subject));
            Assert.True((int)put.StatusCode is 200 or 201, await put.Content.ReadAsStringAsync());
        }
        async Task<bool> SeesAsync((string, string)? caller, string id)
        {
            var seen = new List<bool>();
            foreach (var path in new[] { $"/Observation/{id}", $"/Observation/{id}/_history/1", $"/Observation?_id={id}", $"/Observation/{id}/_history" })
            {
                var r = caller is { } c ? await _c.SendAsync(HttpMethod.Get, path, null, c) : await _c.GetAsync(path);
                seen.Add(r.StatusCode == HttpStatusCode.OK && (await r.Content.ReadAsStringAsync()).Contains($"\"id\":\"{id}\"", StringComparison.Ordinal));
            }
            Assert.True(seen.Distinct().Count() == 1, $"{caller?.Item2 ?? "platform"} on {id}: the paths disagree ({string.Join(",", seen)})");
            return seen[0];
        }
        foreach (var id in cases.Keys)
        {
            Assert.True(await SeesAsync(null, id), $"the platform's client does not see {id}");
            foreach (var caller in new[] { StrangerDoctor, AdultResident, HolderClinician, AuthorisedDoctor })
                Assert.False(await SeesAsync(caller, id), $"{caller.Item2} sees {id}");
        }
    }

    [FhirFact]
    public async Task The_access_log_shows_the_reader_only_what_they_may_see_of_their_own_record()
    {
        // The holder reads the mental-health diagnosis, and searches two records at once.
        await GetAsync("/Condition/cond-adult-psy", HolderClinician);
        await GetAsync("/Observation?_id=obs-adult,obs-minor", HolderClinician);

        var guardianLog = await GetAsync("/Patient/adult/$access-log?_count=200", Guardian);
        AssertNoneOf(guardianLog, "the guardian's access log", "cond-adult-psy", "cond-adult-hiv", "F20", "obs-minor", "Patient/minor");
        Assert.Contains("restricted", guardianLog);
        var ownLog = await GetAsync("/Patient/adult/$access-log?_count=200", AdultResident);
        AssertNoneOf(ownLog, "the resident's access log", "cond-adult-psy", "obs-minor", "Patient/minor", "_id=");
        Assert.Contains("Observation/obs-adult", ownLog);
    }
}

public sealed class ConsentLeakTests(ConsentFixture fx) : ConsentLeakTestsBase<ConsentFixture>(fx), IClassFixture<ConsentFixture>;

public sealed class PostgresConsentLeakTests(PostgresConsentFixture fx) : ConsentLeakTestsBase<PostgresConsentFixture>(fx), IClassFixture<PostgresConsentFixture>;

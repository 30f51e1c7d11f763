using System.Net;
using System.Text.Json;
using FhirArchive.Archive.Tests.Consent;
using Xunit;
using static FhirArchive.Archive.Tests.Consent.ConsentData;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Archive.Tests.Documents;

/// <summary>
/// Composition/[id]/$document: the document Bundle (Composition first, every reference resolved inside it, absolute
/// full URLs), each caller's view under the consent decision (a withheld section entry cut, never leaked; REDACTED),
/// persist=true stored once through the write path and closed to whoever may not see its content, and the 4xx answers.
/// On the consent suite's world: its adult (with a severe-mental-disorder diagnosis), holder, stranger and guardian.
/// </summary>
public abstract class DocumentTestsBase<TFixture>(TFixture fx) : IAsyncLifetime where TFixture : ServerFixture
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
            foreach (var json in DocumentData) await Put(json);
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

    private static string Composition(string id, string status, string sections) => $$$"""
        {"resourceType":"Composition","id":"{{{id}}}","status":"{{{status}}}",
         "type":{"coding":[{"system":"urn:oid:2.16.156.10011.2.4","code":"B0012","display":"高血压患者随访服务"}]},
         "subject":{"reference":"Patient/adult"},"encounter":{"reference":"Encounter/doc-visit"},"date":"2026-11-20T09:00:00+08:00",
         "author":[{"reference":"Practitioner/fd"}],"title":"高血压患者随访服务记录",
         "attester":[{"mode":"professional","party":{"reference":"Practitioner/fd"}}],"custodian":{"reference":"{{{Holder}}}"},
         "section":[{{{sections}}}]}
        """;

    private const string Vitals = """
        {"title":"体征","code":{"coding":[{"system":"http://loinc.org","code":"8716-3"}]},
         "text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">血压 128/82 mmHg</div>"},
         "entry":[{"reference":"Observation/obs-adult"},{"reference":"Observation/doc-dbp"}]}
        """;

    private const string Medication = """
        {"title":"用药","code":{"coding":[{"system":"http://loinc.org","code":"10160-0"}]},"entry":[{"reference":"MedicationStatement/doc-med"}]}
        """;

    private const string Problems = """
        {"title":"诊断","code":{"coding":[{"system":"http://loinc.org","code":"11450-4"}]},
         "text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">高血压；偏执型精神分裂症</div>"},
         "entry":[{"reference":"Condition/doc-htn"},{"reference":"Condition/cond-adult-psy"}]}
        """;

    private static readonly string[] DocumentData =
    [
        $$$"""{"resourceType":"Encounter","id":"doc-visit","status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},"subject":{"reference":"Patient/adult"},"period":{"start":"2026-11-20T09:00:00+08:00"},"serviceProvider":{"reference":"{{{Holder}}}"}}""",
        """{"resourceType":"Observation","id":"doc-dbp","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"subject":{"reference":"Patient/adult"},"encounter":{"reference":"Encounter/doc-visit"},"performer":[{"reference":"Practitioner/fd"}],"valueQuantity":{"value":82,"unit":"mmHg"}}""",
        """{"resourceType":"MedicationStatement","id":"doc-med","status":"active","medicationCodeableConcept":{"text":"硝苯地平控释片 30mg qd"},"subject":{"reference":"Patient/adult"}}""",
        $$$"""{"resourceType":"Condition","id":"doc-htn","code":{"coding":[{"system":"{{{Icd10}}}","code":"I10","display":"原发性高血压"}]},"subject":{"reference":"Patient/adult"}}""",
        Composition("doc-full", "final", $"{Vitals},{Medication},{Problems}"),
        Composition("doc-plain", "final", $"{Vitals},{Medication}"),
        Composition("doc-draft", "preliminary", Vitals),
        Composition("doc-gone", "final", Vitals),
    ];

    private async Task<(HttpResponseMessage Response, string Body)> DocumentAsync((string, string) caller, string id, string query = "", HttpMethod? method = null)
    {
        var r = await _c.SendAsync(method ?? HttpMethod.Get, $"/Composition/{id}/$document{query}", null, caller);
        return (r, await r.Content.ReadAsStringAsync());
    }

    private async Task<JsonElement> OkAsync((string, string) caller, string id)
    {
        var (r, body) = await DocumentAsync(caller, id);
        Assert.True(r.StatusCode == HttpStatusCode.OK, body);
        return JsonDocument.Parse(body).RootElement;
    }

    private static List<JsonElement> Entries(JsonElement bundle) => [.. bundle.GetProperty("entry").EnumerateArray()];

    private static List<string> Ids(JsonElement bundle) =>
        [.. Entries(bundle).Select(e => e.GetProperty("resource")).Select(r => $"{r.GetProperty("resourceType").GetString()}/{r.GetProperty("id").GetString()}")];

    private static bool Redacted(JsonElement bundle) =>
        bundle.GetProperty("meta").TryGetProperty("security", out var s) && s.EnumerateArray().Any(l => l.GetProperty("code").GetString() == "REDACTED");

    private static IEnumerable<string> References(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => e.EnumerateObject().SelectMany(p =>
            p.Name == "reference" && p.Value.ValueKind == JsonValueKind.String ? [p.Value.GetString()!] : References(p.Value)),
        JsonValueKind.Array => e.EnumerateArray().SelectMany(References),
        _ => [],
    };

    /// <summary>Every reference anywhere in the Bundle names one of its entries (relative references against the entries' base).</summary>
    private static void AssertReferencesResolve(JsonElement bundle)
    {
        var fullUrls = Entries(bundle).Select(e => e.GetProperty("fullUrl").GetString()!).ToList();
        foreach (var reference in References(bundle.GetProperty("entry")))
            Assert.True(fullUrls.Contains(reference) || fullUrls.Any(u => u.EndsWith("/" + reference, StringComparison.Ordinal)), $"{reference} does not resolve in the Bundle");
    }

    [FhirFact]
    public async Task The_document_is_the_Composition_then_everything_it_refers_to_with_absolute_full_urls()
    {
        var bundle = await OkAsync(HolderClinician, "doc-full");
        Assert.Equal("document", bundle.GetProperty("type").GetString());
        Assert.Equal("urn:ietf:rfc:3986", bundle.GetProperty("identifier").GetProperty("system").GetString());
        Assert.Matches("^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", bundle.GetProperty("identifier").GetProperty("value").GetString());
        Assert.True(DateTimeOffset.TryParse(bundle.GetProperty("timestamp").GetString(), out _));
        var entries = Entries(bundle);
        Assert.Equal("Composition/doc-full", Ids(bundle)[0]);
        var fullUrls = entries.Select(e => e.GetProperty("fullUrl").GetString()!).ToList();
        Assert.All(fullUrls, u => Assert.Matches("^https?://[^/]+.*/[A-Za-z]+/[A-Za-z0-9.-]+$", u));
        Assert.Equal(fullUrls.Count, fullUrls.Distinct().Count());
        Assert.All(entries, e => Assert.EndsWith(
            $"/{e.GetProperty("resource").GetProperty("resourceType").GetString()}/{e.GetProperty("resource").GetProperty("id").GetString()}", e.GetProperty("fullUrl").GetString()));
        // Subject, encounter, author/attester, custodian, every section entry; the holder sees the whole record.
        Assert.Equal(
            new[] { "Composition/doc-full", "Patient/adult", "Encounter/doc-visit", "Practitioner/fd", Holder, "Observation/obs-adult", "Observation/doc-dbp",
                "MedicationStatement/doc-med", "Condition/doc-htn", "Condition/cond-adult-psy" }.Order(),
            Ids(bundle).Order());
        AssertReferencesResolve(bundle);
        Assert.False(Redacted(bundle));
        // Valid against the core rules (bdl-9/10/11: identifier, timestamp, the Composition first).
        var outcome = await (await _c.SendAsync(HttpMethod.Post, "/Bundle/$validate", bundle.GetRawText())).JsonAsync();
        var errors = outcome.GetProperty("issue").EnumerateArray().Where(i => i.GetProperty("severity").GetString() is "error" or "fatal").Select(i => i.GetRawText()).ToList();
        Assert.True(errors.Count == 0, string.Join("\n", errors));
        // The same again by POST with a Parameters body, and at type level with the id (or this server's URL of it):
        // the same content, so the same document identifier.
        var identifier = bundle.GetProperty("identifier").GetProperty("value").GetString();
        var posted = await (await _c.SendAsync(HttpMethod.Post, "/Composition/doc-full/$document", """{"resourceType":"Parameters"}""", HolderClinician)).JsonAsync();
        Assert.Equal(identifier, posted.GetProperty("identifier").GetProperty("value").GetString());
        var byId = await (await _c.SendAsync(HttpMethod.Get, "/Composition/$document?id=doc-full", null, HolderClinician)).JsonAsync();
        Assert.Equal(identifier, byId.GetProperty("identifier").GetProperty("value").GetString());
        var baseUrl = fullUrls[0][..fullUrls[0].IndexOf("/Composition/", StringComparison.Ordinal)];
        var byUrl = await (await _c.SendAsync(HttpMethod.Post, "/Composition/$document", Params(("id", "Uri", $"{baseUrl}/Composition/doc-full")), HolderClinician)).JsonAsync();
        Assert.Equal(identifier, byUrl.GetProperty("identifier").GetProperty("value").GetString());
    }

    [FhirFact]
    public async Task The_guardian_gets_the_document_without_the_withheld_diagnosis_and_its_reference_and_the_REDACTED_label()
    {
        var (r, body) = await DocumentAsync(Guardian, "doc-full");
        Assert.True(r.StatusCode == HttpStatusCode.OK, body);
        var bundle = JsonDocument.Parse(body).RootElement;
        Assert.True(Redacted(bundle));
        foreach (var leak in new[] { "cond-adult-psy", "F20", "精神分裂" }) Assert.DoesNotContain(leak, body);
        Assert.Contains("Condition/doc-htn", Ids(bundle));
        Assert.Contains("Observation/doc-dbp", Ids(bundle));
        var composition = Entries(bundle)[0].GetProperty("resource");
        var problems = composition.GetProperty("section").EnumerateArray().Single(s => s.GetProperty("code").GetProperty("coding")[0].GetProperty("code").GetString() == "11450-4");
        Assert.Equal(["Condition/doc-htn"], problems.GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("reference").GetString()));
        Assert.Contains("withheld", problems.GetProperty("text").GetProperty("div").GetString());
        AssertReferencesResolve(bundle);
    }

    [FhirFact]
    public async Task The_resident_gets_every_entry_of_a_document_without_sensitive_content_and_a_clinician_without_consent_gets_the_read_s_404()
    {
        var bundle = await OkAsync(AdultResident, "doc-plain");
        // Every entry is there. The only cut is the severe-mental-disorder key-population tag on the resident's own
        // Patient (the consent rules' redaction of summary resources): that entry says so, and the Bundle with it.
        var patient = Entries(bundle).Single(e => e.GetProperty("resource").GetProperty("resourceType").GetString() == "Patient").GetProperty("resource");
        Assert.True(Redacted(patient));
        Assert.True(Redacted(bundle));
        Assert.All(Entries(bundle).Skip(1).Select(e => e.GetProperty("resource")).Where(r => r.GetProperty("resourceType").GetString() != "Patient"),
            r => Assert.False(Redacted(r)));
        Assert.Equal(["8716-3", "10160-0"], Entries(bundle)[0].GetProperty("resource").GetProperty("section").EnumerateArray()
            .Select(s => s.GetProperty("code").GetProperty("coding")[0].GetProperty("code").GetString()));
        Assert.Equal(
            new[] { "Composition/doc-plain", "Patient/adult", "Encounter/doc-visit", "Practitioner/fd", Holder, "Observation/obs-adult", "Observation/doc-dbp", "MedicationStatement/doc-med" }.Order(),
            Ids(bundle).Order());
        AssertReferencesResolve(bundle);

        var read = await _c.SendAsync(HttpMethod.Get, "/Composition/doc-plain", null, StrangerDoctor);
        var (document, body) = await DocumentAsync(StrangerDoctor, "doc-plain");
        Assert.Equal(HttpStatusCode.NotFound, read.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, document.StatusCode);
        Assert.Equal((await read.JsonAsync()).GetProperty("issue")[0].GetProperty("diagnostics").GetString(),
            JsonDocument.Parse(body).RootElement.GetProperty("issue")[0].GetProperty("diagnostics").GetString());
        Assert.DoesNotContain("adult", body);
    }

    [FhirFact]
    public async Task Persist_stores_the_document_once_and_the_stored_Bundle_is_as_closed_as_its_content()
    {
        var post = HttpMethod.Post;
        var (first, body) = await DocumentAsync(HolderClinician, "doc-full", "?persist=true", post);
        Assert.True(first.StatusCode == HttpStatusCode.Created, body);
        var location = first.Headers.Location!.ToString();
        Assert.Matches("/Bundle/[^/]+/_history/1$", location);
        var stored = JsonDocument.Parse(body).RootElement;
        var id = stored.GetProperty("id").GetString()!;
        var read = await _c.SendAsync(HttpMethod.Get, $"/Bundle/{id}", null, HolderClinician);
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        var readBack = await read.JsonAsync();
        Assert.Equal("document", readBack.GetProperty("type").GetString());
        Assert.Equal(stored.GetProperty("identifier").GetProperty("value").GetString(), readBack.GetProperty("identifier").GetProperty("value").GetString());
        Assert.Equal("Composition/doc-full", Ids(readBack)[0]);
        AssertReferencesResolve(readBack);
        // Signed by the server as answered and as stored (the store's new id and meta are outside the signed form):
        // the stored Bundle verifies at instance level; a changed entry breaks it.
        Assert.Equal("application/jose", readBack.GetProperty("signature").GetProperty("sigFormat").GetString());
        Assert.True(await SignatureValidAsync(await _c.SendAsync(post, $"/Bundle/{id}/$verify-signature", null, HolderClinician)));
        var tampered = System.Text.Json.Nodes.JsonNode.Parse(readBack.GetRawText())!;
        tampered["entry"]![0]!["resource"]!["title"] = "改过的标题 / a changed title";
        Assert.False(await SignatureValidAsync(await _c.SendAsync(post, "/Bundle/$verify-signature", tampered.ToJsonString(), HolderClinician)));

        // The Composition has not changed: the stored document is returned, nothing stored again.
        var (again, againBody) = await DocumentAsync(HolderClinician, "doc-full", "?persist=true", post);
        Assert.True(again.StatusCode == HttpStatusCode.OK, againBody);
        Assert.Equal(id, JsonDocument.Parse(againBody).RootElement.GetProperty("id").GetString());
        Assert.Equal(location, again.Headers.Location!.ToString());
        var byParameters = await _c.SendAsync(post, "/Composition/doc-full/$document", Params(("persist", "Boolean", "true")), HolderClinician);
        Assert.Equal(HttpStatusCode.OK, byParameters.StatusCode);
        Assert.Equal(id, (await byParameters.JsonAsync()).GetProperty("id").GetString());

        // The stored Bundle holds the severe-mental-disorder diagnosis: closed to the guardian and to a stranger, as the data is.
        foreach (var caller in new[] { Guardian, StrangerDoctor })
        {
            var closed = await _c.SendAsync(HttpMethod.Get, $"/Bundle/{id}", null, caller);
            Assert.True(closed.StatusCode == HttpStatusCode.NotFound, $"{caller}: {closed.StatusCode}");
            Assert.DoesNotContain("F20", await closed.Content.ReadAsStringAsync());
        }
    }

    private static async Task<bool> SignatureValidAsync(HttpResponseMessage r)
    {
        var body = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.OK, body);
        return JsonDocument.Parse(body).RootElement.GetProperty("parameter").EnumerateArray()
            .Single(p => p.GetProperty("name").GetString() == "valid").GetProperty("valueBoolean").GetBoolean();
    }

    [FhirFact]
    public async Task The_document_as_answered_is_signed_by_the_server_and_verifies()
    {
        var (r, body) = await DocumentAsync(Guardian, "doc-full");
        Assert.True(r.StatusCode == HttpStatusCode.OK, body);
        // The guardian's redacted view is what is signed: it verifies as answered.
        Assert.Contains("\"signature\"", body);
        Assert.True(await SignatureValidAsync(await _c.SendAsync(HttpMethod.Post, "/Bundle/$verify-signature", body, Guardian)));
    }

    [FhirFact]
    public async Task Preliminary_documents_are_assembled_with_a_warning_but_not_stored()
    {
        var (r, body) = await DocumentAsync(HolderClinician, "doc-draft");
        Assert.True(r.StatusCode == HttpStatusCode.OK, body);
        Assert.Contains("preliminary", string.Join(" ", r.Headers.GetValues("Warning")));
        Assert.Equal("preliminary", Entries(JsonDocument.Parse(body).RootElement)[0].GetProperty("resource").GetProperty("status").GetString());
        var (persisted, outcome) = await DocumentAsync(HolderClinician, "doc-draft", "?persist=true", HttpMethod.Post);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, persisted.StatusCode);
        AssertOutcome(JsonDocument.Parse(outcome).RootElement, "preliminary");
    }

    [FhirFact]
    public async Task A_Composition_claiming_a_shared_document_profile_is_held_to_it_on_write()
    {
        static string Claiming(string type, string sections) => $$$"""
            {"resourceType":"Composition","meta":{"profile":["http://fhirarchive.cn/fhir/StructureDefinition/cn-doc-hypertension-followup"]},"status":"final",
             "type":{"coding":[{"system":"urn:oid:2.16.156.10011.2.4","code":"{{{type}}}"}]},"subject":{"reference":"Patient/adult"},"date":"2026-11-21",
             "author":[{"reference":"Practitioner/fd"}],"title":"高血压患者随访服务记录","custodian":{"reference":"{{{Holder}}}"},"section":[{{{sections}}}]}
            """;
        const string plan = """{"title":"下次随访","code":{"coding":[{"system":"http://loinc.org","code":"18776-5"}]},"entry":[{"reference":"Appointment/doc-next"}]}""";
        var missing = await _c.SendAsync(HttpMethod.Post, "/Composition", Claiming("B0012", $"{Vitals},{plan}"), HolderClinician);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, missing.StatusCode);
        var outcome = await missing.Content.ReadAsStringAsync();
        AssertOutcome(JsonDocument.Parse(outcome).RootElement);
        Assert.Contains("Composition.section:medications", outcome);

        var wrongType = await _c.SendAsync(HttpMethod.Post, "/Composition", Claiming("B0013", $"{Vitals},{Medication},{plan}"), HolderClinician);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, wrongType.StatusCode);
        Assert.Contains("Composition.type", await wrongType.Content.ReadAsStringAsync());

        var wrongEntry = Vitals.Replace("Observation/doc-dbp", "MedicationStatement/doc-med");
        var refused = await _c.SendAsync(HttpMethod.Post, "/Composition", Claiming("B0012", $"{wrongEntry},{Medication},{plan}"), HolderClinician);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
        Assert.Contains("MedicationStatement", await refused.Content.ReadAsStringAsync());

        var created = await _c.SendAsync(HttpMethod.Post, "/Composition", Claiming("B0012", $"{Vitals},{Medication},{plan}"), HolderClinician);
        Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
    }

    [FhirFact]
    public async Task Unknown_deleted_and_bad_input_give_4xx_outcomes()
    {
        var (missing, missingBody) = await DocumentAsync(HolderClinician, "no-such-" + Unique());
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        AssertOutcome(JsonDocument.Parse(missingBody).RootElement);

        var delete = await _c.SendAsync(HttpMethod.Delete, "/Composition/doc-gone", null, HolderClinician);
        Assert.True(delete.IsSuccessStatusCode, delete.StatusCode.ToString());
        var (gone, goneBody) = await DocumentAsync(HolderClinician, "doc-gone");
        Assert.Equal(HttpStatusCode.Gone, gone.StatusCode);
        AssertOutcome(JsonDocument.Parse(goneBody).RootElement);
        // A caller who could not see it before it was deleted learns nothing of it.
        Assert.Equal(HttpStatusCode.NotFound, (await DocumentAsync(StrangerDoctor, "doc-gone")).Response.StatusCode);

        foreach (var (query, status) in new[] { ("?persist=yes", 400), ("?persist=1", 400), ("?id=doc-plain", 400), ("?graph=http://example.org/g", 400) })
        {
            var (r, text) = await DocumentAsync(HolderClinician, "doc-plain", query, HttpMethod.Post);
            Assert.True((int)r.StatusCode == status, $"{query}: {r.StatusCode} {text}");
            AssertOutcome(JsonDocument.Parse(text).RootElement);
        }
        foreach (var typeLevel in new[] { "/Composition/$document", "/Composition/$document?id=http://elsewhere.example/fhir/Composition/doc-plain", "/Composition/$document?id=Patient/adult" })
        {
            var r = await _c.SendAsync(HttpMethod.Get, typeLevel, null, HolderClinician);
            Assert.True(r.StatusCode == HttpStatusCode.BadRequest, $"{typeLevel}: {r.StatusCode}");
            AssertOutcome(await r.JsonAsync());
        }
        var byGet = await DocumentAsync(HolderClinician, "doc-plain", "?persist=true");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, byGet.Response.StatusCode);
        Assert.Equal("POST", byGet.Response.Content.Headers.Allow.Single());
        var notParameters = await _c.SendAsync(HttpMethod.Post, "/Composition/doc-plain/$document", """{"resourceType":"Patient"}""", HolderClinician);
        Assert.Equal(HttpStatusCode.BadRequest, notParameters.StatusCode);
        AssertOutcome(await notParameters.JsonAsync());
    }
}

public sealed class DocumentTests(ConsentFixture fx) : DocumentTestsBase<ConsentFixture>(fx), IClassFixture<ConsentFixture>;
public sealed class PostgresDocumentTests(PostgresConsentFixture fx) : DocumentTestsBase<PostgresConsentFixture>(fx), IClassFixture<PostgresConsentFixture>;

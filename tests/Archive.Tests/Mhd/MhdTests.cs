using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using FhirArchive.Archive.Tests.Consent;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Fhir.Serialization.Xml;
using Xunit;
using static FhirArchive.Archive.Tests.Consent.ConsentData;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Archive.Tests.Mhd;

/// <summary>
/// IHE MHD Document Recipient and Responder on the consent suite's world: ITI-65 with the IHE examples (Minimal with
/// its Patient, Comprehensive, replace), refused submissions that store nothing, ITI-67 and ITI-66 by each
/// parameter, ITI-68 as bytes or as a Binary resource, decided as its document is, and audited with the patient.
/// </summary>
public abstract class MhdTestsBase<TFixture>(TFixture fx) : IAsyncLifetime where TFixture : ServerFixture
{
    private readonly HttpClient _c = fx.Client;
    private static readonly HashSet<object> Seeded = [];
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private const string Pt = "Patient/mhd-pt";
    private const string PtIdentifierSystem = "http://fhirarchive.cn/fhir/sid/test-mrn";
    private const string Strict = "Prefer";

    public async Task InitializeAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (!Seeded.Add(fx)) return;
            await ((IConsentWorld)fx).SeedOnceAsync();
            await Put($$$"""{"resourceType":"Patient","id":"mhd-pt","identifier":[{"system":"{{{PtIdentifierSystem}}}","value":"mrn-mhd-1"}],"birthDate":"1980-02-02","name":[{"family":"Mhd","text":"文档"}],"managingOrganization":{"reference":"{{{Holder}}}"}}""", HolderAdmin);
            await Put("""{"resourceType":"Practitioner","id":"mhd-author","name":[{"family":"Zhang","given":["San"],"text":"张三"}]}""", HolderAdmin);
            await Put("""{"resourceType":"Encounter","id":"mhd-enc","status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},"subject":{"reference":"Patient/mhd-pt"}}""", HolderClinician);
        }
        finally
        {
            Gate.Release();
        }
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private async Task Put(string json, (string, string) caller)
    {
        var root = JsonDocument.Parse(json).RootElement;
        var url = $"/{root.GetProperty("resourceType").GetString()}/{root.GetProperty("id").GetString()}";
        var r = await _c.SendAsync(HttpMethod.Put, url, json, caller);
        Assert.True((int)r.StatusCode is 200 or 201, $"{url}: {await r.Content.ReadAsStringAsync()}");
    }

    /// <summary>An example Bundle of Mhd/data with its placeholders filled (a fresh unique id each time).</summary>
    private static JsonObject Example(string file, string patient = "Patient/adult", string replaced = "")
    {
        var text = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Mhd", "data", file))
            .Replace("{{patient}}", patient).Replace("{{replaced}}", replaced).Replace("{{org}}", Holder)
            .Replace("{{unique}}", Random.Shared.NextInt64(1, long.MaxValue).ToString(System.Globalization.CultureInfo.InvariantCulture));
        return JsonNode.Parse(text)!.AsObject();
    }

    private static JsonObject Res(JsonObject bundle, int entry) => bundle["entry"]![entry]!["resource"]!.AsObject();
    private static JsonObject Doc(JsonObject bundle) => bundle["entry"]!.AsArray().Select(e => e!["resource"]!.AsObject()).Single(r => (string?)r["resourceType"] == "DocumentReference");
    private static JsonObject Attachment(JsonObject bundle) => Doc(bundle)["content"]![0]!["attachment"]!.AsObject();

    private async Task<(HttpResponseMessage Response, JsonElement Body)> ProvideAsync(JsonObject bundle, (string, string)? caller = null, bool xml = false)
    {
        var req = new HttpRequestMessage(HttpMethod.Post, "/");
        var json = bundle.ToJsonString();
        req.Content = xml
            ? Body(FhirXmlSerializer.Serialize(new FhirJsonParser().Parse(json).Resource!), Http.Xml)
            : Body(json);
        var (name, value) = caller ?? HolderClinician;
        req.Headers.TryAddWithoutValidation(name, value);
        req.Headers.TryAddWithoutValidation("Accept", Http.Json);
        var r = await _c.SendAsync(req);
        return (r, await r.JsonAsync());
    }

    /// <summary>Posts the submission, expects it stored; the ids it created by type.</summary>
    private async Task<Dictionary<string, string>> StoreAsync(JsonObject bundle, (string, string)? caller = null, bool xml = false)
    {
        var (r, body) = await ProvideAsync(bundle, caller, xml);
        Assert.True(r.StatusCode == HttpStatusCode.OK, body.GetRawText());
        Assert.Equal("transaction-response", body.GetProperty("type").GetString());
        var ids = new Dictionary<string, string>();
        foreach (var e in body.GetProperty("entry").EnumerateArray())
        {
            var status = e.GetProperty("response").GetProperty("status").GetString()!;
            Assert.True(status.StartsWith("201") || status.StartsWith("200"), status);
            var parts = e.GetProperty("response").GetProperty("location").GetString()!.Split('/');
            if (status.StartsWith("201")) ids[parts[0]] = parts[1];
        }
        return ids;
    }

    private async Task<JsonElement> ReadAsync(string url, (string, string)? caller = null)
    {
        var r = await _c.SendAsync(HttpMethod.Get, url, null, caller ?? HolderClinician);
        var body = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.OK, $"{url}: {r.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement;
    }

    private async Task<List<string>> SearchAsync(string query, (string, string)? caller = null)
    {
        var r = await _c.SendAsync(HttpMethod.Get, query, null, caller ?? HolderClinician, (Strict, "handling=strict"));
        var body = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.OK, $"{query}: {r.StatusCode} {body}");
        var b = JsonDocument.Parse(body).RootElement;
        return b.TryGetProperty("entry", out var es)
            ? [.. es.EnumerateArray().Where(e => e.GetProperty("search").GetProperty("mode").GetString() == "match").Select(e => e.GetProperty("resource").GetProperty("id").GetString()!)]
            : [];
    }

    [FhirFact]
    public async Task A_Binary_whose_security_context_is_a_Patient_is_that_record_s_data()
    {
        // R4 lets securityContext name the Patient itself: the Binary is then as closed as the record.
        var id = "bin-adult-" + Random.Shared.NextInt64(1, long.MaxValue);
        await Put($$$"""{"resourceType":"Binary","id":"{{{id}}}","contentType":"text/plain","securityContext":{"reference":"Patient/adult"},"data":"5L2g5aW9"}""", HolderClinician);
        var own = await RetrieveAsync(id, HolderClinician);
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        Assert.Equal("nosniff", own.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("sandbox", own.Headers.GetValues("Content-Security-Policy").Single());
        foreach (var accept in new[] { "text/plain", "application/fhir+json" })
            Assert.Equal(HttpStatusCode.NotFound, (await RetrieveAsync(id, StrangerDoctor, accept)).StatusCode);
    }

    private async Task<HttpResponseMessage> RetrieveAsync(string binaryId, (string, string) caller, string accept = "text/plain")
    {
        var req = new HttpRequestMessage(HttpMethod.Get, $"/Binary/{binaryId}");
        req.Headers.TryAddWithoutValidation(caller.Item1, caller.Item2);
        req.Headers.TryAddWithoutValidation("Accept", accept);
        return await _c.SendAsync(req);
    }

    [FhirFact]
    public async Task The_IHE_minimal_example_is_stored_with_its_Patient_and_its_document_retrieved_as_its_bytes()
    {
        var ids = await StoreAsync(Example("minimal-provide-bundle.json"));
        Assert.Equal(["Binary", "DocumentReference", "List", "Patient"], ids.Keys.Order());
        var doc = await ReadAsync($"/DocumentReference/{ids["DocumentReference"]}");
        var attachment = doc.GetProperty("content")[0].GetProperty("attachment");
        Assert.Equal($"Binary/{ids["Binary"]}", attachment.GetProperty("url").GetString());
        Assert.Equal($"Patient/{ids["Patient"]}", doc.GetProperty("subject").GetProperty("reference").GetString());
        var list = await ReadAsync($"/List/{ids["List"]}");
        Assert.Equal($"DocumentReference/{ids["DocumentReference"]}", list.GetProperty("entry")[0].GetProperty("item").GetProperty("reference").GetString());

        // ITI-68: the attachment URL answers the bytes in their type; a FHIR Accept gets the Binary resource.
        var raw = await RetrieveAsync(ids["Binary"], HolderClinician);
        Assert.Equal(HttpStatusCode.OK, raw.StatusCode);
        Assert.Equal("text/plain", raw.Content.Headers.ContentType!.MediaType);
        Assert.Equal("Hello World", await raw.Content.ReadAsStringAsync());
        Assert.Equal($"DocumentReference/{ids["DocumentReference"]}", raw.Headers.GetValues("X-Security-Context").Single());
        var any = await RetrieveAsync(ids["Binary"], HolderClinician, "*/*");
        Assert.Equal("Hello World", await any.Content.ReadAsStringAsync());
        var resource = await RetrieveAsync(ids["Binary"], HolderClinician, Http.Json);
        var binary = await resource.JsonAsync();
        Assert.Equal("Binary", binary.GetProperty("resourceType").GetString());
        Assert.Equal($"DocumentReference/{ids["DocumentReference"]}", binary.GetProperty("securityContext").GetProperty("reference").GetString());
    }

    [FhirFact]
    public async Task A_submission_in_XML_is_stored_and_a_bad_one_refused()
    {
        var ids = await StoreAsync(Example("comprehensive-provide-bundle.json"), xml: true);
        Assert.Equal("Hello World", await (await RetrieveAsync(ids["Binary"], HolderClinician)).Content.ReadAsStringAsync());
        var bad = Example("comprehensive-provide-bundle.json");
        Attachment(bad)["size"] = 12;
        var (r, body) = await ProvideAsync(bad, xml: true);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, r.StatusCode);
        AssertOutcome(body, "[attachment-size]");
    }

    [FhirFact]
    public async Task A_replacement_supersedes_the_old_document_in_the_same_transaction()
    {
        var first = await StoreAsync(Example("comprehensive-provide-bundle.json"));
        var old = $"DocumentReference/{first["DocumentReference"]}";
        // The IHE example: the new document relatesTo replaces the old one, and the Source's PATCH sets it superseded.
        var second = await StoreAsync(Example("comprehensive-replace-bundle.json", replaced: old));
        Assert.Equal("superseded", (await ReadAsync($"/{old}")).GetProperty("status").GetString());
        var newer = await ReadAsync($"/DocumentReference/{second["DocumentReference"]}");
        Assert.Equal("current", newer.GetProperty("status").GetString());
        Assert.Equal(old, newer.GetProperty("relatesTo")[0].GetProperty("target").GetProperty("reference").GetString());
        var current = await SearchAsync("/DocumentReference?patient=Patient/adult&status=current&_count=500");
        Assert.Contains(second["DocumentReference"], current);
        Assert.DoesNotContain(first["DocumentReference"], current);

        // Without the PATCH entry the Recipient supersedes it itself.
        var third = Example("comprehensive-replace-bundle.json", replaced: $"DocumentReference/{second["DocumentReference"]}");
        third["entry"]!.AsArray().RemoveAt(1);
        var thirdIds = await StoreAsync(third);
        Assert.Equal("superseded", (await ReadAsync($"/DocumentReference/{second["DocumentReference"]}")).GetProperty("status").GetString());
        Assert.Equal("current", (await ReadAsync($"/DocumentReference/{thirdIds["DocumentReference"]}")).GetProperty("status").GetString());

        // A document superseded already cannot be replaced again; a PATCH that changes more than the status is refused.
        var again = Example("comprehensive-replace-bundle.json", replaced: old);
        var (r1, b1) = await ProvideAsync(again);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, r1.StatusCode);
        AssertOutcome(b1, "[replaces-current]");
        var more = Example("comprehensive-replace-bundle.json", replaced: $"DocumentReference/{thirdIds["DocumentReference"]}");
        more["entry"]![1]!["resource"]!["parameter"]!.AsArray().Add(JsonNode.Parse("""
            {"name":"operation","part":[{"name":"type","valueCode":"add"},{"name":"path","valueString":"DocumentReference"},{"name":"name","valueString":"description"},{"name":"value","valueString":"changed"}]}
            """));
        var (r2, b2) = await ProvideAsync(more);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, r2.StatusCode);
        AssertOutcome(b2, "[replaces]");
        Assert.Equal("current", (await ReadAsync($"/DocumentReference/{thirdIds["DocumentReference"]}")).GetProperty("status").GetString());
        Assert.Empty(await SearchAsync($"/DocumentReference?identifier={Uri.EscapeDataString((string)Doc(more)["masterIdentifier"]!["value"]!)}"));
    }

    [FhirFact]
    public async Task Another_server_s_absolute_references_are_not_taken_for_this_server_s()
    {
        const string elsewhere = "http://records.elsewhere.example.cn/fhir/";
        // A subject on another server is no Patient known here, even when its id is one of ours.
        var foreign = Example("comprehensive-provide-bundle.json");
        Res(foreign, 0)["subject"]!["reference"] = elsewhere + "Patient/adult";
        Doc(foreign)["subject"]!["reference"] = elsewhere + "Patient/adult";
        var (r, body) = await ProvideAsync(foreign);
        Assert.True(r.StatusCode == HttpStatusCode.UnprocessableEntity, body.GetRawText());
        AssertOutcome(body, "[subject]");

        // This server's absolute URL is its own reference: the same patient as the relative one.
        var own = Example("comprehensive-provide-bundle.json");
        Res(own, 0)["subject"]!["reference"] = $"{_c.BaseAddress!.ToString().TrimEnd('/')}/Patient/adult";
        var ids = await StoreAsync(own);

        // A replaced document on another server is not this server's document of the same id: it stays current.
        var replace = Example("comprehensive-replace-bundle.json", replaced: elsewhere + $"DocumentReference/{ids["DocumentReference"]}");
        replace["entry"]!.AsArray().RemoveAt(1);
        var (r2, b2) = await ProvideAsync(replace);
        Assert.True(r2.StatusCode == HttpStatusCode.UnprocessableEntity, b2.GetRawText());
        AssertOutcome(b2, "[replaces-target]");
        Assert.Equal("current", (await ReadAsync($"/DocumentReference/{ids["DocumentReference"]}")).GetProperty("status").GetString());
    }

    [FhirFact]
    public async Task Bad_submissions_are_refused_with_the_rule_they_break_and_nothing_is_stored()
    {
        var cases = new (string Rule, Action<JsonObject> Break, (string, string)? Caller)[]
        {
            ("[submissionset]", b => b["entry"]!.AsArray().RemoveAt(0), null),
            ("[submissionset]", b => b["entry"]!.AsArray().Add(JsonNode.Parse(b["entry"]![0]!.ToJsonString().Replace("e00333300001", "e00333300009"))), null),
            ("[submissionset-member]", b => Res(b, 0).Remove("entry"), null),
            ("[submissionset-source]", b => Res(b, 0)["extension"]!.AsArray().RemoveAt(0), null),
            ("[submissionset-identifier]", b => Res(b, 0).Remove("identifier"), null),
            ("[attachment-hash]", b => Attachment(b)["hash"] = "6OMXIUMAFYfLdQhEaqCS61GZWAk=", null),
            ("[attachment-size]", b => Attachment(b)["size"] = 10, null),
            ("[subject-known]", b => { Res(b, 0)["subject"]!["reference"] = "Patient/no-such-mhd"; Doc(b)["subject"]!["reference"] = "Patient/no-such-mhd"; }, null),
            ("[subject-same]", b => Doc(b)["subject"]!["reference"] = "Patient/minor", null),
            ("[binary-document]", b => Attachment(b)["url"] = "https://documents.example.org/hello.txt", null),
            ("[document-attachment]", b => Attachment(b)["url"] = "urn:oid:1.2.3", null),
            // A Patient the caller may not see is as unknown as a missing one.
            ("[subject-known]", _ => { }, StrangerDoctor),
        };
        var binariesBefore = await CountAsync("/Binary?_summary=count");
        foreach (var (rule, breakIt, caller) in cases)
        {
            var bundle = Example("comprehensive-provide-bundle.json");
            var master = (string)Doc(bundle)["masterIdentifier"]!["value"]!;
            var setId = (string)Res(bundle, 0)["identifier"]![0]!["value"]!;
            breakIt(bundle);
            var (r, body) = await ProvideAsync(bundle, caller);
            Assert.True(r.StatusCode == HttpStatusCode.UnprocessableEntity, $"{rule}: {r.StatusCode} {body}");
            AssertOutcome(body, rule);
            Assert.Empty(await SearchAsync($"/DocumentReference?identifier={Uri.EscapeDataString(master)}"));
            Assert.Empty(await SearchAsync($"/List?identifier={Uri.EscapeDataString(setId)}"));
        }
        Assert.Equal(binariesBefore, await CountAsync("/Binary?_summary=count"));
    }

    /// <summary>A Folder (List of code folder) for the example's document, listed in its SubmissionSet.</summary>
    private static JsonObject WithFolder(JsonObject bundle, string? subject = "Patient/adult")
    {
        var folder = new JsonObject
        {
            ["resourceType"] = "List",
            ["extension"] = JsonNode.Parse("""[{"url":"https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-designationType","valueCodeableConcept":{"coding":[{"system":"http://loinc.org","code":"11369-6"}]}}]"""),
            ["identifier"] = JsonNode.Parse($$"""[{"use":"usual","system":"urn:ietf:rfc:3986","value":"urn:oid:1.2.3.4.5.{{Random.Shared.NextInt64(1, long.MaxValue)}}"}]"""),
            ["status"] = "current",
            ["mode"] = "working",
            ["title"] = "随访文档 / follow-up documents",
            ["code"] = JsonNode.Parse("""{"coding":[{"system":"https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes","code":"folder"}]}"""),
            ["date"] = "2024-05-01T10:00:00+08:00",
            ["entry"] = JsonNode.Parse("""[{"item":{"reference":"urn:uuid:aaaaaaaa-bbbb-cccc-dddd-e00333300002"}}]"""),
        };
        if (subject is not null) folder["subject"] = new JsonObject { ["reference"] = subject };
        const string fullUrl = "urn:uuid:aaaaaaaa-bbbb-cccc-dddd-e00333300005";
        bundle["entry"]!.AsArray().Add(new JsonObject { ["fullUrl"] = fullUrl, ["resource"] = folder, ["request"] = JsonNode.Parse("""{"method":"POST","url":"List"}""") });
        Res(bundle, 0)["entry"]!.AsArray().Add(new JsonObject { ["item"] = new JsonObject { ["reference"] = fullUrl } });
        return bundle;
    }

    [FhirFact]
    public async Task A_Folder_of_the_submission_s_documents_is_stored_and_found_by_ITI_66()
    {
        var bundle = WithFolder(Example("comprehensive-provide-bundle.json"));
        var (r, body) = await ProvideAsync(bundle);
        Assert.True(r.StatusCode == HttpStatusCode.OK, body.GetRawText());
        var lists = body.GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("response").GetProperty("location").GetString()!)
            .Where(l => l.StartsWith("List/")).Select(l => l.Split('/')[1]).ToList();
        Assert.Equal(2, lists.Count);
        var document = body.GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("response").GetProperty("location").GetString()!)
            .Single(l => l.StartsWith("DocumentReference/")).Split('/')[1];
        var folder = (await Task.WhenAll(lists.Select(id => ReadAsync($"/List/{id}")))).Single(l => l.GetProperty("code").GetProperty("coding")[0].GetProperty("code").GetString() == "folder");
        // Its entry now names the stored document, and ITI-66 finds it by its code.
        Assert.Equal($"DocumentReference/{document}", folder.GetProperty("entry")[0].GetProperty("item").GetProperty("reference").GetString());
        var found = await SearchAsync("/List?code=https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes|folder&patient=Patient/adult&_count=500");
        Assert.Contains(folder.GetProperty("id").GetString(), found);
    }

    [FhirFact]
    public async Task Bad_folders_are_refused_and_nothing_is_stored()
    {
        var stored = await StoreAsync(Example("comprehensive-provide-bundle.json"));
        var cases = new (string Rule, Action<JsonObject> Break)[]
        {
            // Not an entry of the SubmissionSet.
            ("[folder-member]", b => Res(b, 0)["entry"]!.AsArray().RemoveAt(1)),
            // A document that is not of this submission (a stored one), and a reference to no document.
            ("[folder-entry]", b => Folder(b)["entry"]![0]!["item"]!["reference"] = $"DocumentReference/{stored["DocumentReference"]}"),
            ("[folder-entry]", b => Folder(b)["entry"]![0]!["item"]!["reference"] = "http://records.elsewhere.example.cn/fhir/DocumentReference/1"),
            ("[folder-entry]", b => Folder(b).Remove("entry")),
            ("[folder-identifier]", b => Folder(b).Remove("identifier")),
            // About another patient; under Comprehensive, about nobody.
            ("[subject-same]", b => Folder(b)["subject"] = JsonNode.Parse("""{"reference":"Patient/minor"}""")),
            ("[subject]", b => Folder(b).Remove("subject")),
        };
        foreach (var (rule, breakIt) in cases)
        {
            var bundle = WithFolder(Example("comprehensive-provide-bundle.json"));
            var master = (string)Doc(bundle)["masterIdentifier"]!["value"]!;
            var folderId = (string)Folder(bundle)["identifier"]?[0]?["value"]!;
            breakIt(bundle);
            var (r, body) = await ProvideAsync(bundle);
            Assert.True(r.StatusCode == HttpStatusCode.UnprocessableEntity, $"{rule}: {r.StatusCode} {body}");
            AssertOutcome(body, rule);
            Assert.Empty(await SearchAsync($"/DocumentReference?identifier={Uri.EscapeDataString(master)}"));
            Assert.Empty(await SearchAsync($"/List?identifier={Uri.EscapeDataString(folderId)}"));
        }
        // A Minimal Folder may leave its subject out.
        var minimal = WithFolder(Example("comprehensive-provide-bundle.json"), subject: null);
        minimal["meta"]!["profile"] = JsonNode.Parse("""["https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.Minimal.ProvideBundle"]""");
        Assert.Equal(HttpStatusCode.OK, (await ProvideAsync(minimal)).Response.StatusCode);
    }

    private static JsonObject Folder(JsonObject bundle) => bundle["entry"]!.AsArray().Select(e => e!["resource"]!.AsObject())
        .Single(r => (string?)r["code"]?["coding"]?[0]?["code"] == "folder");

    /// <summary>Each broken submission is refused with 422 naming its rule, and its document is not stored.</summary>
    private async Task AssertRefusedAsync(Func<JsonObject> submission, (string Rule, Action<JsonObject> Break)[] cases)
    {
        foreach (var (rule, breakIt) in cases)
        {
            var bundle = submission();
            var master = (string)Doc(bundle)["masterIdentifier"]!["value"]!;
            breakIt(bundle);
            var (r, body) = await ProvideAsync(bundle);
            Assert.True(r.StatusCode == HttpStatusCode.UnprocessableEntity, $"{rule}: {r.StatusCode} {body}");
            AssertOutcome(body, rule);
            Assert.Empty(await SearchAsync($"/DocumentReference?identifier={Uri.EscapeDataString(master)}"));
        }
    }

    [FhirFact]
    public async Task Inline_attachment_data_is_checked_as_a_Binary_s_bytes_and_kept()
    {
        // The document's bytes in attachment.data, no Binary: size and hash checked, filled in when left out.
        static JsonObject Inline()
        {
            var b = Example("comprehensive-provide-bundle.json");
            b["entry"]!.AsArray().RemoveAt(2);
            var a = Attachment(b);
            a.Remove("url");
            a["data"] = "SGVsbG8gV29ybGQ=";
            return b;
        }
        var ids = await StoreAsync(Inline());
        Assert.False(ids.ContainsKey("Binary"));
        var attachment = (await ReadAsync($"/DocumentReference/{ids["DocumentReference"]}")).GetProperty("content")[0].GetProperty("attachment");
        Assert.Equal("SGVsbG8gV29ybGQ=", attachment.GetProperty("data").GetString());
        var filled = Inline();
        Attachment(filled).Remove("size");
        Attachment(filled).Remove("hash");
        var filledIds = await StoreAsync(filled);
        attachment = (await ReadAsync($"/DocumentReference/{filledIds["DocumentReference"]}")).GetProperty("content")[0].GetProperty("attachment");
        Assert.Equal(11, attachment.GetProperty("size").GetInt32());
        Assert.Equal("Ck1VqNd45QIvq3AZd8XYQLvEhtA=", attachment.GetProperty("hash").GetString());

        var cases = new (string Rule, Action<JsonObject> Break)[]
        {
            ("[attachment-size]", b => Attachment(b)["size"] = 12),
            ("[attachment-hash]", b => Attachment(b)["hash"] = "6OMXIUMAFYfLdQhEaqCS61GZWAk="),
            ("[document-attachment]", b => Attachment(b)["url"] = "https://documents.example.org/hello.txt"),
        };
        await AssertRefusedAsync(Inline, cases);
    }

    [FhirFact]
    public async Task Attachment_creation_is_kept_as_sent_required_under_Comprehensive_and_never_in_the_future()
    {
        var bundle = Example("comprehensive-provide-bundle.json");
        Attachment(bundle)["creation"] = "2020-02-01T23:50:50.123-05:00";
        var ids = await StoreAsync(bundle);
        var stored = (await ReadAsync($"/DocumentReference/{ids["DocumentReference"]}")).GetProperty("content")[0].GetProperty("attachment");
        Assert.Equal("2020-02-01T23:50:50.123-05:00", stored.GetProperty("creation").GetString());

        var cases = new (string Rule, Action<JsonObject> Break)[]
        {
            ("[attachment-creation]", b => Attachment(b).Remove("creation")),
            ("[attachment-creation]", b => Attachment(b)["creation"] = DateTimeOffset.UtcNow.AddDays(2).ToString("yyyy-MM-ddTHH:mm:ssZ")),
            ("[attachment-creation]", b => Attachment(b)["creation"] = $"{DateTime.UtcNow.Year + 1}"),
        };
        await AssertRefusedAsync(() => Example("comprehensive-provide-bundle.json"), cases);
        // Minimal metadata may leave it out.
        var minimal = Example("comprehensive-provide-bundle.json");
        minimal["meta"]!["profile"] = JsonNode.Parse("""["https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.Minimal.ProvideBundle"]""");
        Attachment(minimal).Remove("creation");
        await StoreAsync(minimal);
    }

    [FhirFact]
    public async Task A_Minimal_SubmissionSet_without_subject_is_filed_with_its_documents_patient_a_Comprehensive_one_is_refused()
    {
        // MHD 4.2: the Minimal SubmissionSet's subject is 0..1, the Comprehensive one's 1..1.
        var minimal = Example("comprehensive-provide-bundle.json");
        minimal["meta"]!["profile"] = JsonNode.Parse("""["https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.Minimal.ProvideBundle"]""");
        Res(minimal, 0).Remove("subject");
        var ids = await StoreAsync(minimal);
        Assert.Equal("Patient/adult", (await ReadAsync($"/DocumentReference/{ids["DocumentReference"]}")).GetProperty("subject").GetProperty("reference").GetString());

        var cases = new (string Rule, Action<JsonObject> Break)[]
        {
            ("[subject]", b => Res(b, 0).Remove("subject")),
            // Minimal: without it, the documents still name one patient between them.
            ("[subject-same]", b =>
            {
                b["meta"]!["profile"] = JsonNode.Parse("""["https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.Minimal.ProvideBundle"]""");
                Res(b, 0).Remove("subject");
                var second = JsonNode.Parse(b["entry"]![1]!.ToJsonString().Replace("e00333300002", "e00333300006").Replace("e00333300003", "e00333300007"))!.AsObject();
                second["resource"]!["subject"]!["reference"] = "Patient/minor";
                second["resource"]!["masterIdentifier"]!["value"] = "urn:oid:1.2.3.9." + Random.Shared.NextInt64(1, long.MaxValue);
                var binary = JsonNode.Parse(b["entry"]![2]!.ToJsonString().Replace("e00333300003", "e00333300007"))!;
                b["entry"]!.AsArray().Add(second);
                b["entry"]!.AsArray().Add(binary);
                Res(b, 0)["entry"]!.AsArray().Add(JsonNode.Parse("""{"item":{"reference":"urn:uuid:aaaaaaaa-bbbb-cccc-dddd-e00333300006"}}"""));
            }),
        };
        await AssertRefusedAsync(() => Example("comprehensive-provide-bundle.json"), cases);
    }

    [FhirFact]
    public async Task The_CapabilityStatement_instantiates_the_Document_Recipient_and_Responder()
    {
        var cs = await ReadAsync("/metadata");
        var instantiates = cs.GetProperty("instantiates").EnumerateArray().Select(i => i.GetString()).ToList();
        Assert.Contains("https://profiles.ihe.net/ITI/MHD/CapabilityStatement/IHE.MHD.DocumentRecipient", instantiates);
        Assert.Contains("https://profiles.ihe.net/ITI/MHD/CapabilityStatement/IHE.MHD.DocumentResponder", instantiates);
    }

    private async Task<int> CountAsync(string url) => (await ReadAsync(url, HolderAdmin)).GetProperty("total").GetInt32();

    /// <summary>A document of Patient/mhd-pt with every ITI-67 metadata element, stored through ITI-65.</summary>
    private async Task<(Dictionary<string, string> Ids, string SetIdentifier)> RichDocumentAsync()
    {
        var bundle = Example("comprehensive-provide-bundle.json", Pt);
        var doc = Doc(bundle);
        doc["author"] = JsonNode.Parse("""[{"reference":"Practitioner/mhd-author"}]""");
        doc["context"]!["event"] = JsonNode.Parse("""[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"PHY"}]}]""");
        doc["context"]!["period"] = JsonNode.Parse("""{"start":"2024-05-01","end":"2024-05-02"}""");
        doc["context"]!["related"] = JsonNode.Parse("""[{"reference":"Encounter/mhd-enc"}]""");
        Res(bundle, 0)["source"] = JsonNode.Parse("""{"reference":"Practitioner/mhd-author"}""");
        return (await StoreAsync(bundle), (string)Res(bundle, 0)["identifier"]![0]!["value"]!);
    }

    [FhirFact]
    public async Task ITI_67_finds_documents_by_each_MHD_parameter_with_GET_and_POST()
    {
        var (ids, _) = await RichDocumentAsync();
        var id = ids["DocumentReference"];
        var p = $"patient={Pt}";
        (string Match, string Miss)[] pairs =
        [
            (p, "patient=Patient/adult"),
            ($"patient.identifier={PtIdentifierSystem}|mrn-mhd-1", $"patient.identifier={PtIdentifierSystem}|mrn-other"),
            ($"{p}&status=current", $"{p}&status=superseded"),
            ($"{p}&category=http://loinc.org|11369-6", $"{p}&category=http://loinc.org|34133-9"),
            ($"{p}&type=http://loinc.org|60591-5", $"{p}&type=http://loinc.org|18842-5"),
            ($"{p}&date=ge2020-02-01", $"{p}&date=lt2020-01-01"),
            ($"{p}&period=ge2024-05-01", $"{p}&period=lt2024-01-01"),
            ($"{p}&facility=http://snomed.info/sct|82242000", $"{p}&facility=http://snomed.info/sct|22232009"),
            ($"{p}&setting=http://snomed.info/sct|408467006", $"{p}&setting=http://snomed.info/sct|394802001"),
            ($"{p}&event=http://terminology.hl7.org/CodeSystem/v3-ActCode|PHY", $"{p}&event=http://terminology.hl7.org/CodeSystem/v3-ActCode|AMB"),
            ($"{p}&security-label=http://terminology.hl7.org/CodeSystem/v3-Confidentiality|R", $"{p}&security-label=http://terminology.hl7.org/CodeSystem/v3-Confidentiality|V"),
            ($"{p}&format=http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode|urn:ihe:iti:xds-sd:text:2008", $"{p}&format=http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode|urn:ihe:iti:xds-sd:pdf:2008"),
            ($"{p}&author.given=San", $"{p}&author.given=Si"),
            ($"{p}&author.family=Zhang", $"{p}&author.family=Li"),
            ($"{p}&related=Encounter/mhd-enc", $"{p}&related=Encounter/enc-adult"),
        ];
        foreach (var (match, miss) in pairs)
        {
            Assert.True((await SearchAsync($"/DocumentReference?{match}")).Contains(id), match);
            Assert.False((await SearchAsync($"/DocumentReference?{miss}")).Contains(id), miss);
        }
        var post = new HttpRequestMessage(HttpMethod.Post, "/DocumentReference/_search")
        {
            Content = new FormUrlEncodedContent([new("patient", Pt), new("status", "current"), new("type", "http://loinc.org|60591-5")]),
        };
        post.Headers.TryAddWithoutValidation(HolderClinician.Item1, HolderClinician.Item2);
        var found = await (await _c.SendAsync(post)).JsonAsync();
        Assert.Contains(found.GetProperty("entry").EnumerateArray(), e => e.GetProperty("resource").GetProperty("id").GetString() == id);
    }

    [FhirFact]
    public async Task ITI_66_finds_SubmissionSets_by_code_patient_status_date_designationType_source_identifier_and_sourceId()
    {
        var (ids, setIdentifier) = await RichDocumentAsync();
        var list = ids["List"];
        var q = $"code=https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes|submissionset&patient={Pt}";
        (string Match, string Miss)[] pairs =
        [
            (q, $"code=https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes|folder&patient={Pt}"),
            ($"{q}&status=current", $"{q}&status=retired"),
            ($"{q}&date=ge2004-10-25", $"{q}&date=lt2004-01-01"),
            ($"{q}&designationType=http://snomed.info/sct|225728007", $"{q}&designationType=http://snomed.info/sct|284548004"),
            ($"{q}&source=Practitioner/mhd-author", $"{q}&source=Practitioner/fd"),
            ($"{q}&identifier=urn:ietf:rfc:3986|{Uri.EscapeDataString(setIdentifier)}", $"{q}&identifier=urn:ietf:rfc:3986|urn:oid:1.2.3.999"),
            ($"{q}&sourceId=urn:oid:1.2.3.4", $"{q}&sourceId=urn:oid:1.2.3.5"),
        ];
        foreach (var (match, miss) in pairs)
        {
            Assert.True((await SearchAsync($"/List?{match}")).Contains(list), match);
            Assert.False((await SearchAsync($"/List?{miss}")).Contains(list), miss);
        }
    }

    [FhirFact]
    public async Task ITI_68_decides_a_Binary_as_its_document_and_audits_the_retrieval_with_the_patient()
    {
        var open = await StoreAsync(Example("comprehensive-provide-bundle.json"));
        // A document about schizophrenia (ICD-10 F20.0) is labelled as that information is, and so is its Binary.
        var closed = Example("comprehensive-provide-bundle.json");
        Doc(closed)["context"]!["event"] = JsonNode.Parse($$$"""[{"coding":[{"system":"{{{Icd10}}}","code":"F20.0"}]}]""");
        var closedIds = await StoreAsync(closed);
        var labels = (await ReadAsync($"/DocumentReference/{closedIds["DocumentReference"]}")).GetProperty("meta").GetProperty("security").EnumerateArray()
            .Select(s => s.GetProperty("code").GetString()).ToList();
        Assert.Contains("PSY", labels);

        Assert.Equal(HttpStatusCode.OK, (await RetrieveAsync(closedIds["Binary"], HolderClinician)).StatusCode);
        // The authorised hospital reads the adult's ordinary documents, not the mental-health one: 404, as for a missing Binary.
        Assert.Equal("Hello World", await (await RetrieveAsync(open["Binary"], AuthorisedDoctor)).Content.ReadAsStringAsync());
        foreach (var accept in new[] { "text/plain", Http.Json })
        {
            var hidden = await RetrieveAsync(closedIds["Binary"], AuthorisedDoctor, accept);
            var missing = await RetrieveAsync("no-such-binary", AuthorisedDoctor, accept);
            Assert.Equal(HttpStatusCode.NotFound, hidden.StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
            AssertOutcome(await hidden.JsonAsync());
        }
        Assert.Equal(HttpStatusCode.NotFound, (await _c.SendAsync(HttpMethod.Get, $"/DocumentReference/{closedIds["DocumentReference"]}", null, AuthorisedDoctor)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await RetrieveAsync(open["Binary"], StrangerDoctor)).StatusCode);
        // The resident retrieves their own document (patient-scoped token); another resident does not.
        Assert.Equal("Hello World", await (await RetrieveAsync(open["Binary"], AdultResident)).Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await RetrieveAsync(open["Binary"], MinorResident)).StatusCode);
        Assert.DoesNotContain(closedIds["DocumentReference"], await SearchAsync("/DocumentReference?patient=Patient/adult&_count=500", AuthorisedDoctor));

        // The retrieval is audited as a read of the Binary naming the patient it is about.
        var events = (await ReadAsync("/AuditEvent?patient=Patient/adult&_count=500", TestCallers.Auditor)).GetProperty("entry").EnumerateArray()
            .Select(e => e.GetProperty("resource").GetRawText()).Where(e => e.Contains($"Binary/{open["Binary"]}")).ToList();
        Assert.Contains(events, e => e.Contains("Practitioner/doc") && e.Contains("Patient/adult"));
    }
}

public sealed class MhdTests(ConsentFixture fx) : MhdTestsBase<ConsentFixture>(fx), IClassFixture<ConsentFixture>;
public sealed class PostgresMhdTests(PostgresConsentFixture fx) : MhdTestsBase<PostgresConsentFixture>(fx), IClassFixture<PostgresConsentFixture>;

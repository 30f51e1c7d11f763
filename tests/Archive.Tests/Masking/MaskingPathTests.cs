using System.Net;
using System.Text;
using System.Text.Json;
using FhirArchive.Archive.Consent;
using FhirArchive.Rest.Access;
using FhirArchive.Server.SampleData;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Archive.Tests.Masking;

/// <summary>A server with the consent rules as shipped and a small world for masking (seeded once).</summary>
public sealed class MaskingFixture() : ServerFixtureWith(null, TestCallers.Register)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private bool _seeded;

    public async Task SeedOnceAsync()
    {
        await _gate.WaitAsync();
        try
        {
            if (_seeded) return;
            await MaskingWorld.SeedAsync(Client);
            _seeded = true;
        }
        finally { _gate.Release(); }
    }
}

/// <summary>
/// The masking world: a community health centre holding two records (an elderly resident with an ID card number, an
/// MRN, phones, an address, a guardian, an observation whose note names a phone, a document with its Binary, a
/// Composition), the resident's authorisation for another hospital's doctor, a family doctor of another clinic.
/// </summary>
public static class MaskingWorld
{
    public const string Holder = "Organization/mk-holder";
    public const string Hospital = "Organization/mk-hospital";
    public const string Clinic = "Organization/mk-fd-clinic";
    public const string OffSiteCentre = "Organization/mk-offsite";
    public const string IdCardSystem = "urn:oid:2.16.156.10011.1.3";
    public const string MrnSystem = "http://fhirarchive.cn/fhir/sid/mrn/mk-hospital";
    public static readonly string IdCard = SampleDataLoader.IdCardNumber("110105", "1950-03-04", "123");
    public static readonly string IdCard2 = SampleDataLoader.IdCardNumber("110105", "1952-07-08", "125");
    public const string Mrn = "MK20240317";
    public const string Mobile = "13812341234";
    public const string ContactMobile = "13900001111";
    public const string GuardianMobile = "13700002222";
    public const string NoteMobile = "13600003333";
    public const string Line = "建国路88号院3号楼";
    public const string WorkMobile = "13311112222";
    public static string MaskedIdCard => IdCard[..6] + "********" + IdCard[^4..];
    public static string MaskedIdCard2 => IdCard2[..6] + "********" + IdCard2[^4..];

    public static readonly (string, string) HolderClinician = TestCallers.As("mk-hdoc", Roles.Clinician, org: Holder, practitioner: "Practitioner/mk-hdoc");
    public static readonly (string, string) HolderAdmin = TestCallers.As("mk-admin", Roles.RecordAdministrator, org: Holder, practitioner: "Practitioner/mk-admin");
    public static readonly (string, string) HolderSystem = TestCallers.As("mk-his", Roles.SystemClient, org: Holder, kind: "system");
    public static readonly (string, string) FamilyDoctor = TestCallers.As("mk-fd", Roles.FamilyDoctor, org: Clinic, practitioner: "Practitioner/mk-fd");
    public static readonly (string, string) Resident = TestCallers.As("mk-res", Roles.Resident, patient: "Patient/mk-p", practitioner: "Patient/mk-p");
    public static readonly (string, string) Guardian = TestCallers.As("mk-grd", Roles.Guardian, patient: "Patient/mk-p", practitioner: "RelatedPerson/mk-guardian");
    public static readonly (string, string) AuthorisedDoctor = TestCallers.As("mk-auth", Roles.Clinician, org: Hospital, practitioner: "Practitioner/mk-auth");
    public static readonly (string, string) OffSiteDoctor = TestCallers.As("mk-os", Roles.Clinician, org: OffSiteCentre, practitioner: "Practitioner/mk-os");
    public static readonly (string, string) PublicHealth = TestCallers.As("mk-cdc", Roles.PublicHealthOfficer, jurisdiction: "110105");
    /// <summary>A CDC's surveillance system: public health's view (masked), and a system client's writes and Subscriptions.</summary>
    public static readonly (string, string) PublicHealthSystem =
        TestCallers.As("mk-cdc-sys", $"{Roles.PublicHealthOfficer},{Roles.SystemClient}", kind: "system", jurisdiction: "110105");
    public static readonly (string, string) HealthAdmin = TestCallers.As("mk-hc", Roles.HealthAdministrationOfficer, jurisdiction: "110000");
    public static readonly (string, string) MentalHealth = TestCallers.As("mk-mh", Roles.MentalHealthStaff, jurisdiction: "110105");
    public static readonly (string, string) Researcher = TestCallers.As("mk-rs", Roles.Researcher);
    public static readonly (string, string) Auditor = TestCallers.As("mk-aud", Roles.Auditor);

    private static string B64(string s) => Convert.ToBase64String(Encoding.UTF8.GetBytes(s));

    public static async Task SeedAsync(HttpClient c)
    {
        async Task Put(string json, (string, string)? caller = null)
        {
            var root = JsonDocument.Parse(json).RootElement;
            var url = $"/{root.GetProperty("resourceType").GetString()}/{root.GetProperty("id").GetString()}";
            var r = caller is null ? await c.PutAsync(url, Body(json)) : await c.SendAsync(HttpMethod.Put, url, json, caller.Value);
            if ((int)r.StatusCode is not (200 or 201)) throw new Exception($"seed {url}: {r.StatusCode} {await r.Content.ReadAsStringAsync()}");
        }
        const string division = """{"url":"http://fhirarchive.cn/fhir/StructureDefinition/cn-division-code","valueCoding":{"system":"http://fhirarchive.cn/fhir/CodeSystem/gbt-2260-admin-division","code":"110105001","display":"建外街道"}}""";
        foreach (var org in new[] { Holder, Hospital, Clinic, OffSiteCentre })
            await Put($$$"""{"resourceType":"Organization","id":"{{{org.Split('/')[1]}}}","extension":[{{{division}}}],"name":"{{{org}}}"}""");
        foreach (var p in new[] { "mk-fd", "mk-hdoc", "mk-auth", "mk-os", "mk-admin" })
            await Put($$$"""{"resourceType":"Practitioner","id":"{{{p}}}","name":[{"text":"{{{p}}}"}],"telecom":[{"system":"phone","value":"{{{WorkMobile}}}"}]}""");
        string Patient(string id, string card, string birth, string mobile) => $$$"""
            {"resourceType":"Patient","id":"{{{id}}}","meta":{"profile":["{{{FhirArchive.Profiles.CnProfiles.ResidentPatient}}}"]},"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">张伟 {{{card}}} {{{mobile}}}</div>"},
             "identifier":[{"system":"{{{IdCardSystem}}}","value":"{{{card}}}"},{"system":"{{{MrnSystem}}}","value":"{{{Mrn}}}{{{id}}}"}],
             "name":[{"text":"张伟","family":"张","given":["伟"]}],"gender":"male","birthDate":"{{{birth}}}",
             "telecom":[{"system":"phone","value":"{{{mobile}}}"}],
             "address":[{"text":"北京市朝阳区{{{Line}}}","line":["{{{Line}}}"],"city":"北京市","district":"朝阳区","extension":[{{{division}}}]}],
             "contact":[{"relationship":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0131","code":"C"}]}],"name":{"text":"李娜"},"telecom":[{"system":"phone","value":"{{{ContactMobile}}}"}]}],
             "managingOrganization":{"reference":"{{{Holder}}}"},"generalPractitioner":[{"reference":"Practitioner/mk-fd"}]}
            """;
        await Put(Patient("mk-p", IdCard, "1950-03-04", Mobile), HolderAdmin);
        await Put(Patient("mk-p2", IdCard2, "1952-07-08", "13512345678"), HolderAdmin);
        // The hospital's MRN domain, registered for it once its records are on file (as PIXm knows it): its own numbers.
        await Put($$$"""
            {"resourceType":"NamingSystem","id":"mrn-mk-hospital","name":"MrnMkHospital","status":"active","kind":"identifier","date":"2026-12-07",
             "useContext":[{"code":{"system":"http://terminology.hl7.org/CodeSystem/usage-context-type","code":"venue"},"valueReference":{"reference":"{{{Hospital}}}"}}],
             "uniqueId":[{"type":"uri","value":"{{{MrnSystem}}}","preferred":true}]}
            """);
        await Put($$$"""
            {"resourceType":"RelatedPerson","id":"mk-guardian","patient":{"reference":"Patient/mk-p"},
             "extension":[{"url":"{{{ConsentTerms.GuardianshipExtension}}}","valueCodeableConcept":{"coding":[{"system":"{{{ConsentTerms.GuardianshipSystem}}}","code":"statutory"}]}}],
             "name":[{"text":"张强"}],"telecom":[{"system":"phone","value":"{{{GuardianMobile}}}"}]}
            """, HolderAdmin);
        await Put($$$"""
            {"resourceType":"Observation","id":"mk-obs","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}],"text":"收缩压"},
             "subject":{"reference":"Patient/mk-p"},"effectiveDateTime":"2026-11-01T09:00:00+08:00","valueQuantity":{"value":128,"unit":"mmHg"},
             "note":[{"text":"家属电话{{{NoteMobile}}}"}]}
            """, HolderClinician);
        await Put($$$"""
            {"resourceType":"DocumentReference","id":"mk-docref","status":"current",
             "subject":{"reference":"Patient/mk-p","identifier":{"system":"{{{IdCardSystem}}}","value":"{{{IdCard}}}"}},
             "content":[{"attachment":{"contentType":"text/plain","url":"Binary/mk-bin"}}]}
            """, HolderClinician);
        await Put($$$"""{"resourceType":"Binary","id":"mk-bin","contentType":"text/plain","securityContext":{"reference":"DocumentReference/mk-docref"},"data":"{{{B64($"出院小结：张伟，身份证{IdCard}，电话{Mobile}")}}}"}""", HolderClinician);
        await Put($$$"""{"resourceType":"Binary","id":"mk-pdf","contentType":"application/pdf","securityContext":{"reference":"Patient/mk-p"},"data":"JVBERi0xLjQ="}""", HolderClinician);
        await Put("""
            {"resourceType":"Composition","id":"mk-comp","status":"final","type":{"text":"出院小结"},"subject":{"reference":"Patient/mk-p"},"date":"2026-11-01",
             "author":[{"reference":"Practitioner/mk-hdoc"}],"title":"出院小结","section":[{"title":"观察","entry":[{"reference":"Observation/mk-obs"}]}]}
            """, HolderClinician);

        var now = DateTimeOffset.UtcNow;
        string Iso(DateTimeOffset t) => t.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");
        string Actor(string reference) => $$$"""{"role":{"coding":[{"system":"{{{ConsentTerms.ParticipationSystem}}}","code":"IRCP"}]},"reference":{"reference":"{{{reference}}}"}}""";
        string Consent(string id, string category, string performer, string actors, string purposes) => $$$"""
            {"resourceType":"Consent","id":"{{{id}}}","status":"active",
             "scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
             "category":[{"coding":[{"system":"{{{ConsentTerms.CategorySystem}}}","code":"{{{category}}}"}]}],
             "patient":{"reference":"Patient/mk-p"},"dateTime":"{{{Iso(now.AddDays(-1))}}}","performer":[{"reference":"{{{performer}}}"}],
             "organization":[{"reference":"{{{Holder}}}"}],
             "provision":{"type":"permit","period":{"start":"{{{Iso(now.AddDays(-1))}}}","end":"{{{Iso(now.AddYears(1))}}}"},"actor":[{{{actors}}}]{{{purposes}}}}}
            """;
        await Put(Consent("mk-open", ConsentTerms.ResidentOpening, "Practitioner/mk-fd", Actor("Patient/mk-p"), ""), HolderAdmin);
        await Put(Consent("mk-grant", ConsentTerms.RecordAccess, "Patient/mk-p", Actor(Hospital) + "," + Actor("Practitioner/mk-auth"),
            $$$""","purpose":[{"system":"{{{ConsentTerms.PurposeSystem}}}","code":"TREAT"}]"""), HolderAdmin);
    }
}

/// <summary>
/// Masking by role on every read path, with real tokens: each role reads 张伟's record; the masked roles get
/// 110105********xxxx, 138****1234 and a hidden address line with the MASKED label (on the resource and its Bundle), the
/// full-view roles the values as stored and no label.
/// </summary>
public sealed class MaskingPathTests(MaskingFixture fx) : IClassFixture<MaskingFixture>, IAsyncLifetime
{
    private readonly HttpClient _c = fx.Client;
    public Task InitializeAsync() => fx.SeedOnceAsync();
    public Task DisposeAsync() => Task.CompletedTask;

    internal const string Masked = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue|MASKED";
    private static readonly string[] ClearValues = [MaskingWorld.IdCard, MaskingWorld.Mobile, MaskingWorld.ContactMobile, MaskingWorld.Line];

    public static TheoryData<string, bool> Roles => new()
    {
        { "holder clinician", false }, { "holder record administrator", false }, { "holder system", false }, { "signed family doctor", false },
        { "resident", false }, { "guardian", false }, { "platform client", false },
        { "authorised clinician elsewhere", true }, { "public-health officer", true }, { "health-administration officer", true }, { "mental-health staff", true },
    };

    private static (string, string)? Caller(string role) => role switch
    {
        "holder clinician" => MaskingWorld.HolderClinician,
        "holder record administrator" => MaskingWorld.HolderAdmin,
        "holder system" => MaskingWorld.HolderSystem,
        "signed family doctor" => MaskingWorld.FamilyDoctor,
        "resident" => MaskingWorld.Resident,
        "guardian" => MaskingWorld.Guardian,
        "platform client" => null,
        "authorised clinician elsewhere" => MaskingWorld.AuthorisedDoctor,
        "public-health officer" => MaskingWorld.PublicHealth,
        "health-administration officer" => MaskingWorld.HealthAdmin,
        "mental-health staff" => MaskingWorld.MentalHealth,
        "researcher" => MaskingWorld.Researcher,
        "auditor" => MaskingWorld.Auditor,
        "off-site clinician" => MaskingWorld.OffSiteDoctor,
        _ => throw new ArgumentException(role),
    };

    private Task<HttpResponseMessage> Send(HttpMethod m, string url, string? body, (string, string)? caller) =>
        caller is { } c ? _c.SendAsync(m, url, body, c) : m == HttpMethod.Get ? _c.GetAsync(url) : _c.SendAsync(m, url, body);

    private async Task<string> Ok(HttpMethod m, string url, string? body, (string, string)? caller)
    {
        var r = await Send(m, url, body, caller);
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.OK, $"{m} {url}: {r.StatusCode} {text}");
        return text;
    }

    /// <summary>The security labels of a resource as system|code.</summary>
    internal static List<string> Labels(JsonElement resource) =>
        resource.TryGetProperty("meta", out var meta) && meta.TryGetProperty("security", out var s)
            ? [.. s.EnumerateArray().Select(l => $"{l.GetProperty("system").GetString()}|{l.GetProperty("code").GetString()}")]
            : [];

    /// <summary>Every Patient in the answer (top-level, in a Bundle, in Parameters), found wherever it is.</summary>
    private static List<JsonElement> Patients(JsonElement e)
    {
        var found = new List<JsonElement>();
        void Walk(JsonElement x)
        {
            if (x.ValueKind == JsonValueKind.Object)
            {
                if (x.TryGetProperty("resourceType", out var t) && t.GetString() == "Patient") found.Add(x);
                foreach (var p in x.EnumerateObject()) Walk(p.Value);
            }
            else if (x.ValueKind == JsonValueKind.Array) foreach (var i in x.EnumerateArray()) Walk(i);
        }
        Walk(e);
        return found;
    }

    /// <summary>
    /// The answer without the Bundles' links: a search's self link repeats the caller's own criteria (a full number
    /// searched by is their input, not the record's disclosure).
    /// </summary>
    private static string WithoutLinks(string body)
    {
        if (!body.TrimStart().StartsWith('{') && !body.TrimStart().StartsWith('[')) return body;
        var node = System.Text.Json.Nodes.JsonNode.Parse(body)!;
        void Strip(System.Text.Json.Nodes.JsonNode? n)
        {
            if (n is System.Text.Json.Nodes.JsonObject o)
            {
                if (o["resourceType"]?.GetValue<string>() == "Bundle") o.Remove("link");
                foreach (var (_, v) in o.ToList()) Strip(v);
            }
            else if (n is System.Text.Json.Nodes.JsonArray a) foreach (var i in a) Strip(i);
        }
        Strip(node);
        return node.ToJsonString(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }

    private static void AssertMasked(string body, string what)
    {
        body = WithoutLinks(body);
        foreach (var clear in ClearValues) Assert.False(body.Contains(clear), $"{what}: {clear} shown in full");
        Assert.Contains(MaskingWorld.MaskedIdCard, body);
        Assert.Contains("138****1234", body);
    }

    /// <summary>The read paths, each answering 张伟's Patient (mk-p) somewhere in its JSON.</summary>
    public static TheoryData<string> Paths => new()
    {
        "read", "vread", "search", "search by identifier (PDQm)", "search _include", "search _revinclude", "compartment search",
        "history instance", "history type", "history system", "paging", "batch", "transaction", "$everything", "$summary", "$document",
        "$match (PDQm)", "_elements", "_summary=true",
    };

    private async Task<string> PathAsync(string path, (string, string)? caller)
    {
        var get = (string url) => Ok(HttpMethod.Get, url, null, caller);
        var idCard = Uri.EscapeDataString($"{MaskingWorld.IdCardSystem}|{MaskingWorld.IdCard}");
        switch (path)
        {
            case "read": return await get("/Patient/mk-p");
            case "vread": return await get("/Patient/mk-p/_history/1");
            case "search": return await get("/Patient?_id=mk-p");
            case "search by identifier (PDQm)": return await get($"/Patient?identifier={idCard}");
            case "search _include": return await get("/Observation?_id=mk-obs&_include=Observation:subject");
            case "search _revinclude": return await get("/Patient?_id=mk-p&_revinclude=Observation:subject");
            case "compartment search": return await get("/Patient?_id=mk-p&_revinclude=RelatedPerson:patient");
            case "history instance": return await get("/Patient/mk-p/_history");
            case "history type": return await get("/Patient/_history?_count=100");
            case "history system": return await get("/_history?_count=1000");
            case "paging":
            {
                // Both records of the holder, one per page, the pages as one JSON array.
                var pages = new List<string>();
                string? url = "/Patient?organization=" + MaskingWorld.Holder + "&_count=1&_sort=_id";
                for (var i = 0; url is not null && i < 5; i++)
                {
                    var page = await get(url);
                    pages.Add(page);
                    url = JsonDocument.Parse(page).RootElement.GetProperty("link").EnumerateArray()
                        .Where(l => l.GetProperty("relation").GetString() == "next").Select(l => new Uri(l.GetProperty("url").GetString()!).PathAndQuery).FirstOrDefault();
                }
                // Who may see both records reads them on two pages; the resident and the authorised doctor see one.
                Assert.NotEmpty(pages);
                return "[" + string.Join(",", pages) + "]";
            }
            case "batch":
                return await Ok(HttpMethod.Post, "/", """
                    {"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Patient/mk-p"}},{"request":{"method":"GET","url":"Patient?_id=mk-p"}}]}
                    """, caller);
            case "transaction":
                return await Ok(HttpMethod.Post, "/", """
                    {"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"GET","url":"Patient/mk-p"}}]}
                    """, caller);
            case "$everything": return await get("/Patient/mk-p/$everything");
            case "$summary": return await get("/Patient/mk-p/$summary");
            case "$document": return await get("/Composition/mk-comp/$document");
            case "$match (PDQm)":
                return await Ok(HttpMethod.Post, "/Patient/$match", $$$"""
                    {"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Patient","identifier":[{"system":"{{{MaskingWorld.IdCardSystem}}}","value":"{{{MaskingWorld.IdCard}}}"}]}}]}
                    """, caller);
            case "_elements": return await get("/Patient/mk-p?_elements=identifier,telecom,contact,address");
            case "_summary=true": return await get("/Patient/mk-p?_summary=true");
            default: throw new ArgumentException(path);
        }
    }

    /// <summary>The role-by-path matrix: every path for a masked role and for a full-view role.</summary>
    public static TheoryData<string, string> Matrix
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var path in (IEnumerable<object[]>)Paths)
                foreach (var role in new[] { "authorised clinician elsewhere", "public-health officer", "holder clinician", "resident" })
                    data.Add((string)path[0], role);
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Every_read_path_masks_for_masked_roles_and_shows_full_values_to_full_view_roles(string path, string role)
    {
        var masked = ((IEnumerable<object[]>)Roles).Single(r => (string)r[0] == role)[1] is true;
        var body = await PathAsync(path, Caller(role));
        var root = JsonDocument.Parse(body).RootElement;
        if (masked)
        {
            AssertMasked(body, $"{path} as {role}");
            var patients = Patients(root);
            Assert.NotEmpty(patients);
            Assert.All(patients, p => Assert.Contains(Masked, Labels(p)));
            // The Bundle that holds a masked resource carries the label too (each page of a paged search).
            foreach (var answer in root.ValueKind == JsonValueKind.Array ? [.. root.EnumerateArray()] : new[] { root })
                if (answer.GetProperty("resourceType").GetString() is "Bundle") Assert.Contains(Masked, Labels(answer));
            if (path == "paging" && role == "public-health officer")
            {
                Assert.Equal(2, root.GetArrayLength());
                Assert.Contains(MaskingWorld.MaskedIdCard2, body);
                Assert.DoesNotContain(MaskingWorld.IdCard2, body);
            }
        }
        else
        {
            Assert.Contains(MaskingWorld.IdCard, body);
            Assert.Contains(MaskingWorld.Mobile, body);
            Assert.DoesNotContain("********", body);
            Assert.DoesNotContain("MASKED", body);
        }
    }

    [Theory]
    [MemberData(nameof(Roles))]
    public async Task Each_role_reads_the_record_masked_or_in_full_as_the_rule_says(string role, bool masked)
    {
        var patient = JsonDocument.Parse(await Ok(HttpMethod.Get, "/Patient/mk-p", null, Caller(role))).RootElement;
        var identifiers = patient.GetProperty("identifier").EnumerateArray().Select(i => i.GetProperty("value").GetString()!).ToList();
        // As stored (the holder's view): the ID card, the MRN, and the health record number the record rules assigned.
        var stored = JsonDocument.Parse(await Ok(HttpMethod.Get, "/Patient/mk-p", null, MaskingWorld.HolderClinician)).RootElement
            .GetProperty("identifier").EnumerateArray().Select(i => i.GetProperty("value").GetString()!).ToList();
        Assert.Equal([MaskingWorld.IdCard, MaskingWorld.Mrn + "mk-p"], stored.Take(2));
        Assert.Equal(3, stored.Count);
        Assert.Matches("^[0-9]{17}$", stored[2]);
        var phone = patient.GetProperty("telecom")[0].GetProperty("value").GetString();
        var contact = patient.GetProperty("contact")[0].GetProperty("telecom")[0].GetProperty("value").GetString();
        var line = patient.GetProperty("address")[0].GetProperty("line")[0].GetString();
        if (masked)
        {
            // The hospital's own MRN is its own number: shown to its staff in full, masked to everyone else.
            var mrn = role == "authorised clinician elsewhere" ? stored[1] : MaskedMrn();
            Assert.Equal([MaskingWorld.MaskedIdCard, mrn, new string('*', 13) + stored[2][^4..]], identifiers);
            Assert.Equal("138****1234", phone);
            Assert.Equal("139****1111", contact);
            Assert.Equal("***", line);
            Assert.Contains(Masked, Labels(patient));
            Assert.False(patient.TryGetProperty("text", out _));
            // Names are masked for the de-identified view only (research; health administration, seed 001 第十七条).
            Assert.Equal(role == "health-administration officer" ? "张*" : "张伟", patient.GetProperty("name")[0].GetProperty("text").GetString());
            // The birth date is told in full to those who give care, as its year to the rest (it restores the ID card's digits).
            Assert.Equal(role == "authorised clinician elsewhere" ? "1950-03-04" : "1950", patient.GetProperty("birthDate").GetString());
        }
        else
        {
            Assert.Equal(stored, identifiers);
            Assert.Equal(MaskingWorld.Mobile, phone);
            Assert.Equal(MaskingWorld.ContactMobile, contact);
            Assert.Equal(MaskingWorld.Line, line);
            Assert.DoesNotContain(Masked, Labels(patient));
        }
    }

    private static string MaskedMrn()
    {
        var mrn = MaskingWorld.Mrn + "mk-p";
        return new string('*', mrn.Length - 4) + mrn[^4..];
    }

    [Theory]
    [InlineData("researcher")]
    [InlineData("auditor")]
    public async Task Researchers_and_auditors_do_not_read_records_at_all(string role)
    {
        // The consent rules hide records from them (researchers get de-identified exports; auditors read the trail):
        // masking has nothing to add, and the answer holds nothing of the record.
        var r = await Send(HttpMethod.Get, "/Patient/mk-p", null, Caller(role));
        Assert.True(r.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Forbidden, $"{role}: {r.StatusCode}");
        var body = await r.Content.ReadAsStringAsync();
        foreach (var clear in ClearValues) Assert.DoesNotContain(clear, body);
    }

    [Fact]
    public async Task The_guardian_s_own_phone_and_an_observation_s_note_are_masked_for_a_masked_role()
    {
        var guardian = await Ok(HttpMethod.Get, "/RelatedPerson/mk-guardian", null, MaskingWorld.AuthorisedDoctor);
        Assert.Contains("137****2222", guardian);
        Assert.DoesNotContain(MaskingWorld.GuardianMobile, guardian);
        Assert.Contains(MaskingWorld.GuardianMobile, await Ok(HttpMethod.Get, "/RelatedPerson/mk-guardian", null, MaskingWorld.HolderClinician));
        var obs = await Ok(HttpMethod.Get, "/Observation/mk-obs", null, MaskingWorld.AuthorisedDoctor);
        Assert.Contains("家属电话136****3333", obs);
        Assert.Contains(Masked, Labels(JsonDocument.Parse(obs).RootElement));
        Assert.Contains(MaskingWorld.NoteMobile, await Ok(HttpMethod.Get, "/Observation/mk-obs", null, MaskingWorld.HolderClinician));
    }

    [Fact]
    public async Task What_is_no_resident_s_record_data_is_not_masked()
    {
        // A family doctor's work phone is there to be called: practitioners and institutions are nobody's record.
        var doctor = await Ok(HttpMethod.Get, "/Practitioner/mk-fd", null, MaskingWorld.AuthorisedDoctor);
        Assert.Contains(MaskingWorld.WorkMobile, doctor);
        Assert.DoesNotContain("MASKED", doctor);
    }

    [Fact]
    public async Task Xml_answers_are_masked_too()
    {
        var xml = await Ok(HttpMethod.Get, "/Patient/mk-p?_format=xml", null, MaskingWorld.AuthorisedDoctor);
        Assert.StartsWith("<", xml.TrimStart());
        Assert.Contains(MaskingWorld.MaskedIdCard, xml);
        Assert.Contains("MASKED", xml);
        foreach (var clear in ClearValues) Assert.DoesNotContain(clear, xml);
        var search = await Ok(HttpMethod.Get, "/Patient?_id=mk-p&_format=xml", null, MaskingWorld.PublicHealth);
        Assert.Contains(MaskingWorld.MaskedIdCard, search);
        Assert.DoesNotContain(MaskingWorld.IdCard, search);
        Assert.Contains(MaskingWorld.IdCard, await Ok(HttpMethod.Get, "/Patient/mk-p?_format=xml", null, MaskingWorld.HolderClinician));
    }

    [Fact]
    public async Task Mhd_document_search_and_retrieval_are_masked_and_opaque_content_is_withheld()
    {
        // ITI-67: the DocumentReference names the resident by ID card.
        var refs = await Ok(HttpMethod.Get, "/DocumentReference?patient=Patient/mk-p", null, MaskingWorld.AuthorisedDoctor);
        Assert.Contains(MaskingWorld.MaskedIdCard, refs);
        Assert.DoesNotContain(MaskingWorld.IdCard, refs);
        // ITI-68: the Binary's text, as a resource and as itself.
        var binary = JsonDocument.Parse(await Ok(HttpMethod.Get, "/Binary/mk-bin", null, MaskingWorld.AuthorisedDoctor)).RootElement;
        var text = Encoding.UTF8.GetString(Convert.FromBase64String(binary.GetProperty("data").GetString()!));
        Assert.Equal($"出院小结：张伟，身份证{MaskingWorld.MaskedIdCard}，电话138****1234", text);
        Assert.Contains(Masked, Labels(binary));
        var native = new HttpRequestMessage(HttpMethod.Get, "/Binary/mk-bin");
        native.Headers.Add(MaskingWorld.AuthorisedDoctor.Item1, MaskingWorld.AuthorisedDoctor.Item2);
        native.Headers.Accept.Add(Accept("text/plain"));
        var raw = await _c.SendAsync(native);
        Assert.Equal(HttpStatusCode.OK, raw.StatusCode);
        Assert.Equal(text, await raw.Content.ReadAsStringAsync());
        // The holder reads the document as written.
        var full = JsonDocument.Parse(await Ok(HttpMethod.Get, "/Binary/mk-bin", null, MaskingWorld.HolderClinician)).RootElement;
        Assert.Contains(MaskingWorld.IdCard, Encoding.UTF8.GetString(Convert.FromBase64String(full.GetProperty("data").GetString()!)));
        // A PDF cannot be masked: its content is withheld (REDACTED), the holder gets it whole.
        var pdf = JsonDocument.Parse(await Ok(HttpMethod.Get, "/Binary/mk-pdf", null, MaskingWorld.AuthorisedDoctor)).RootElement;
        Assert.False(pdf.TryGetProperty("data", out _));
        Assert.Contains("http://terminology.hl7.org/CodeSystem/v3-ObservationValue|REDACTED", Labels(pdf));
        Assert.True(JsonDocument.Parse(await Ok(HttpMethod.Get, "/Binary/mk-pdf", null, MaskingWorld.HolderClinician)).RootElement.TryGetProperty("data", out _));
    }

    /// <summary>The day an off-site stay began (under six months ago, as the off-site service requires).</summary>
    private static string StaySince => DateTime.UtcNow.AddDays(-30).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task The_off_site_summary_shows_the_basic_information_masked_and_the_holder_sees_it_in_full()
    {
        var body = await Ok(HttpMethod.Get, "/Patient/mk-p/$offsite-summary?since=" + StaySince, null, MaskingWorld.OffSiteDoctor);
        AssertMasked(body, "$offsite-summary");
        var root = JsonDocument.Parse(body).RootElement;
        Assert.Contains(Masked, Labels(root));
        Assert.All(Patients(root), p => Assert.Contains(Masked, Labels(p)));
        var holder = await Ok(HttpMethod.Get, "/Patient/mk-p/$offsite-summary?since=" + StaySince, null, MaskingWorld.HolderClinician);
        Assert.Contains(MaskingWorld.IdCard, holder);
        Assert.DoesNotContain("MASKED", holder);
    }

    [Fact]
    public async Task Pixm_answers_the_cross_referenced_identifiers_masked_except_the_caller_s_own_numbers()
    {
        string Pix(string system, string value) => "/Patient/$ihe-pix?sourceIdentifier=" + Uri.EscapeDataString($"{system}|{value}");
        // By the ID card: the hospital's own MRN in full, the record number masked, the ID card (the source) not answered.
        var byCard = await Ok(HttpMethod.Get, Pix(MaskingWorld.IdCardSystem, MaskingWorld.IdCard), null, MaskingWorld.AuthorisedDoctor);
        var identifiers = JsonDocument.Parse(byCard).RootElement.GetProperty("parameter").EnumerateArray()
            .Where(p => p.GetProperty("name").GetString() == "targetIdentifier").Select(p => p.GetProperty("valueIdentifier").GetProperty("value").GetString()!).ToList();
        Assert.Equal(2, identifiers.Count);
        Assert.Equal(MaskingWorld.Mrn + "mk-p", identifiers[0]);
        Assert.Matches("^\\*{13}[0-9]{4}$", identifiers[1]);
        Assert.Contains(Masked, Labels(JsonDocument.Parse(byCard).RootElement));
        Assert.DoesNotContain(MaskingWorld.IdCard[6..14], byCard);
        // By its MRN: the ID card number masked.
        var byMrn = await Ok(HttpMethod.Get, Pix(MaskingWorld.MrnSystem, MaskingWorld.Mrn + "mk-p"), null, MaskingWorld.AuthorisedDoctor);
        Assert.Contains(MaskingWorld.MaskedIdCard, byMrn);
        Assert.DoesNotContain(MaskingWorld.IdCard, byMrn);
        // The holder gets the numbers as they are.
        Assert.Contains(MaskingWorld.IdCard, await Ok(HttpMethod.Get, Pix(MaskingWorld.MrnSystem, MaskingWorld.Mrn + "mk-p"), null, MaskingWorld.HolderClinician));
    }

    [Fact]
    public async Task Searching_by_part_of_a_masked_value_is_refused_to_callers_who_see_every_record_masked()
    {
        foreach (var url in new[] { "/Patient?address=建国路", "/Patient?address:contains=88号", "/Patient?_content=建国路", "/Patient?_text=13812341234",
                     "/Observation?subject:Patient.address=建国路", "/Observation?patient.address=建国路", "/Patient?_has:RelatedPerson:patient:address=建国路" })
        {
            var r = await Send(HttpMethod.Get, url, null, MaskingWorld.PublicHealth);
            Assert.True(r.StatusCode == HttpStatusCode.Forbidden, $"{url}: {r.StatusCode}");
            Assert.Equal("OperationOutcome", (await r.JsonAsync()).GetProperty("resourceType").GetString());
        }
        // In a batch too: that entry is refused.
        var batch = await Ok(HttpMethod.Post, "/", """{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Patient?address=建国路"}}]}""", MaskingWorld.PublicHealth);
        Assert.StartsWith("403", JsonDocument.Parse(batch).RootElement.GetProperty("entry")[0].GetProperty("response").GetProperty("status").GetString());
        // What is not masked stays searchable; the holder searches its records by address.
        Assert.Contains("\"id\":\"mk-p\"", await Ok(HttpMethod.Get, "/Patient?address-city=北京市&_id=mk-p", null, MaskingWorld.PublicHealth));
        Assert.Contains("\"id\":\"mk-p\"", await Ok(HttpMethod.Get, "/Patient?address=建国路", null, MaskingWorld.HolderClinician));
    }

    [Fact]
    public async Task A_conditional_write_by_part_of_a_masked_value_is_refused_as_the_search_is()
    {
        // Matching or not matching the resident's address line (201/200/412 would tell which): refused alike, before any match.
        var patient = """{"resourceType":"Patient","name":[{"family":"探"}]}""";
        foreach (var line in new[] { "建国路", "不存在的路" + Unique() })
        {
            var criteria = "address=" + Uri.EscapeDataString(line);
            var requests = new (HttpMethod Method, string Url, string? Body, (string, string)[] Headers)[]
            {
                (HttpMethod.Post, "/Patient", patient, [("If-None-Exist", criteria)]),
                (HttpMethod.Put, "/Patient?" + criteria, patient, []),
                (HttpMethod.Delete, "/Patient?" + criteria, null, []),
                (HttpMethod.Delete, "/Observation?patient.address=" + Uri.EscapeDataString(line), null, []),
            };
            foreach (var (method, url, body, headers) in requests)
            {
                var r = await _c.SendAsync(method, url, body, [.. headers, MaskingWorld.PublicHealthSystem]);
                var text = await r.Content.ReadAsStringAsync();
                Assert.True(r.StatusCode == HttpStatusCode.Forbidden, $"{method} {url} {string.Join(",", headers)}: {r.StatusCode} {text}");
                Assert.Contains("Searching by", text);
            }
            // A transaction's conditional entry too (the same finder).
            var bundle = $$$"""{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"DELETE","url":"Patient?{{{criteria}}}"}}]}""";
            var batch = await Ok(HttpMethod.Post, "/", bundle, MaskingWorld.PublicHealthSystem);
            Assert.StartsWith("403", JsonDocument.Parse(batch).RootElement.GetProperty("entry")[0].GetProperty("response").GetProperty("status").GetString());
        }
        // The holder still matches its records by address (nothing is written: two candidates or one, the answer is no 403).
        var holder = await _c.SendAsync(HttpMethod.Post, "/Patient", patient, [("If-None-Exist", "address=" + Uri.EscapeDataString("不存在的路" + Unique())),
            MaskingWorld.HolderClinician]);
        Assert.NotEqual(HttpStatusCode.Forbidden, holder.StatusCode);
    }

    [Fact]
    public async Task A_subscription_by_part_of_a_masked_value_is_refused_at_creation()
    {
        await using var probing = await HookListener.StartAsync();
        await using var exact = await HookListener.StartAsync();
        var code = Unique();
        string Subscription(string criteria, Uri hook) => $$$"""
            {"resourceType":"Subscription","status":"requested","reason":"test","criteria":"{{{criteria}}}",
             "channel":{"type":"rest-hook","endpoint":"{{{hook}}}","payload":"application/fhir+json"}}
            """;
        // Refused as the same search is refused (403), directly and as a transaction entry; nothing is stored.
        var probingCriteria = $"Observation?code=urn:test|{code}&patient.address=建国路";
        var refused = await _c.SendAsync(HttpMethod.Post, "/Subscription", Subscription(probingCriteria, probing.Url), MaskingWorld.PublicHealthSystem);
        var text = await refused.Content.ReadAsStringAsync();
        Assert.True(refused.StatusCode == HttpStatusCode.Forbidden, $"{refused.StatusCode} {text}");
        Assert.Contains("Searching by", text);
        var bundle = $$$"""{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:6f1c2a52-1d7e-4c55-9d1e-5b0a3c2f7a10","resource":{{{Subscription(probingCriteria, probing.Url)}}},"request":{"method":"POST","url":"Subscription"}}]}""";
        var tx = await _c.SendAsync(HttpMethod.Post, "/", bundle, MaskingWorld.PublicHealthSystem);
        Assert.True(tx.StatusCode == HttpStatusCode.Forbidden, $"{tx.StatusCode} {await tx.Content.ReadAsStringAsync()}");
        var stored = await Ok(HttpMethod.Get, "/Subscription?_count=1000", null, MaskingWorld.PublicHealthSystem);
        Assert.DoesNotContain(probing.Url.ToString(), stored);
        // The holder, who sees the records in full, may subscribe by address; the exact criteria are open to the masked caller.
        var holder = await _c.SendAsync(HttpMethod.Post, "/Subscription", Subscription(probingCriteria, probing.Url), MaskingWorld.HolderClinician);
        Assert.True(holder.StatusCode == HttpStatusCode.Created, await holder.Content.ReadAsStringAsync());
        var created = await _c.SendAsync(HttpMethod.Post, "/Subscription", Subscription($"Observation?code=urn:test|{code}&patient=Patient/mk-p", exact.Url), MaskingWorld.PublicHealthSystem);
        Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        var obs = $$$"""{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"urn:test","code":"{{{code}}}"}]},"subject":{"reference":"Patient/mk-p"}}""";
        var written = await _c.SendAsync(HttpMethod.Post, "/Observation", obs, MaskingWorld.HolderClinician);
        Assert.True(written.StatusCode == HttpStatusCode.Created, await written.Content.ReadAsStringAsync());
        Assert.StartsWith("/hook/Observation/", (await exact.NextAsync()).Path);
    }

    [Fact]
    public async Task A_masked_read_is_audited_as_shown()
    {
        var subject = "mk-audit-" + Unique();
        var doctor = TestCallers.As(subject, Rest.Access.Roles.Clinician, org: MaskingWorld.Hospital, practitioner: "Practitioner/mk-auth");
        Assert.Contains(MaskingWorld.MaskedIdCard, await Ok(HttpMethod.Get, "/Patient/mk-p", null, doctor));
        var events = JsonDocument.Parse(await Ok(HttpMethod.Get, $"/AuditEvent?agent={subject}&_count=10", null, MaskingWorld.Auditor)).RootElement;
        var ev = Assert.Single(events.GetProperty("entry").EnumerateArray()).GetProperty("resource");
        Assert.Equal("0", ev.GetProperty("outcome").GetString());
        Assert.Contains(ev.GetProperty("entity").EnumerateArray(), e => e.TryGetProperty("what", out var w) && w.GetProperty("reference").GetString()!.EndsWith("Patient/mk-p", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Searching_by_the_full_value_finds_the_record_but_shows_it_masked()
    {
        var phone = WithoutLinks(await Ok(HttpMethod.Get, $"/Patient?phone={MaskingWorld.Mobile}", null, MaskingWorld.PublicHealth));
        Assert.Contains("\"id\":\"mk-p\"", phone);
        Assert.DoesNotContain(MaskingWorld.Mobile, phone);
        Assert.DoesNotContain(MaskingWorld.IdCard, phone);
    }
}

using System.Net;
using System.Text.Json;
using FhirArchive.Profiles;
using FhirArchive.Rest.Access;
using FhirArchive.Server.SampleData;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Archive.Tests.Records;

/// <summary>Record Patients under the enforced resident-record profile, callers named by the test header.</summary>
public sealed class RecordFixture() : ServerFixtureWith(Settings, TestCallers.Register)
{
    public static readonly Dictionary<string, string> Settings = new()
    {
        ["Validation:RecordProfiles:Patient"] = CnProfiles.ResidentPatient,
        ["Records:LostToFollowUpJob"] = "false",
    };
}

public sealed class PostgresRecordFixture() : PostgresServerFixture(RecordFixture.Settings, TestCallers.Register);

/// <summary>Builds residents with valid, distinct ID card numbers (GB 11643 check character, sex digit matching).</summary>
public static class Residents
{
    private static int _sequence = Random.Shared.Next(0, 400);

    public static string IdCard(string gender, string birthDate)
    {
        var n = Interlocked.Increment(ref _sequence) % 500 * 2 + (gender == "male" ? 1 : 0);
        return SampleDataLoader.IdCardNumber("500101", birthDate, n.ToString("D3"));
    }

    public static string RandomBirthDate() => new DateOnly(1940, 1, 1).AddDays(Random.Shared.Next(0, 365 * 60)).ToString("yyyy-MM-dd");

    public static string Patient(string identifiers, string name = "张伟", string gender = "male", string birthDate = "1980-01-01", string org = "Organization/rec-chc", string? id = null, string extra = "") => $$"""
        {"resourceType":"Patient",{{(id is null ? "" : $"\"id\":\"{id}\",")}}"identifier":[{{identifiers}}],
         "name":[{"text":"{{name}}"}],"gender":"{{gender}}","birthDate":"{{birthDate}}","managingOrganization":{"reference":"{{org}}"}{{extra}}}
        """;

    public static string IdCardIdentifier(string value) => $$"""{"system":"urn:oid:2.16.156.10011.1.3","value":"{{value}}"}""";

    /// <summary>A new resident with a fresh ID card number: (json, id card).</summary>
    public static (string Json, string IdCard) New(string gender = "male")
    {
        var birth = RandomBirthDate();
        var card = IdCard(gender, birth);
        return (Patient(IdCardIdentifier(card), gender: gender, birthDate: birth), card);
    }

    public static string Observation(string patient, string when = "2026-11-01T09:00:00+08:00", string value = "120", string meta = "") => $$$"""
        {"resourceType":"Observation",{{{meta}}}"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}],"text":"收缩压"},
         "subject":{"reference":"Patient/{{{patient}}}"},"effectiveDateTime":"{{{when}}}",
         "valueQuantity":{"value":{{{value}}},"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}
        """;
}

public abstract class RecordTestsBase<TFixture>(TFixture fx) where TFixture : ServerFixture
{
    protected readonly HttpClient C = fx.Client;
    protected const string Org = "Organization/rec-chc";
    protected const string StatusTag = "http://fhirarchive.cn/fhir/CodeSystem/health-record-status";
    protected static readonly (string, string) Doctor = TestCallers.As("dr-li", Roles.FamilyDoctor, org: Org, practitioner: "Practitioner/rec-dr");
    protected static readonly (string, string) Admin = TestCallers.As("admin-wang", Roles.RecordAdministrator, org: Org, practitioner: "Practitioner/rec-admin");

    protected async Task<HttpResponseMessage> Send(HttpMethod m, string url, string? body = null, (string, string)? who = null) =>
        await C.SendAsync(m, url, body, who is { } w ? [w] : []);

    protected async Task<string> CreateRecordAsync(string json, (string, string)? who = null)
    {
        var r = await Send(HttpMethod.Post, "/Patient", json, who ?? Doctor);
        Assert.True(r.StatusCode == HttpStatusCode.Created, await r.Content.ReadAsStringAsync());
        return (await r.JsonAsync()).GetProperty("id").GetString()!;
    }

    protected async Task<JsonElement> ReadAsync(string url)
    {
        var r = await C.GetAsync(url);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        return await r.JsonAsync();
    }

    protected static string? Status(JsonElement patient) =>
        patient.GetProperty("extension").EnumerateArray()
            .Single(e => e.GetProperty("url").GetString() == "http://fhirarchive.cn/fhir/StructureDefinition/cn-record-status")
            .GetProperty("valueCoding").GetProperty("code").GetString();

    protected static string Diagnostics(JsonElement outcome) => outcome.GetProperty("issue")[0].GetProperty("diagnostics").GetString()!;

    protected static string Close(string reason, string? date = null, string? cause = null) =>
        $$"""{"resourceType":"Parameters","parameter":[{"name":"reason","valueCode":"{{reason}}"}{{(date is null ? "" : $$""",{"name":"date","valueDate":"{{date}}"}""")}}{{(cause is null ? "" : $$""",{"name":"cause","valueString":"{{cause}}"}""")}}]}""";

    private static readonly SemaphoreSlim Setup = new(1, 1);

    protected async Task EnsureInstitutionAsync()
    {
        await Setup.WaitAsync();
        try
        {
            if ((await C.GetAsync("/Organization/rec-chc")).StatusCode == HttpStatusCode.OK) return;
            await C.PutAsync("""
                {"resourceType":"Organization","id":"rec-chc","extension":[{"url":"http://fhirarchive.cn/fhir/StructureDefinition/cn-division-code",
                  "valueCoding":{"system":"http://fhirarchive.cn/fhir/CodeSystem/gbt-2260-admin-division","code":"500101001"}}],
                 "identifier":[{"system":"urn:oid:2.16.156.10011.1.5","value":"PDY50010100009"}],"name":"万州区高笋塘街道社区卫生服务中心"}
                """);
            await C.PutAsync("""{"resourceType":"Practitioner","id":"rec-dr","name":[{"text":"李医生"}]}""");
            await C.PutAsync("""{"resourceType":"Practitioner","id":"rec-admin","name":[{"text":"王管理员"}]}""");
        }
        finally { Setup.Release(); }
    }
}

public abstract class SourceLabelTestsBase<TFixture>(TFixture fx) : RecordTestsBase<TFixture>(fx) where TFixture : ServerFixture
{
    [FhirFact]
    public async Task A_write_for_an_institution_carries_its_source_and_a_provenance_whatever_the_payload_claims()
    {
        await EnsureInstitutionAsync();
        var patient = await CreateRecordAsync(Residents.New().Json);
        var forged = Residents.Observation(patient, "2026-11-20T10:00:00+08:00", meta: """ "meta":{"source":"Organization/forged-hospital"}, """);
        var r = await Send(HttpMethod.Post, "/Observation", forged, Doctor);
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        var obs = await r.JsonAsync();
        var id = obs.GetProperty("id").GetString()!;
        Assert.Equal(Org, obs.GetProperty("meta").GetProperty("source").GetString());

        // Every reader sees it, anonymous ones too; _source finds it, the forged value finds nothing.
        Assert.Equal(Org, (await ReadAsync($"/Observation/{id}")).GetProperty("meta").GetProperty("source").GetString());
        Assert.Contains(id, await C.SearchIdsAsync($"/Observation?_source={Uri.EscapeDataString(Org)}&subject=Patient/{patient}"));
        Assert.Empty(await C.SearchIdsAsync($"/Observation?_source={Uri.EscapeDataString("Organization/forged-hospital")}"));

        var provenance = await ReadAsync($"/Provenance?target=Observation/{id}");
        var p = Assert.Single(provenance.GetProperty("entry").EnumerateArray()).GetProperty("resource");
        Assert.Equal($"Observation/{id}/_history/1", p.GetProperty("target")[0].GetProperty("reference").GetString());
        Assert.Equal("2026-11-20T10:00:00+08:00", p.GetProperty("occurredDateTime").GetString());
        var recorded = DateTimeOffset.Parse(p.GetProperty("recorded").GetString()!);
        Assert.InRange(recorded, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(1));
        var agent = Assert.Single(p.GetProperty("agent").EnumerateArray());
        Assert.Equal("Practitioner/rec-dr", agent.GetProperty("who").GetProperty("reference").GetString());
        Assert.Equal(Org, agent.GetProperty("onBehalfOf").GetProperty("reference").GetString());
        Assert.Equal(Org, p.GetProperty("meta").GetProperty("source").GetString());
    }

    [FhirFact]
    public async Task Without_an_institution_nothing_is_stamped()
    {
        var r = await C.PostAsync("/Basic", Body("""{"resourceType":"Basic","meta":{"source":"urn:client:own"},"code":{"text":"note"}}"""));
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        var body = await r.JsonAsync();
        Assert.Equal("urn:client:own", body.GetProperty("meta").GetProperty("source").GetString());
        Assert.Empty(await C.SearchIdsAsync($"/Provenance?target=Basic/{body.GetProperty("id").GetString()}"));
    }
}

public abstract class OnePersonOneRecordTestsBase<TFixture>(TFixture fx) : RecordTestsBase<TFixture>(fx) where TFixture : ServerFixture
{
    [FhirFact]
    public async Task A_second_record_for_the_same_person_is_refused_naming_the_first_and_a_conditional_create_returns_it()
    {
        await EnsureInstitutionAsync();
        var (json, card) = Residents.New();
        var first = await CreateRecordAsync(json);

        var second = await Send(HttpMethod.Post, "/Patient", json.Replace("张伟", "张卫"), Doctor);
        Assert.Equal(HttpStatusCode.Conflict, second.StatusCode);
        var outcome = await second.JsonAsync();
        AssertOutcome(outcome, $"Patient/{first}");
        Assert.Equal("duplicate", outcome.GetProperty("issue")[0].GetProperty("code").GetString());

        var conditional = await C.SendAsync(HttpMethod.Post, "/Patient", json, Doctor, ("If-None-Exist", $"identifier=urn:oid:2.16.156.10011.1.3|{card}"));
        Assert.Equal(HttpStatusCode.OK, conditional.StatusCode);
        Assert.Equal(first, (await conditional.JsonAsync()).GetProperty("id").GetString());

        // A record written under a chosen id is the same person too.
        var chosen = "dup-" + Unique();
        Assert.Equal(HttpStatusCode.Conflict, (await Send(HttpMethod.Put, $"/Patient/{chosen}", json.Replace("\"resourceType\":\"Patient\",", $"\"resourceType\":\"Patient\",\"id\":\"{chosen}\","), Doctor)).StatusCode);
        Assert.Single(await C.SearchIdsAsync($"/Patient?identifier=urn:oid:2.16.156.10011.1.3|{card}"));
    }

    [FhirFact]
    public async Task Bad_identity_numbers_are_refused_with_422()
    {
        await EnsureInstitutionAsync();
        var birth = "1985-06-15";
        var card = Residents.IdCard("male", birth);
        var wrongCheck = card[..17] + (card[17] == '0' ? '1' : '0');
        var r = await Send(HttpMethod.Post, "/Patient", Residents.Patient(Residents.IdCardIdentifier(wrongCheck), birthDate: birth), Doctor);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, r.StatusCode);
        AssertOutcome(await r.JsonAsync());
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await Send(HttpMethod.Post, "/Patient", Residents.Patient(Residents.IdCardIdentifier(card), gender: "female", birthDate: birth), Doctor)).StatusCode);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await Send(HttpMethod.Post, "/Patient", Residents.Patient(Residents.IdCardIdentifier(card), birthDate: "1985-06-16"), Doctor)).StatusCode);
        // No identity at all.
        var none = await Send(HttpMethod.Post, "/Patient", Residents.Patient("""{"system":"urn:oid:2.16.156.10011.1.19","value":"HC123"}"""), Doctor);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, none.StatusCode);
        AssertOutcome(await none.JsonAsync(), "identity");
        // The refused writes claimed nothing: the valid one is still free.
        await CreateRecordAsync(Residents.Patient(Residents.IdCardIdentifier(card), birthDate: birth));
    }

    [FhirFact]
    public async Task A_newborn_filed_under_the_birth_certificate_gains_an_id_number_and_keeps_both_keys()
    {
        await EnsureInstitutionAsync();
        var birth = DateTime.UtcNow.AddDays(-20).ToString("yyyy-MM-dd");
        var certificate = "O5" + Random.Shared.Next(10_000_000, 99_999_999);
        var bc = $$"""{"system":"http://fhirarchive.cn/fhir/sid/birth-certificate","value":"{{certificate}}"}""";
        var baby = await CreateRecordAsync(Residents.Patient(bc, name: "小明", birthDate: birth));
        Assert.Equal(HttpStatusCode.Conflict, (await Send(HttpMethod.Post, "/Patient", Residents.Patient(bc, name: "小明", birthDate: birth), Doctor)).StatusCode);

        var card = Residents.IdCard("male", birth);
        var update = await Send(HttpMethod.Put, $"/Patient/{baby}", Residents.Patient(bc + "," + Residents.IdCardIdentifier(card), name: "小明", birthDate: birth, id: baby), Doctor);
        Assert.Equal(HttpStatusCode.OK, update.StatusCode);
        var dup = await Send(HttpMethod.Post, "/Patient", Residents.Patient(Residents.IdCardIdentifier(card), name: "小明", birthDate: birth), Doctor);
        Assert.Equal(HttpStatusCode.Conflict, dup.StatusCode);
        AssertOutcome(await dup.JsonAsync(), $"Patient/{baby}");
    }

    [FhirFact]
    public async Task Undocumented_twins_are_filed_under_the_mother_and_told_apart_by_name()
    {
        await EnsureInstitutionAsync();
        var mother = Residents.IdCard("female", "1992-03-03");
        var m = $$"""{"system":"http://fhirarchive.cn/fhir/sid/mother-id-card","value":"{{mother}}"}""";
        var birth = DateTime.UtcNow.AddDays(-5).ToString("yyyy-MM-dd");
        await CreateRecordAsync(Residents.Patient(m, name: "大宝", birthDate: birth, extra: ",\"multipleBirthInteger\":1"));
        await CreateRecordAsync(Residents.Patient(m, name: "二宝", birthDate: birth, extra: ",\"multipleBirthInteger\":2"));
        Assert.Equal(HttpStatusCode.Conflict, (await Send(HttpMethod.Post, "/Patient", Residents.Patient(m, name: "大宝", birthDate: birth, extra: ",\"multipleBirthInteger\":1"), Doctor)).StatusCode);
    }

    [FhirFact]
    public async Task Twenty_concurrent_creates_of_the_same_person_give_exactly_one_record()
    {
        await EnsureInstitutionAsync();
        var (json, card) = Residents.New("female");
        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Send(HttpMethod.Post, "/Patient", json, Doctor)));
        Assert.Single(results, r => r.StatusCode == HttpStatusCode.Created);
        Assert.Equal(19, results.Count(r => r.StatusCode == HttpStatusCode.Conflict));
        Assert.Single(await C.SearchIdsAsync($"/Patient?identifier=urn:oid:2.16.156.10011.1.3|{card}"));
    }
}

public abstract class LifecycleTestsBase<TFixture>(TFixture fx) : RecordTestsBase<TFixture>(fx) where TFixture : ServerFixture
{
    [FhirFact]
    public async Task A_new_record_is_active_and_searchable_by_status_and_its_status_is_not_written_by_payloads()
    {
        await EnsureInstitutionAsync();
        var (json, _) = Residents.New();
        var id = await CreateRecordAsync(json);
        var patient = await ReadAsync($"/Patient/{id}");
        Assert.Equal("active", Status(patient));
        Assert.Contains(id, await C.SearchIdsAsync($"/Patient?_tag={StatusTag}|active&_id={id}"));
        Assert.Contains(id, await C.SearchIdsAsync($"/Patient?record-status=active&_id={id}"));
        Assert.Contains(id, await C.SearchIdsAsync($"/Patient?record-status={StatusTag}|active&_id={id}"));
        Assert.Empty(await C.SearchIdsAsync($"/Patient?record-status=http://example.org/other|active&_id={id}"));

        var sneaky = json.Replace("\"resourceType\":\"Patient\",", $$$"""
            "resourceType":"Patient","id":"{{{id}}}","extension":[{"url":"http://fhirarchive.cn/fhir/StructureDefinition/cn-record-status","valueCoding":{"system":"{{{StatusTag}}}","code":"inactive-death"}}],
            """);
        var r = await Send(HttpMethod.Put, $"/Patient/{id}", sneaky, Doctor);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, r.StatusCode);
        AssertOutcome(await r.JsonAsync(), "$close");
        // An ordinary update without the status keeps it.
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Put, $"/Patient/{id}", json.Replace("\"resourceType\":\"Patient\",", $"\"resourceType\":\"Patient\",\"id\":\"{id}\","), Doctor)).StatusCode);
        Assert.Equal("active", Status(await ReadAsync($"/Patient/{id}")));
    }

    [FhirFact]
    public async Task Close_reads_its_parameters_from_the_query_as_from_a_Parameters_body_and_is_never_a_GET()
    {
        await EnsureInstitutionAsync();
        var id = await CreateRecordAsync(Residents.New().Json);
        var get = await Send(HttpMethod.Get, $"/Patient/{id}/$close?reason=inactive-moved", null, Doctor);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, get.StatusCode);
        Assert.Equal(["POST"], get.Content.Headers.Allow);
        Assert.Equal("active", Status(await ReadAsync($"/Patient/{id}")));
        var closed = await Send(HttpMethod.Post, $"/Patient/{id}/$close?reason=inactive-moved&date=2026-10-01", null, Doctor);
        Assert.Equal(HttpStatusCode.OK, closed.StatusCode);
        Assert.Equal("inactive-moved", Status(await closed.JsonAsync()));
        // $reactivate's parameters are all optional: an empty Parameters does.
        var back = await Send(HttpMethod.Post, $"/Patient/{id}/$reactivate", """{"resourceType":"Parameters"}""", Doctor);
        Assert.Equal(HttpStatusCode.OK, back.StatusCode);
        Assert.Equal("active", Status(await back.JsonAsync()));
    }

    [FhirFact]
    public async Task A_closed_record_is_sealed_leaves_the_active_count_and_comes_back_with_reactivate()
    {
        await EnsureInstitutionAsync();
        var (json, _) = Residents.New();
        var id = await CreateRecordAsync(json);
        var obs = await C.SendAsync(HttpMethod.Post, "/Observation", Residents.Observation(id), Doctor);
        Assert.Equal(HttpStatusCode.Created, obs.StatusCode);

        Assert.Equal(HttpStatusCode.Forbidden, (await C.PostAsync($"/Patient/{id}/$close", Body(Close("inactive-moved")))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Send(HttpMethod.Post, $"/Patient/{id}/$close", Close("gone"), Doctor)).StatusCode);
        var closed = await Send(HttpMethod.Post, $"/Patient/{id}/$close", Close("inactive-moved", "2026-10-01", "moved to Chengdu"), Doctor);
        Assert.Equal(HttpStatusCode.OK, closed.StatusCode);
        Assert.Equal("inactive-moved", Status(await closed.JsonAsync()));
        Assert.Empty(await C.SearchIdsAsync($"/Patient?_tag={StatusTag}|active&_id={id}"));
        Assert.Contains(id, await C.SearchIdsAsync($"/Patient?_tag={StatusTag}|inactive-moved&_id={id}"));
        Assert.Empty(await C.SearchIdsAsync($"/Patient?record-status=active&_id={id}"));
        Assert.Contains(id, await C.SearchIdsAsync($"/Patient?record-status={StatusTag}|inactive-moved&_id={id}"));
        Assert.Contains(id, await C.SearchIdsAsync($"/Patient?record-status=inactive-lost,inactive-moved&_id={id}"));
        Assert.False((await ReadAsync($"/Patient/{id}")).GetProperty("active").GetBoolean());
        var provenance = (await ReadAsync($"/Provenance?target=Patient/{id}")).GetProperty("entry").EnumerateArray()
            .Select(e => e.GetProperty("resource")).Single(p => p.TryGetProperty("activity", out var a) && a.GetProperty("coding")[0].GetProperty("system").GetString() == StatusTag);
        Assert.Equal($"Patient/{id}/_history/2", provenance.GetProperty("target")[0].GetProperty("reference").GetString());
        Assert.Equal("2026-10-01", provenance.GetProperty("occurredDateTime").GetString());
        Assert.Equal("moved to Chengdu", provenance.GetProperty("reason")[0].GetProperty("text").GetString());

        var update = await Send(HttpMethod.Put, $"/Patient/{id}", json.Replace("\"resourceType\":\"Patient\",", $"\"resourceType\":\"Patient\",\"id\":\"{id}\","), Doctor);
        Assert.Equal(HttpStatusCode.Conflict, update.StatusCode);
        AssertOutcome(await update.JsonAsync(), "sealed");
        var newService = await Send(HttpMethod.Post, "/Observation", Residents.Observation(id), Doctor);
        Assert.Equal(HttpStatusCode.Conflict, newService.StatusCode);
        AssertOutcome(await newService.JsonAsync(), "sealed");
        Assert.Equal(HttpStatusCode.Conflict, (await Send(HttpMethod.Post, $"/Patient/{id}/$close", Close("inactive-lost"), Doctor)).StatusCode);

        var back = await Send(HttpMethod.Post, $"/Patient/{id}/$reactivate", null, Doctor);
        Assert.Equal(HttpStatusCode.OK, back.StatusCode);
        var reactivated = await back.JsonAsync();
        Assert.Equal("active", Status(reactivated));
        Assert.True(reactivated.GetProperty("active").GetBoolean());
        Assert.Contains(id, await C.SearchIdsAsync($"/Patient?record-status=active&_id={id}"));
        Assert.Equal(HttpStatusCode.Created, (await Send(HttpMethod.Post, "/Observation", Residents.Observation(id), Doctor)).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await Send(HttpMethod.Post, $"/Patient/{id}/$reactivate", null, Doctor)).StatusCode);
    }

    private async Task<int> CountAsync(string query) =>
        (await ReadAsync($"/Patient?{query}&_summary=count")).GetProperty("total").GetInt32();

    [FhirFact]
    public async Task Sealed_records_leave_the_institutions_active_management_counts()
    {
        await EnsureInstitutionAsync();
        var ids = new List<string>();
        for (var i = 0; i < 3; i++) ids.Add(await CreateRecordAsync(Residents.New().Json));
        var byStatus = $"record-status=active&organization={Org}";
        var byActive = $"active=true&organization={Org}";
        var (active, inUse, lost) = (await CountAsync(byStatus), await CountAsync(byActive), await CountAsync($"record-status=inactive-lost&organization={Org}"));
        Assert.True(active >= 3);
        Assert.Equal(active, inUse);

        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Post, $"/Patient/{ids[0]}/$close", Close("inactive-lost"), Doctor)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Post, $"/Patient/{ids[1]}/$close", Close("inactive-death", "2026-11-02", "stroke"), Doctor)).StatusCode);
        Assert.Equal(active - 2, await CountAsync(byStatus));
        Assert.Equal(inUse - 2, await CountAsync(byActive));
        Assert.Equal(lost + 1, await CountAsync($"record-status=inactive-lost&organization={Org}"));
        Assert.Equal(active - 2, await CountAsync($"record-status:not=inactive-lost&record-status:not=inactive-death&record-status:not=inactive-moved&record-status:not=merged&organization={Org}"));

        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Post, $"/Patient/{ids[0]}/$reactivate", null, Doctor)).StatusCode);
        Assert.Equal(active - 1, await CountAsync(byStatus));
        Assert.Equal(inUse - 1, await CountAsync(byActive));
    }

    [FhirFact]
    public async Task The_record_status_parameter_is_published_in_the_capability_statement()
    {
        var patient = (await ReadAsync("/metadata")).GetProperty("rest")[0].GetProperty("resource").EnumerateArray()
            .Single(r => r.GetProperty("type").GetString() == "Patient");
        var p = Assert.Single(patient.GetProperty("searchParam").EnumerateArray(), x => x.GetProperty("name").GetString() == "record-status");
        Assert.Equal("http://fhirarchive.cn/fhir/SearchParameter/Patient-record-status", p.GetProperty("definition").GetString());
        Assert.Equal("token", p.GetProperty("type").GetString());
        // It is Patient's only: elsewhere it is unknown (400 under strict handling).
        Assert.Equal(HttpStatusCode.BadRequest, (await C.SendAsync(HttpMethod.Get, "/Observation?record-status=active", null, ("Prefer", "handling=strict"))).StatusCode);
    }

    [FhirFact]
    public async Task A_deceased_record_records_date_and_cause_and_cannot_be_reactivated()
    {
        await EnsureInstitutionAsync();
        var id = await CreateRecordAsync(Residents.New().Json);
        Assert.Equal(HttpStatusCode.BadRequest, (await Send(HttpMethod.Post, $"/Patient/{id}/$close", Close("inactive-death", "2026-11-02"), Doctor)).StatusCode);
        var closed = await Send(HttpMethod.Post, $"/Patient/{id}/$close", Close("inactive-death", "2026-11-02", "脑卒中 stroke"), Doctor);
        Assert.Equal(HttpStatusCode.OK, closed.StatusCode);
        var patient = await closed.JsonAsync();
        Assert.Equal("inactive-death", Status(patient));
        Assert.Equal("2026-11-02", patient.GetProperty("deceasedDateTime").GetString());
        var again = await Send(HttpMethod.Post, $"/Patient/{id}/$reactivate", null, Doctor);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        AssertOutcome(await again.JsonAsync(), "deceased");
    }

    [FhirFact]
    public async Task Records_and_service_records_are_not_deleted_and_only_administrators_purge_expired_sealed_records()
    {
        await EnsureInstitutionAsync();
        var id = await CreateRecordAsync(Residents.New().Json);
        var obs = (await (await Send(HttpMethod.Post, "/Observation", Residents.Observation(id), Doctor)).JsonAsync()).GetProperty("id").GetString();
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await Send(HttpMethod.Delete, $"/Patient/{id}", null, Doctor)).StatusCode);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await Send(HttpMethod.Delete, $"/Observation/{obs}", null, Admin)).StatusCode);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await Send(HttpMethod.Delete, $"/Patient?_id={id}", null, Doctor)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await C.GetAsync($"/Patient/{id}")).StatusCode);

        Assert.Equal(HttpStatusCode.Forbidden, (await Send(HttpMethod.Post, $"/Patient/{id}/$purge", null, Doctor)).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await Send(HttpMethod.Post, $"/Patient/{id}/$purge", null, Admin)).StatusCode); // active
        await Send(HttpMethod.Post, $"/Patient/{id}/$close", Close("inactive-lost"), Doctor);
        var early = await Send(HttpMethod.Post, $"/Patient/{id}/$purge", null, Admin);
        Assert.Equal(HttpStatusCode.Conflict, early.StatusCode);
        AssertOutcome(await early.JsonAsync(), "15 years");
        Assert.Equal(HttpStatusCode.OK, (await C.GetAsync($"/Observation/{obs}")).StatusCode);
    }

    [FhirFact]
    public async Task A_saved_service_record_is_not_changed_by_ordinary_updates()
    {
        await EnsureInstitutionAsync();
        var id = await CreateRecordAsync(Residents.New().Json);
        var obs = (await (await Send(HttpMethod.Post, "/Observation", Residents.Observation(id), Doctor)).JsonAsync()).GetProperty("id").GetString()!;
        var changed = Residents.Observation(id, value: "150").Replace("\"resourceType\":\"Observation\",", $"\"resourceType\":\"Observation\",\"id\":\"{obs}\",");
        var r = await Send(HttpMethod.Put, $"/Observation/{obs}", changed, Doctor);
        Assert.Equal(HttpStatusCode.Conflict, r.StatusCode);
        AssertOutcome(await r.JsonAsync(), "correction");
        var request = new HttpRequestMessage(HttpMethod.Patch, $"/Observation/{obs}")
        {
            Content = new StringContent("""[{"op":"replace","path":"/status","value":"amended"}]""", System.Text.Encoding.UTF8, "application/json-patch+json"),
        };
        request.Headers.Add(Doctor.Item1, Doctor.Item2);
        var patch = await C.SendAsync(request);
        Assert.Equal(HttpStatusCode.Conflict, patch.StatusCode);
        Assert.Equal("1", (await ReadAsync($"/Observation/{obs}")).GetProperty("meta").GetProperty("versionId").GetString());
    }
}

public sealed class SourceLabelTests(RecordFixture fx) : SourceLabelTestsBase<RecordFixture>(fx), IClassFixture<RecordFixture>;
public sealed class PostgresSourceLabelTests(PostgresRecordFixture fx) : SourceLabelTestsBase<PostgresRecordFixture>(fx), IClassFixture<PostgresRecordFixture>;
public sealed class OnePersonOneRecordTests(RecordFixture fx) : OnePersonOneRecordTestsBase<RecordFixture>(fx), IClassFixture<RecordFixture>;
public sealed class PostgresOnePersonOneRecordTests(PostgresRecordFixture fx) : OnePersonOneRecordTestsBase<PostgresRecordFixture>(fx), IClassFixture<PostgresRecordFixture>;
public sealed class LifecycleTests(RecordFixture fx) : LifecycleTestsBase<RecordFixture>(fx), IClassFixture<RecordFixture>;
public sealed class PostgresLifecycleTests(PostgresRecordFixture fx) : LifecycleTestsBase<PostgresRecordFixture>(fx), IClassFixture<PostgresRecordFixture>;

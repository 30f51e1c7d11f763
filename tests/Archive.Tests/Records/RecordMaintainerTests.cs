using System.Net;
using System.Text;
using FhirArchive.Rest.Access;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Archive.Tests.Records;

/// <summary>
/// Chongqing rules art. 14: once the resident has a family-doctor contract, the family doctor maintains the record
/// (with the responsible institution's record administrator and its own system); before it, the responsible institution.
/// </summary>
public abstract class RecordMaintainerTestsBase<TFixture>(TFixture fx) : RecordTestsBase<TFixture>(fx) where TFixture : ServerFixture
{
    private const string FamilyDoctorRef = "Practitioner/rec-fd";
    private const string OtherOrg = "Organization/other-hospital";
    private static readonly (string, string) FamilyDoctor = TestCallers.As("dr-zhao", Roles.FamilyDoctor, org: Org, practitioner: FamilyDoctorRef);
    private static readonly (string, string) OtherClinician = TestCallers.As("dr-other", Roles.Clinician, org: OtherOrg, practitioner: "Practitioner/other-dr");
    private static readonly (string, string) OtherAdmin = TestCallers.As("admin-other", Roles.RecordAdministrator, org: OtherOrg, practitioner: "Practitioner/other-admin");
    private static readonly (string, string) OwnSystem = TestCallers.As("his-rec-chc", Roles.SystemClient, org: Org, kind: "system");
    private static readonly (string, string) OtherSystem = TestCallers.As("his-other", Roles.SystemClient, org: OtherOrg, kind: "system");

    private static string Day(int fromToday) => DateTimeOffset.UtcNow.ToOffset(TimeSpan.FromHours(8)).AddDays(fromToday).ToString("yyyy-MM-dd");

    private static string Contract(string start, string? end, string doctor = FamilyDoctorRef)
    {
        var period = end is null ? $$"""{"start":"{{start}}"}""" : $$"""{"start":"{{start}}","end":"{{end}}"}""";
        return $$$""","generalPractitioner":[{"extension":[{"url":"http://fhirarchive.cn/fhir/StructureDefinition/cn-family-doctor-contract","valuePeriod":{{{period}}}}],"reference":"{{{doctor}}}","display":"赵医生"}]""";
    }

    /// <summary>A new record (created by the institution's doctor) and a builder of its updates: json(name, contract).</summary>
    private async Task<(string Id, Func<string, string, string> Json)> RecordAsync(string contract = "")
    {
        await EnsureInstitutionAsync();
        var birth = Residents.RandomBirthDate();
        var card = Residents.IdCard("male", birth);
        string Json(string name, string c, string? id) => Residents.Patient(Residents.IdCardIdentifier(card), name: name, birthDate: birth, id: id, extra: c);
        var id = await CreateRecordAsync(Json("张伟", contract, null));
        return (id, (name, c) => Json(name, c, id));
    }

    private async Task<string> VersionAsync(string id) => (await ReadAsync($"/Patient/{id}")).GetProperty("meta").GetProperty("versionId").GetString()!;

    /// <summary>
    /// Another institution without the resident's authorisation may not see the record: its update is answered as one
    /// of an id that does not exist (405, ids are the server's to assign), naming neither the institution nor the doctor.
    /// </summary>
    private static async Task LooksMissingAsync(HttpResponseMessage r)
    {
        Assert.Equal(HttpStatusCode.MethodNotAllowed, r.StatusCode);
        var body = await r.Content.ReadAsStringAsync();
        AssertOutcome(await r.JsonAsync(), "does not exist");
        Assert.DoesNotContain(FamilyDoctorRef, body);
        Assert.DoesNotContain(Org, body);
    }

    [FhirFact]
    public async Task With_a_contract_in_force_only_the_family_doctor_the_administrator_and_the_institutions_system_change_the_record()
    {
        var contract = Contract(Day(-30), Day(335));
        var (id, update) = await RecordAsync(contract);
        string json(string name) => update(name, contract);
        var r = await Send(HttpMethod.Put, $"/Patient/{id}", json("张卫"), Doctor);
        Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
        AssertOutcome(await r.JsonAsync(), FamilyDoctorRef);
        foreach (var who in new[] { OtherClinician, OtherAdmin, OtherSystem })
            await LooksMissingAsync(await Send(HttpMethod.Put, $"/Patient/{id}", json("张卫"), who));
        // Nor without an institution (the suite's own client), nor by PATCH, nor by closing it.
        Assert.Equal(HttpStatusCode.Forbidden, (await C.PutAsync($"/Patient/{id}", Body(json("张卫")))).StatusCode);
        var patch = new HttpRequestMessage(HttpMethod.Patch, $"/Patient/{id}")
        {
            Content = new StringContent("""[{"op":"replace","path":"/name/0/text","value":"张卫"}]""", Encoding.UTF8, "application/json-patch+json"),
        };
        patch.Headers.Add(Doctor.Item1, Doctor.Item2);
        Assert.Equal(HttpStatusCode.Forbidden, (await C.SendAsync(patch)).StatusCode);
        var close = await Send(HttpMethod.Post, $"/Patient/{id}/$close", Close("inactive-moved"), Doctor);
        Assert.Equal(HttpStatusCode.Forbidden, close.StatusCode);
        AssertOutcome(await close.JsonAsync(), FamilyDoctorRef);
        Assert.Equal("1", await VersionAsync(id));

        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Put, $"/Patient/{id}", json("张卫"), FamilyDoctor)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Put, $"/Patient/{id}", json("张伟"), Admin)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Put, $"/Patient/{id}", json("张为"), OwnSystem)).StatusCode);
        var now = await ReadAsync($"/Patient/{id}");
        Assert.Equal("4", now.GetProperty("meta").GetProperty("versionId").GetString());
        Assert.Equal("张为", now.GetProperty("name")[0].GetProperty("text").GetString());
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Post, $"/Patient/{id}/$close", Close("inactive-moved"), FamilyDoctor)).StatusCode);
    }

    [FhirFact]
    public async Task Batch_and_transaction_entries_follow_the_same_rule()
    {
        var contract = Contract(Day(-30), Day(335));
        var (id, update) = await RecordAsync(contract);
        string Bundle(string type) => $$$"""
            {"resourceType":"Bundle","type":"{{{type}}}","entry":[
              {"resource":{{{update("张卫", contract)}}},"request":{"method":"PUT","url":"Patient/{{{id}}}"}},
              {"resource":{{{Residents.Observation(id)}}},"request":{"method":"POST","url":"Observation"}}]}
            """;
        var transaction = await Send(HttpMethod.Post, "/", Bundle("transaction"), Doctor);
        Assert.Equal(HttpStatusCode.Forbidden, transaction.StatusCode);
        AssertOutcome(await transaction.JsonAsync(), FamilyDoctorRef);
        Assert.Empty(await C.SearchIdsAsync($"/Observation?subject=Patient/{id}"));

        var batch = await (await Send(HttpMethod.Post, "/", Bundle("batch"), Doctor)).JsonAsync();
        var statuses = batch.GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("response").GetProperty("status").GetString()).ToList();
        Assert.Equal(["403 Forbidden", "201 Created"], statuses);
        Assert.Equal("1", await VersionAsync(id));
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Post, "/", Bundle("transaction"), FamilyDoctor)).StatusCode);
        Assert.Equal("张卫", (await ReadAsync($"/Patient/{id}")).GetProperty("name")[0].GetProperty("text").GetString());
    }

    [FhirFact]
    public async Task Service_records_from_other_institutions_are_still_accepted_for_a_contracted_record()
    {
        var (id, _) = await RecordAsync(Contract(Day(-30), Day(335)));
        var r = await Send(HttpMethod.Post, "/Observation", Residents.Observation(id, DateTimeOffset.UtcNow.AddHours(-2).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'")), OtherClinician);
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        Assert.Equal(OtherOrg, (await r.JsonAsync()).GetProperty("meta").GetProperty("source").GetString());
        Assert.Equal(HttpStatusCode.Created, (await Send(HttpMethod.Post, "/Observation", Residents.Observation(id), OtherSystem)).StatusCode);
    }

    [FhirFact]
    public async Task Before_a_contract_the_responsible_institution_maintains_the_record_and_signing_hands_it_to_the_family_doctor()
    {
        var (id, update) = await RecordAsync();
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Put, $"/Patient/{id}", update("张卫", ""), Doctor)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Put, $"/Patient/{id}", update("张伟", ""), OwnSystem)).StatusCode);
        foreach (var who in new[] { OtherClinician, OtherAdmin, OtherSystem })
            await LooksMissingAsync(await Send(HttpMethod.Put, $"/Patient/{id}", update("张卫", ""), who));

        // The institution records the contract; from then on its other doctors no longer change the record.
        var contract = Contract(Day(0), Day(364));
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Put, $"/Patient/{id}", update("张伟", contract), Doctor)).StatusCode);
        var refused = await Send(HttpMethod.Put, $"/Patient/{id}", update("张卫", contract), Doctor);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        AssertOutcome(await refused.JsonAsync(), FamilyDoctorRef);
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Put, $"/Patient/{id}", update("张卫", contract), FamilyDoctor)).StatusCode);
    }

    [FhirFact]
    public async Task An_expired_or_not_yet_started_contract_leaves_the_record_to_the_institution()
    {
        var expiredContract = Contract("2024-01-01", "2025-01-01");
        var (expired, json) = await RecordAsync(expiredContract);
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Put, $"/Patient/{expired}", json("张卫", expiredContract), Doctor)).StatusCode);
        await LooksMissingAsync(await Send(HttpMethod.Put, $"/Patient/{expired}", json("张伟", expiredContract), OtherClinician));
        var futureContract = Contract(Day(10), null);
        var (future, json2) = await RecordAsync(futureContract);
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Put, $"/Patient/{future}", json2("张卫", futureContract), Doctor)).StatusCode);
        // An open-ended contract in force binds the record.
        var openContract = Contract(Day(-1), null);
        var (open, json3) = await RecordAsync(openContract);
        Assert.Equal(HttpStatusCode.Forbidden, (await Send(HttpMethod.Put, $"/Patient/{open}", json3("张卫", openContract), Doctor)).StatusCode);
    }

    [FhirFact]
    public async Task A_contract_names_a_practitioner_and_its_signing_date()
    {
        await EnsureInstitutionAsync();
        var onOrganization = Residents.Patient(Residents.IdCardIdentifier(Residents.IdCard("male", "1980-01-01")), extra: Contract(Day(-1), null, doctor: "Organization/rec-chc"));
        var r = await Send(HttpMethod.Post, "/Patient", onOrganization, Doctor);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, r.StatusCode);
        AssertOutcome(await r.JsonAsync());
        var noStart = Residents.Patient(Residents.IdCardIdentifier(Residents.IdCard("male", "1980-01-01")), extra: Contract(Day(-1), null).Replace($"\"start\":\"{Day(-1)}\"", $"\"end\":\"{Day(9)}\""));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await Send(HttpMethod.Post, "/Patient", noStart, Doctor)).StatusCode);
    }
}

public sealed class RecordMaintainerTests(RecordFixture fx) : RecordMaintainerTestsBase<RecordFixture>(fx), IClassFixture<RecordFixture>;
public sealed class PostgresRecordMaintainerTests(PostgresRecordFixture fx) : RecordMaintainerTestsBase<PostgresRecordFixture>(fx), IClassFixture<PostgresRecordFixture>;

using FhirArchive.Archive.Consent;
using FhirArchive.Archive.Tests;
using System.Net;
using System.Text.Json;
using FhirArchive.Archive.Records;
using FhirArchive.Archive.Tests.Records;
using FhirArchive.Archive.Transfer;
using FhirArchive.Rest.Access;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Archive.Tests.Transfer;

/// <summary>A server with the record rules, the consent rules as shipped (records open to their residents), and a clock the test moves.</summary>
public sealed class TransferFixture() : ServerFixtureWith(TransferFixture.Settings, s => { TestCallers.Register(s); s.AddSingleton<TimeProvider>(new ManualClock()); })
{
    public static readonly Dictionary<string, string> Settings = new(RecordFixture.Settings)
    {
        ["Transfer:EscalationJob"] = "false",
        ["Consent:ResidentOpeningRequired"] = "false",
        ["Consent:Sms:Sender"] = "file",
    };
}

public sealed class PostgresTransferFixture() : PostgresServerFixture(TransferFixture.Settings, s => { TestCallers.Register(s); s.AddSingleton<TimeProvider>(new ManualClock()); });

/// <summary>
/// Record transfer (annex 1 四): request by the proposed holder, confirmation or reasoned refusal by the current
/// holder, completion with consent following at once, closed records, deceased ones, one open request, the
/// protection period and the escalation after 7 calendar days.
/// </summary>
public abstract class TransferTestsBase<TFixture>(TFixture fx) : RecordTestsBase<TFixture>(fx) where TFixture : ServerFixture
{
    private readonly ManualClock _clock = (ManualClock)fx.Factory.Services.GetRequiredService<TimeProvider>();
    private readonly TransferEscalationJob _job = fx.Factory.Services.GetRequiredService<TransferEscalationJob>();
    private readonly string _outbox = SmsOutbox.PathOf(fx.Factory.Services);

    /// <summary>Another district (涪陵区 500102) and the same district (万州区 500101) as rec-chc.</summary>
    private const string Elsewhere = "Organization/tr-fuling";
    private const string SameDistrict = "Organization/tr-wanzhou";
    private const string Contracted = "Practitioner/rec-dr";
    private static readonly (string, string) NewDoctor = TestCallers.As("dr-new", Roles.Clinician, org: Elsewhere, practitioner: "Practitioner/tr-dr");
    private static readonly (string, string) NearbyDoctor = TestCallers.As("dr-near", Roles.FamilyDoctor, org: SameDistrict, practitioner: "Practitioner/tr-near");
    private static readonly (string, string) OldClinician = TestCallers.As("dr-old", Roles.Clinician, org: Org, practitioner: "Practitioner/rec-clin");

    private static string Request(string reason = "2", string confirmation = "3") =>
        Params(("reason", "Code", reason), ("confirmation", "Code", confirmation), ("note", "String", "居民搬家 / moved house"));

    private static string Contract => $$$""","generalPractitioner":[{"extension":[{"url":"{{{RecordMaintainer.ContractExtension}}}","valuePeriod":{"start":"2025-01-01"}}],"reference":"{{{Contracted}}}"}]""";

    private async Task<string> RecordAsync(string extra = "", (string, string)? who = null)
    {
        await EnsureInstitutionAsync();
        await C.PutAsync("""{"resourceType":"Organization","id":"tr-fuling","extension":[{"url":"http://fhirarchive.cn/fhir/StructureDefinition/cn-division-code","valueCoding":{"system":"http://fhirarchive.cn/fhir/CodeSystem/gbt-2260-admin-division","code":"500102001"}}],"name":"涪陵区敦仁街道社区卫生服务中心"}""");
        await C.PutAsync("""{"resourceType":"Organization","id":"tr-wanzhou","extension":[{"url":"http://fhirarchive.cn/fhir/StructureDefinition/cn-division-code","valueCoding":{"system":"http://fhirarchive.cn/fhir/CodeSystem/gbt-2260-admin-division","code":"500101002"}}],"name":"万州区钟鼓楼街道社区卫生服务中心"}""");
        var birth = Residents.RandomBirthDate();
        return await CreateRecordAsync(Residents.Patient(Residents.IdCardIdentifier(Residents.IdCard("male", birth)), birthDate: birth, extra: extra), who);
    }

    private async Task<HttpResponseMessage> RequestAsync(string patient, (string, string) who, string? body = null) =>
        await Send(HttpMethod.Post, $"/Patient/{patient}/$transfer-request", body ?? Request(), who);

    private async Task<string> RequestedAsync(string patient, (string, string) who)
    {
        var r = await RequestAsync(patient, who);
        Assert.True(r.StatusCode == HttpStatusCode.Created, await r.Content.ReadAsStringAsync());
        return (await r.JsonAsync()).GetProperty("id").GetString()!;
    }

    private static string Holder(JsonElement patient) => patient.GetProperty("managingOrganization").GetProperty("reference").GetString()!;

    private static string Number(JsonElement patient) => patient.GetProperty("identifier").EnumerateArray()
        .Single(i => i.GetProperty("system").GetString() == "urn:oid:2.16.156.10011.1.2").GetProperty("value").GetString()!;

    private async Task<HttpStatusCode> ReadAs(string url, (string, string) who) => (await Send(HttpMethod.Get, url, null, who)).StatusCode;

    [FhirFact]
    public async Task The_holder_approves_and_the_record_moves_with_its_number_its_provenance_and_its_consent_rules()
    {
        _clock.Now = new DateTimeOffset(2026, 3, 1, 2, 0, 0, TimeSpan.Zero);
        var patient = await RecordAsync(Contract);
        var before = await ReadAsync($"/Patient/{patient}");
        var own = (await (await Send(HttpMethod.Post, "/Observation", Residents.Observation(patient, "2026-03-01T09:00:00+08:00"), OldClinician)).JsonAsync()).GetProperty("id").GetString()!;
        Assert.Equal(HttpStatusCode.NotFound, await ReadAs($"/Patient/{patient}", NewDoctor)); // not theirs yet
        // A visit at the future holder before the move: the holder of the day sees it (and its facts are now cached).
        var visit = (await (await Send(HttpMethod.Post, "/Observation", Residents.Observation(patient, "2026-03-01T09:10:00+08:00"), NewDoctor)).JsonAsync()).GetProperty("id").GetString()!;
        Assert.Equal(HttpStatusCode.OK, await ReadAs($"/Observation/{visit}", OldClinician));

        var requested = await RequestAsync(patient, NewDoctor);
        Assert.Equal(HttpStatusCode.Created, requested.StatusCode);
        var task = await requested.JsonAsync();
        var id = task.GetProperty("id").GetString()!;
        Assert.Equal("requested", task.GetProperty("status").GetString());
        Assert.Equal("transfer", task.GetProperty("code").GetProperty("coding")[0].GetProperty("code").GetString());
        Assert.Equal($"Patient/{patient}", task.GetProperty("for").GetProperty("reference").GetString());
        Assert.Equal($"Patient/{patient}", task.GetProperty("focus").GetProperty("reference").GetString());
        Assert.Equal(Org, task.GetProperty("owner").GetProperty("reference").GetString());
        Assert.Equal(Elsewhere, task.GetProperty("requester").GetProperty("reference").GetString());
        Assert.Equal("居住地变更", task.GetProperty("reasonCode").GetProperty("coding")[0].GetProperty("display").GetString());
        Assert.Contains("Change of residence", task.GetProperty("reasonCode").GetProperty("text").GetString());
        Assert.Equal("3", task.GetProperty("input")[0].GetProperty("valueCodeableConcept").GetProperty("coding")[0].GetProperty("code").GetString());
        Assert.Equal("2026-03-08", task.GetProperty("restriction").GetProperty("period").GetProperty("end").GetString());

        // Both institutions and the resident follow it; searchable by code, status, owner, requester.
        var resident = TestCallers.As("res-" + Unique(), Roles.Resident, patient: $"Patient/{patient}");
        Assert.Equal(HttpStatusCode.OK, await ReadAs($"/Task/{id}", NewDoctor));
        Assert.Equal(HttpStatusCode.OK, await ReadAs($"/Task/{id}", Admin));
        Assert.Equal(HttpStatusCode.OK, await ReadAs($"/Task/{id}", resident));
        Assert.Contains(id, await C.SearchIdsAsync($"/Task?code=transfer&status=requested&owner={Org}&requester={Elsewhere}"));
        Assert.Empty(await C.SearchIdsAsync($"/Task?code=transfer&status=completed&owner={Org}&requester={Elsewhere}&subject=Patient/{patient}"));

        // Only the holder's record administrator confirms.
        await Forbidden(await Send(HttpMethod.Post, $"/Task/{id}/$approve", null, Doctor));
        await Forbidden(await Send(HttpMethod.Post, $"/Task/{id}/$approve", null, NewDoctor));
        var approved = await Send(HttpMethod.Post, $"/Task/{id}/$approve", Params(("comment", "String", "同意转出")), Admin);
        Assert.True(approved.StatusCode == HttpStatusCode.OK, await approved.Content.ReadAsStringAsync());
        var done = await approved.JsonAsync();
        Assert.Equal("completed", done.GetProperty("status").GetString());
        var outputs = done.GetProperty("output").EnumerateArray().ToDictionary(o => o.GetProperty("type").GetProperty("text").GetString()!);
        Assert.Equal("2026-08-28", outputs["protection-end"].GetProperty("valueDate").GetString()); // cross-district: 180 days
        Assert.Equal(HttpStatusCode.Conflict, (await Send(HttpMethod.Post, $"/Task/{id}/$approve", null, Admin)).StatusCode);

        // The new holder holds it; the number stays; the old contract ended.
        var after = await ReadAsync($"/Patient/{patient}");
        Assert.Equal(Elsewhere, Holder(after));
        Assert.Equal(Number(before), Number(after));
        Assert.False(after.TryGetProperty("generalPractitioner", out _));
        Assert.Equal("active", Status(after));
        var provenance = (await ReadAsync($"/Provenance?target=Patient/{patient}")).GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("resource"))
            .Single(p => p.GetProperty("activity").GetProperty("coding")[0].GetProperty("code").GetString() == "transfer");
        var agents = provenance.GetProperty("agent").EnumerateArray().ToDictionary(a => a.GetProperty("type").GetProperty("coding")[0].GetProperty("code").GetString()!, a => a.GetProperty("who"));
        Assert.Equal(Elsewhere, agents["author"].GetProperty("reference").GetString());
        Assert.Equal("Practitioner/rec-admin", agents["verifier"].GetProperty("reference").GetString());
        var why = provenance.GetProperty("reason")[0].GetProperty("text").GetString()!;
        Assert.Contains("居住地变更", why);
        Assert.Contains(Contracted, why);
        Assert.Contains(provenance.GetProperty("entity").EnumerateArray(), e => e.GetProperty("what").GetProperty("reference").GetString() == $"Task/{id}");

        // Consent follows at once: the new holder reads the whole record; the old holder keeps only what it wrote.
        Assert.Equal(HttpStatusCode.OK, await ReadAs($"/Patient/{patient}", NewDoctor));
        Assert.Equal(HttpStatusCode.OK, await ReadAs($"/Observation/{own}", NewDoctor));
        var later = (await (await Send(HttpMethod.Post, "/Observation", Residents.Observation(patient, "2026-03-01T09:30:00+08:00"), NewDoctor)).JsonAsync()).GetProperty("id").GetString()!;
        Assert.Equal(HttpStatusCode.NotFound, await ReadAs($"/Observation/{visit}", OldClinician)); // at once, not after the cache expires
        Assert.Equal(HttpStatusCode.NotFound, await ReadAs($"/Observation/{later}", OldClinician));
        Assert.Equal(HttpStatusCode.NotFound, await ReadAs($"/Observation/{later}", Doctor)); // the contract ended with the move
        Assert.Equal(HttpStatusCode.OK, await ReadAs($"/Observation/{own}", OldClinician));
        // Nor does the old holder maintain it any more (四(三)8): its administrator's update is refused.
        await Forbidden(await Send(HttpMethod.Put, $"/Patient/{patient}", after.GetRawText(), Admin));
        // Its copy of the cover and basic information is read-only: it reads them as they were handed over, and once
        // the new holder updates them, only the versions it wrote (四(三)8).
        Assert.Equal(HttpStatusCode.OK, await ReadAs($"/Patient/{patient}", OldClinician));
        var moved = JsonSerializer.Deserialize<Dictionary<string, object>>(after.GetRawText())!;
        moved["telecom"] = new[] { new Dictionary<string, string> { ["system"] = "phone", ["value"] = "13900000000" } };
        var updated = await Send(HttpMethod.Put, $"/Patient/{patient}", JsonSerializer.Serialize(moved), NewDoctor);
        Assert.True(updated.StatusCode == HttpStatusCode.OK, await updated.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, await ReadAs($"/Patient/{patient}", OldClinician));
        Assert.Equal(HttpStatusCode.OK, await ReadAs($"/Patient/{patient}/_history/1", OldClinician));
        Assert.Equal(HttpStatusCode.NotFound, await ReadAs($"/Patient/{patient}/_history/3", OldClinician));
        Assert.Equal(HttpStatusCode.OK, await ReadAs($"/Task/{id}", NewDoctor));

        // The protection period: refused until its end, named in the answer; from that day on a request is taken.
        _clock.Now = new DateTimeOffset(2026, 8, 27, 2, 0, 0, TimeSpan.Zero);
        var protectedRequest = await RequestAsync(patient, NearbyDoctor);
        Assert.Equal(HttpStatusCode.Conflict, protectedRequest.StatusCode);
        Assert.Contains("2026-08-28", Diagnostics(await protectedRequest.JsonAsync()));
        _clock.Now = new DateTimeOffset(2026, 8, 28, 2, 0, 0, TimeSpan.Zero);
        Assert.Equal(HttpStatusCode.Created, (await RequestAsync(patient, NearbyDoctor)).StatusCode);
    }

    [FhirFact]
    public async Task A_refusal_needs_a_reason_and_leaves_the_record_where_it_was()
    {
        _clock.Now = new DateTimeOffset(2026, 4, 1, 2, 0, 0, TimeSpan.Zero);
        var patient = await RecordAsync();
        var id = await RequestedAsync(patient, NewDoctor);
        var silent = await Send(HttpMethod.Post, $"/Task/{id}/$reject", null, Admin);
        Assert.Equal(HttpStatusCode.BadRequest, silent.StatusCode);
        Assert.Contains("reason", Diagnostics(await silent.JsonAsync()));
        Assert.Equal(HttpStatusCode.BadRequest, (await Send(HttpMethod.Post, $"/Task/{id}/$reject", Params(("reason", "String", "  ")), Admin)).StatusCode);
        await Forbidden(await Send(HttpMethod.Post, $"/Task/{id}/$reject", Params(("reason", "String", "不同意")), NewDoctor));

        var rejected = await Send(HttpMethod.Post, $"/Task/{id}/$reject", Params(("reason", "String", "居民尚未迁出本辖区")), Admin);
        Assert.Equal(HttpStatusCode.OK, rejected.StatusCode);
        var task = await rejected.JsonAsync();
        Assert.Equal("rejected", task.GetProperty("status").GetString());
        Assert.Equal("居民尚未迁出本辖区", task.GetProperty("statusReason").GetProperty("text").GetString());
        Assert.Equal(Org, Holder(await ReadAsync($"/Patient/{patient}")));
        // The requester still sees its refused request (and why); a new request may follow.
        Assert.Equal(HttpStatusCode.OK, await ReadAs($"/Task/{id}", NewDoctor));
        Assert.Contains(id, await C.SearchIdsAsync($"/Task?code=transfer&status=rejected&requester={Elsewhere}"));
        Assert.Equal(HttpStatusCode.Created, (await RequestAsync(patient, NewDoctor)).StatusCode);
    }

    [FhirFact]
    public async Task Deceased_records_never_move_and_a_record_has_one_open_request()
    {
        _clock.Now = new DateTimeOffset(2026, 4, 2, 2, 0, 0, TimeSpan.Zero);
        var deceased = await RecordAsync();
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Post, $"/Patient/{deceased}/$close", Close("inactive-death", "2026-04-01", "心肌梗死"), Doctor)).StatusCode);
        var refused = await RequestAsync(deceased, NewDoctor);
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Contains("死亡", Diagnostics(await refused.JsonAsync()));

        // Died while a request was open: it cannot be approved any more, only refused, which frees the record.
        var dying = await RecordAsync();
        var pending = await RequestedAsync(dying, NewDoctor);
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Post, $"/Patient/{dying}/$close", Close("inactive-death", "2026-04-02", "脑卒中"), Doctor)).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await Send(HttpMethod.Post, $"/Task/{pending}/$approve", null, Admin)).StatusCode);
        Assert.Equal(Org, Holder(await ReadAsync($"/Patient/{dying}")));
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Post, $"/Task/{pending}/$reject", Params(("reason", "String", "居民已死亡")), Admin)).StatusCode);

        var patient = await RecordAsync();
        await RequestedAsync(patient, NewDoctor);
        var second = await RequestAsync(patient, NearbyDoctor);
        Assert.Equal(HttpStatusCode.Conflict, second.StatusCode);
        Assert.Contains("open transfer request", Diagnostics(await second.JsonAsync()));

        // Bad input is a 4xx with an OperationOutcome, never a 500.
        var fresh = await RecordAsync();
        Assert.Equal(HttpStatusCode.BadRequest, (await RequestAsync(fresh, NewDoctor, Request(reason: "9"))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await RequestAsync(fresh, NewDoctor, Params(("reason", "Code", "1")))).StatusCode);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await RequestAsync(fresh, Doctor)).StatusCode); // already the holder
        await Forbidden(await RequestAsync(fresh, TestCallers.As("res-x", Roles.Resident, patient: $"Patient/{fresh}")));
        Assert.Equal(HttpStatusCode.NotFound, (await RequestAsync("no-such-record", NewDoctor)).StatusCode);
        // Transfer Tasks come only from the procedure.
        var forged = $$$"""{"resourceType":"Task","status":"requested","intent":"order","code":{"coding":[{"system":"{{{TaskDecisions.TaskTypeSystem}}}","code":"transfer"}]},"for":{"reference":"Patient/{{{fresh}}}"},"requester":{"reference":"{{{Elsewhere}}}"},"owner":{"reference":"{{{Org}}}"}}""";
        await Forbidden(await Send(HttpMethod.Post, "/Task", forged, NewDoctor));
    }

    [FhirFact]
    public async Task A_classified_record_is_answered_as_an_unknown_one_to_any_other_institution_asking_for_it()
    {
        _clock.Now = new DateTimeOffset(2026, 4, 2, 3, 0, 0, TimeSpan.Zero);
        var classified = $$$""","meta":{"security":[{"system":"{{{ConsentTerms.SensitivitySystem}}}","code":"{{{ConsentTerms.Classified}}}"}]}""";
        var patient = await RecordAsync(classified, Admin); // only the holder's record administrator sets the flag
        Assert.Contains(ConsentTerms.Classified, (await (await Send(HttpMethod.Get, $"/Patient/{patient}", null, Admin)).JsonAsync()).GetProperty("meta").GetRawText());
        var sendCode = Params(("reason", "Code", "2"), ("confirmation", "Code", "3"), ("sendCode", "Boolean", "true"));
        foreach (var body in new[] { Request(), sendCode })
        {
            // The same answer as for a record that does not exist: status and words, the id aside.
            var asked = await RequestAsync(patient, NewDoctor, body);
            var unknown = await RequestAsync("no-such-record", NewDoctor, body);
            Assert.Equal(HttpStatusCode.NotFound, asked.StatusCode);
            Assert.Equal(unknown.StatusCode, asked.StatusCode);
            Assert.Equal(Diagnostics(await unknown.JsonAsync()).Replace("no-such-record", patient), Diagnostics(await asked.JsonAsync()));
        }
        // Nothing was filed, so no Task names the record or its holder.
        Assert.Empty(await SearchAs($"/Task?code=transfer&subject=Patient/{patient}", Admin));
        Assert.Equal(HttpStatusCode.NotFound, await ReadAs($"/Patient/{patient}", NewDoctor));
    }

    [FhirFact]
    public async Task A_record_classified_while_its_transfer_is_open_is_not_moved_by_the_approval()
    {
        _clock.Now = new DateTimeOffset(2026, 4, 3, 3, 0, 0, TimeSpan.Zero);
        var patient = await RecordAsync();
        var task = await RequestedAsync(patient, NewDoctor);
        // The holder's record administrator classifies the resident while the request is open.
        var record = System.Text.Json.Nodes.JsonNode.Parse((await (await Send(HttpMethod.Get, $"/Patient/{patient}", null, Admin)).JsonAsync()).GetRawText())!;
        record["meta"]!["security"] = System.Text.Json.Nodes.JsonNode.Parse($$"""[{"system":"{{ConsentTerms.SensitivitySystem}}","code":"{{ConsentTerms.Classified}}"}]""");
        var classify = await Send(HttpMethod.Put, $"/Patient/{patient}", record.ToJsonString(), Admin);
        Assert.True(classify.StatusCode == HttpStatusCode.OK, await classify.Content.ReadAsStringAsync());

        // The same check as a request: a classified record goes to no other institution; the request can only be refused.
        var approve = await Send(HttpMethod.Post, $"/Task/{task}/$approve", null, Admin);
        Assert.True(approve.StatusCode == HttpStatusCode.Conflict, await approve.Content.ReadAsStringAsync());
        Assert.Equal(Org, Holder(await (await Send(HttpMethod.Get, $"/Patient/{patient}", null, Admin)).JsonAsync()));
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Post, $"/Task/{task}/$reject", Params(("reason", "String", "涉密人员档案不转出")), Admin)).StatusCode);
    }

    private async Task<List<string>> SearchAs(string url, (string, string) who)
    {
        var r = await Send(HttpMethod.Get, url, null, who);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var bundle = await r.JsonAsync();
        return bundle.TryGetProperty("entry", out var e) ? e.EnumerateArray().Select(x => x.GetProperty("resource").GetProperty("id").GetString()!).ToList() : [];
    }

    [FhirFact]
    public async Task The_resident_confirms_by_a_one_time_code_by_SMS_and_a_wrong_code_costs_an_attempt()
    {
        _clock.Now = new DateTimeOffset(2026, 4, 5, 2, 0, 0, TimeSpan.Zero);
        var phone = "139" + Random.Shared.Next(10_000_000, 99_999_999);
        var patient = await RecordAsync($$$""","telecom":[{"system":"phone","value":"{{{phone}}}","use":"mobile"}]""");
        static string SendCode(string confirmation) => Params(("reason", "Code", "2"), ("confirmation", "Code", confirmation), ("sendCode", "Boolean", "true"));
        static string Confirm(string request, string code) => Params(("reason", "Code", "2"), ("confirmation", "Code", "3"), ("request", "String", request), ("code", "String", code));

        // A code proves an SMS confirmation only.
        Assert.Equal(HttpStatusCode.BadRequest, (await RequestAsync(patient, NewDoctor, SendCode("1"))).StatusCode);
        // sendCode is a boolean: anything else is a 400, not a request filed without the resident's code.
        var notBoolean = await RequestAsync(patient, NewDoctor, Params(("reason", "Code", "2"), ("confirmation", "Code", "3"), ("sendCode", "String", "yes")));
        Assert.Equal(HttpStatusCode.BadRequest, notBoolean.StatusCode);
        var sent = await RequestAsync(patient, NewDoctor, SendCode("3"));
        Assert.True(sent.StatusCode == HttpStatusCode.OK, await sent.Content.ReadAsStringAsync());
        var answer = (await sent.JsonAsync()).GetProperty("parameter").EnumerateArray().ToDictionary(p => p.GetProperty("name").GetString()!);
        var request = answer["request"].GetProperty("valueString").GetString()!;
        Assert.Equal($"{phone[..3]}****{phone[^4..]}", answer["phone"].GetProperty("valueString").GetString());
        var (text, code) = SmsOutbox.Last(_outbox, phone);
        Assert.Contains("涪陵区敦仁街道社区卫生服务中心 申请将您的健康档案转入本机构管理（居住地变更）", text);
        // Nothing is filed before the resident agreed.
        Assert.Empty(await C.SearchIdsAsync($"/Task?code=transfer&subject=Patient/{patient}"));

        // A wrong code costs an attempt; another institution cannot use the request; the right one files it.
        // The transfer's code opens no access grant: to $grant-access the request is unknown, and no Consent is written.
        var asGrant = await Send(HttpMethod.Post, "/Patient/$grant-access", Params(("request", "String", request), ("code", "String", code!)), NewDoctor);
        Assert.Equal(HttpStatusCode.NotFound, asGrant.StatusCode);
        Assert.Empty(await C.SearchIdsAsync($"/Consent?patient=Patient/{patient}"));

        var wrong = await RequestAsync(patient, NewDoctor, Confirm(request, code == "000000" ? "111111" : "000000"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, wrong.StatusCode);
        Assert.Contains("attempt(s) left", Diagnostics(await wrong.JsonAsync()));
        Assert.Equal(HttpStatusCode.NotFound, (await RequestAsync(patient, NearbyDoctor, Confirm(request, code!))).StatusCode);
        var filed = await RequestAsync(patient, NewDoctor, Confirm(request, code!));
        Assert.True(filed.StatusCode == HttpStatusCode.Created, await filed.Content.ReadAsStringAsync());
        var inputs = (await filed.JsonAsync()).GetProperty("input").EnumerateArray().ToDictionary(i => i.GetProperty("type").GetProperty("text").GetString()!);
        Assert.Equal("3", inputs["confirmation"].GetProperty("valueCodeableConcept").GetProperty("coding")[0].GetProperty("code").GetString());
        Assert.Equal($"Patient/{patient}", inputs["confirmed-by"].GetProperty("valueReference").GetProperty("reference").GetString());
        // A code is used once.
        Assert.Equal(HttpStatusCode.Conflict, (await RequestAsync(patient, NewDoctor, Confirm(request, code!))).StatusCode);

        // No code is sent for a request that would be refused, nor to a record without a phone.
        Assert.Equal(HttpStatusCode.Conflict, (await RequestAsync(patient, NearbyDoctor, SendCode("3"))).StatusCode); // one open request
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await RequestAsync(await RecordAsync(), NewDoctor, SendCode("3"))).StatusCode);
    }

    [FhirFact]
    public async Task Transfer_statistics_count_each_outcome_and_the_response_times_of_a_period()
    {
        var asked = new DateTimeOffset(2027, 2, 1, 2, 0, 0, TimeSpan.Zero); // 10:00 in China, a day no other test uses
        _clock.Now = asked;
        // The approved record's resident lives in Wanzhou (500101); the others name no division.
        const string wanzhouAddress = ""","address":[{"extension":[{"url":"http://fhirarchive.cn/fhir/StructureDefinition/cn-division-code","valueCoding":{"system":"http://fhirarchive.cn/fhir/CodeSystem/gbt-2260-admin-division","code":"500101001"}}],"text":"万州区高笋塘街道"}]""";
        var approved = await RequestedAsync(await RecordAsync(wanzhouAddress), NewDoctor);
        var refused = await RequestedAsync(await RecordAsync(), NewDoctor);
        await RequestedAsync(await RecordAsync(), NewDoctor); // left open
        var closed = await RecordAsync();
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Post, $"/Patient/{closed}/$close", Close("inactive-lost"), Doctor)).StatusCode);
        await RequestedAsync(closed, NearbyDoctor); // completed at the request

        _clock.Now = asked.AddHours(48);
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Post, $"/Task/{approved}/$approve", null, Admin)).StatusCode);
        _clock.Now = asked.AddHours(216); // past the 7th day: escalated, then refused late
        await _job.RunOnceAsync();
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Post, $"/Task/{refused}/$reject", Params(("reason", "String", "居民未迁出")), Admin)).StatusCode);

        var officer = TestCallers.As("hc-" + Unique(), Roles.HealthAdministrationOfficer);
        var expected = new Dictionary<string, decimal>
        {
            ["requested"] = 4, ["completed"] = 2, ["completedAtRequest"] = 1, ["rejected"] = 1, ["open"] = 1, ["escalated"] = 2,
            ["answeredInTime"] = 1, ["answeredLate"] = 1, ["medianResponseHours"] = 132, ["longestResponseHours"] = 216,
        };
        foreach (var (who, query) in new[] { (officer, $"owner={Org}&"), (Admin, "") })
        {
            var r = await Send(HttpMethod.Get, $"/Task/$transfer-statistics?{query}from=2027-02-01&to=2027-02-01", null, who);
            Assert.True(r.StatusCode == HttpStatusCode.OK, await r.Content.ReadAsStringAsync());
            var got = (await r.JsonAsync()).GetProperty("parameter").EnumerateArray().ToDictionary(p => p.GetProperty("name").GetString()!,
                p => p.TryGetProperty("valueInteger", out var i) ? i.GetDecimal() : p.GetProperty("valueDecimal").GetDecimal());
            Assert.Equal(expected, got);
        }
        // An officer whose token names a division counts the requests for its residents only (a health administration
        // officer of Wanzhou: the approved one; a public health officer of Fuling: none).
        async Task<Dictionary<string, decimal>> StatisticsAsync((string, string) who)
        {
            var r = await Send(HttpMethod.Get, $"/Task/$transfer-statistics?owner={Org}&from=2027-02-01&to=2027-02-01", null, who);
            Assert.True(r.StatusCode == HttpStatusCode.OK, await r.Content.ReadAsStringAsync());
            return (await r.JsonAsync()).GetProperty("parameter").EnumerateArray().Where(p => p.TryGetProperty("valueInteger", out _))
                .ToDictionary(p => p.GetProperty("name").GetString()!, p => p.GetProperty("valueInteger").GetDecimal());
        }
        var wanzhou = await StatisticsAsync(TestCallers.As("hc-wz-" + Unique(), Roles.HealthAdministrationOfficer, jurisdiction: "500101"));
        Assert.Equal((1m, 1m, 0m, 0m), (wanzhou["requested"], wanzhou["completed"], wanzhou["rejected"], wanzhou["open"]));
        var fuling = await StatisticsAsync(TestCallers.As("ph-fl-" + Unique(), Roles.PublicHealthOfficer, jurisdiction: "500102"));
        Assert.Equal(0m, fuling["requested"]);

        // The next day holds none of them; a record administrator reads its own institution only; others none.
        var empty = await (await Send(HttpMethod.Get, $"/Task/$transfer-statistics?owner={Org}&from=2027-02-02&to=2027-02-02", null, officer)).JsonAsync();
        Assert.Equal(0, empty.GetProperty("parameter")[0].GetProperty("valueInteger").GetInt32());
        await Forbidden(await Send(HttpMethod.Get, $"/Task/$transfer-statistics?owner={Elsewhere}", null, Admin));
        await Forbidden(await Send(HttpMethod.Get, "/Task/$transfer-statistics", null, OldClinician));
        Assert.Equal(HttpStatusCode.BadRequest, (await Send(HttpMethod.Get, "/Task/$transfer-statistics?from=2027-13-01", null, officer)).StatusCode);
    }

    [FhirFact]
    public async Task Two_simultaneous_requests_for_one_record_give_one_task_and_one_409()
    {
        _clock.Now = new DateTimeOffset(2026, 4, 3, 2, 0, 0, TimeSpan.Zero);
        for (var round = 0; round < 3; round++)
        {
            var patient = await RecordAsync();
            var answers = await Task.WhenAll(RequestAsync(patient, NewDoctor), RequestAsync(patient, NearbyDoctor));
            Assert.Single(answers, a => a.StatusCode == HttpStatusCode.Created);
            Assert.Single(answers, a => a.StatusCode == HttpStatusCode.Conflict);
            Assert.Single(await C.SearchIdsAsync($"/Task?code=transfer&subject=Patient/{patient}"));
        }
    }

    [FhirFact]
    public async Task A_record_closed_as_moved_out_or_lost_transfers_without_the_old_holder_and_within_a_district_no_protection_by_default()
    {
        _clock.Now = new DateTimeOffset(2026, 4, 4, 2, 0, 0, TimeSpan.Zero);
        foreach (var reason in new[] { "inactive-moved", "inactive-lost" })
        {
            var patient = await RecordAsync();
            Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Post, $"/Patient/{patient}/$close", Close(reason), Doctor)).StatusCode);
            var r = await RequestAsync(patient, NearbyDoctor);
            Assert.True(r.StatusCode == HttpStatusCode.Created, await r.Content.ReadAsStringAsync());
            var task = await r.JsonAsync();
            Assert.Equal("completed", task.GetProperty("status").GetString());
            Assert.DoesNotContain(task.GetProperty("output").EnumerateArray(), o => o.GetProperty("type").GetProperty("text").GetString() == "protection-end");
            var after = await ReadAsync($"/Patient/{patient}");
            Assert.Equal(SameDistrict, Holder(after));
            Assert.Equal("active", Status(after));
            // Within the district and no protection configured: it may move on at once.
            Assert.Equal(HttpStatusCode.Created, (await RequestAsync(patient, NewDoctor)).StatusCode);
        }
    }

    [FhirFact]
    public async Task An_unanswered_request_is_escalated_after_seven_calendar_days_and_the_city_platform_completes_it()
    {
        _clock.Now = new DateTimeOffset(2026, 5, 1, 2, 0, 0, TimeSpan.Zero); // 10:00 on 1 May in China
        var patient = await RecordAsync();
        var id = await RequestedAsync(patient, NewDoctor);

        // The suite's client acts for the platform: not before the request is escalated.
        await Forbidden(await C.SendAsync(HttpMethod.Post, $"/Task/{id}/$approve"));
        _clock.Now = new DateTimeOffset(2026, 5, 8, 15, 59, 0, TimeSpan.Zero); // 23:59 on 8 May: the last day to answer
        Assert.DoesNotContain(id, await _job.RunOnceAsync());
        _clock.Now = new DateTimeOffset(2026, 5, 8, 16, 0, 0, TimeSpan.Zero); // 00:00 on 9 May
        Assert.Contains(id, await _job.RunOnceAsync());
        Assert.DoesNotContain(id, await _job.RunOnceAsync()); // once
        var escalated = await ReadAsync($"/Task/{id}");
        Assert.Equal("requested", escalated.GetProperty("status").GetString());
        Assert.Equal("escalated", escalated.GetProperty("businessStatus").GetProperty("coding")[0].GetProperty("code").GetString());

        var approved = await C.SendAsync(HttpMethod.Post, $"/Task/{id}/$approve");
        Assert.True(approved.StatusCode == HttpStatusCode.OK, await approved.Content.ReadAsStringAsync());
        Assert.Equal(Elsewhere, Holder(await ReadAsync($"/Patient/{patient}")));
    }
}

public sealed class TransferTests(TransferFixture fx) : TransferTestsBase<TransferFixture>(fx), IClassFixture<TransferFixture>;
public sealed class PostgresTransferTests(PostgresTransferFixture fx) : TransferTestsBase<PostgresTransferFixture>(fx), IClassFixture<PostgresTransferFixture>;

using System.Net;
using System.Text;
using System.Text.Json;
using FhirArchive.Rest.Access;
using FhirArchive.Archive.Records;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Archive.Tests.Records;

public abstract class CorrectionTestsBase<TFixture>(TFixture fx) : RecordTestsBase<TFixture>(fx) where TFixture : ServerFixture
{
    private static string CorrectionTask(string obs, string patient, string content) => $$$"""
        {"resourceType":"Task","status":"requested","intent":"proposal",
         "code":{"coding":[{"system":"http://fhirarchive.cn/fhir/CodeSystem/record-task-type","code":"correction"}]},
         "focus":{"reference":"Observation/{{{obs}}}"},"for":{"reference":"Patient/{{{patient}}}"},
         "authoredOn":"2026-11-30","requester":{"reference":"Practitioner/rec-dr"},"reasonCode":{"text":"录入错误: 收缩压应为 135"},
         "input":[{"type":{"text":"content"},"valueAttachment":{"contentType":"application/fhir+json","data":"{{{Convert.ToBase64String(Encoding.UTF8.GetBytes(content))}}}"}}]}
        """;

    [FhirFact]
    public async Task A_correction_approved_by_the_responsible_administrator_writes_a_new_version_with_its_provenance()
    {
        await EnsureInstitutionAsync();
        var patient = await CreateRecordAsync(Residents.New().Json);
        var obs = (await (await Send(HttpMethod.Post, "/Observation", Residents.Observation(patient, value: "153"), Doctor)).JsonAsync()).GetProperty("id").GetString()!;
        var task = (await (await Send(HttpMethod.Post, "/Task", CorrectionTask(obs, patient, Residents.Observation(patient, value: "135")), Doctor)).JsonAsync()).GetProperty("id").GetString()!;

        // Not an administrator: 403, nothing changes. The administrator of another institution may not see the record:
        // the Task looks missing to them (404, naming nothing of it).
        Assert.Equal(HttpStatusCode.Forbidden, (await Send(HttpMethod.Post, $"/Task/{task}/$approve", null, Doctor)).StatusCode);
        var other = TestCallers.As("admin-other", Roles.RecordAdministrator, org: "Organization/another-chc", practitioner: "Practitioner/other-admin");
        var wrong = await Send(HttpMethod.Post, $"/Task/{task}/$approve", null, other);
        Assert.Equal(HttpStatusCode.NotFound, wrong.StatusCode);
        var wrongText = await wrong.Content.ReadAsStringAsync();
        Assert.DoesNotContain(Org, wrongText);
        Assert.Equal(wrongText.Replace(task, "ID"), (await (await Send(HttpMethod.Post, "/Task/no-such-task/$approve", null, other)).Content.ReadAsStringAsync()).Replace("no-such-task", "ID"));
        Assert.Equal("1", (await ReadAsync($"/Observation/{obs}")).GetProperty("meta").GetProperty("versionId").GetString());

        var approved = await Send(HttpMethod.Post, $"/Task/{task}/$approve", null, Admin);
        Assert.Equal(HttpStatusCode.OK, approved.StatusCode);
        var done = await approved.JsonAsync();
        Assert.Equal("completed", done.GetProperty("status").GetString());
        Assert.Equal($"Observation/{obs}/_history/2", done.GetProperty("output")[0].GetProperty("valueReference").GetProperty("reference").GetString());

        var now = await ReadAsync($"/Observation/{obs}");
        Assert.Equal("2", now.GetProperty("meta").GetProperty("versionId").GetString());
        Assert.Equal(135, now.GetProperty("valueQuantity").GetProperty("value").GetInt32());
        Assert.Equal(153, (await ReadAsync($"/Observation/{obs}/_history/1")).GetProperty("valueQuantity").GetProperty("value").GetInt32());
        Assert.Equal(2, (await ReadAsync($"/Observation/{obs}/_history")).GetProperty("total").GetInt32());

        var provenance = (await ReadAsync($"/Provenance?target=Observation/{obs}")).GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("resource"))
            .Single(p => p.GetProperty("agent").EnumerateArray().Any(a => a.GetProperty("type").GetProperty("coding")[0].GetProperty("code").GetString() == "verifier"));
        Assert.Equal($"Observation/{obs}/_history/2", provenance.GetProperty("target")[0].GetProperty("reference").GetString());
        Assert.Contains("收缩压应为 135", provenance.GetProperty("reason")[0].GetProperty("text").GetString());
        var agents = provenance.GetProperty("agent").EnumerateArray().ToDictionary(a => a.GetProperty("type").GetProperty("coding")[0].GetProperty("code").GetString()!, a => a.GetProperty("who").GetProperty("reference").GetString());
        Assert.Equal("Practitioner/rec-dr", agents["author"]);
        Assert.Equal("Practitioner/rec-admin", agents["verifier"]);
        Assert.True(provenance.TryGetProperty("recorded", out _));
        Assert.Equal(HttpStatusCode.Conflict, (await Send(HttpMethod.Post, $"/Task/{task}/$approve", null, Admin)).StatusCode);
    }

    [FhirFact]
    public async Task Approve_takes_an_empty_Parameters_or_no_body_and_the_provenance_names_the_approving_administrator()
    {
        await EnsureInstitutionAsync();
        var patient = await CreateRecordAsync(Residents.New().Json);
        // An administrator signed in without a Practitioner of their own (as the demo 档案管理员 is).
        var userAdmin = TestCallers.As("admin-sun-" + Unique(), Roles.RecordAdministrator, org: Org);
        var decided = new List<(string Obs, string Task)>();
        foreach (var body in new[] { """{"resourceType":"Parameters"}""", """{"resourceType":"Parameters","parameter":[]}""", null })
        {
            var obs = (await (await Send(HttpMethod.Post, "/Observation", Residents.Observation(patient, value: "153"), Doctor)).JsonAsync()).GetProperty("id").GetString()!;
            var task = (await (await Send(HttpMethod.Post, "/Task", CorrectionTask(obs, patient, Residents.Observation(patient, value: "135")), Doctor)).JsonAsync()).GetProperty("id").GetString()!;
            var approved = await Send(HttpMethod.Post, $"/Task/{task}/$approve", body, userAdmin);
            Assert.True(approved.StatusCode == HttpStatusCode.OK, $"{body ?? "no body"}: {await approved.Content.ReadAsStringAsync()}");
            decided.Add((obs, task));
        }
        foreach (var (obs, task) in decided)
        {
            var provenance = (await ReadAsync($"/Provenance?target=Observation/{obs}")).GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("resource"))
                .Single(p => p.TryGetProperty("entity", out var entities) && entities.EnumerateArray().Any(e => e.GetProperty("what").GetProperty("reference").GetString() == $"Task/{task}"));
            var agents = provenance.GetProperty("agent").EnumerateArray().ToDictionary(a => a.GetProperty("type").GetProperty("coding")[0].GetProperty("code").GetString()!);
            Assert.Equal("Practitioner/rec-dr", agents["author"].GetProperty("who").GetProperty("reference").GetString());
            // The approver is the person who approved, for the institution: not the institution itself.
            var verifier = agents["verifier"];
            Assert.False(verifier.GetProperty("who").TryGetProperty("reference", out _));
            Assert.Equal(userAdmin.Item2.Split(';')[0], verifier.GetProperty("who").GetProperty("identifier").GetProperty("value").GetString());
            Assert.Equal("urn:fhirarchive:user", verifier.GetProperty("who").GetProperty("identifier").GetProperty("system").GetString());
            Assert.Equal(Org, verifier.GetProperty("onBehalfOf").GetProperty("reference").GetString());
        }
    }

    [FhirFact]
    public async Task A_rejected_correction_changes_nothing()
    {
        await EnsureInstitutionAsync();
        var patient = await CreateRecordAsync(Residents.New().Json);
        var obs = (await (await Send(HttpMethod.Post, "/Observation", Residents.Observation(patient), Doctor)).JsonAsync()).GetProperty("id").GetString()!;
        var task = (await (await Send(HttpMethod.Post, "/Task", CorrectionTask(obs, patient, Residents.Observation(patient, value: "99")), Doctor)).JsonAsync()).GetProperty("id").GetString()!;
        Assert.Equal(HttpStatusCode.BadRequest, (await Send(HttpMethod.Post, $"/Task/{task}/$reject", null, Admin)).StatusCode);
        var r = await Send(HttpMethod.Post, $"/Task/{task}/$reject", """{"resourceType":"Parameters","parameter":[{"name":"reason","valueString":"原值正确"}]}""", Admin);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("rejected", (await r.JsonAsync()).GetProperty("status").GetString());
        Assert.Equal(120, (await ReadAsync($"/Observation/{obs}")).GetProperty("valueQuantity").GetProperty("value").GetInt32());
        Assert.Equal(HttpStatusCode.Conflict, (await Send(HttpMethod.Post, $"/Task/{task}/$approve", null, Admin)).StatusCode);
    }
}

public abstract class RecordNumberTestsBase<TFixture>(TFixture fx) : RecordTestsBase<TFixture>(fx) where TFixture : ServerFixture
{
    private static string Number(JsonElement patient) => patient.GetProperty("identifier").EnumerateArray()
        .Single(i => i.GetProperty("system").GetString() == "urn:oid:2.16.156.10011.1.2").GetProperty("value").GetString()!;

    [FhirFact]
    public async Task Each_new_record_gets_the_next_17_digit_number_of_its_institution_and_keeps_it()
    {
        await EnsureInstitutionAsync();
        var (json, _) = Residents.New();
        var forged = json.Replace("\"identifier\":[", """ "identifier":[{"system":"urn:oid:2.16.156.10011.1.2","value":"50010100190199999"},""");
        var a = await ReadAsync($"/Patient/{await CreateRecordAsync(forged)}");
        var b = await ReadAsync($"/Patient/{await CreateRecordAsync(Residents.New().Json)}");
        var na = Number(a);
        var nb = Number(b);
        Assert.Matches("^500101001901[0-9]{5}$", na);
        Assert.NotEqual("50010100190199999", na);
        Assert.True(long.Parse(nb) > long.Parse(na));

        // An update without the number keeps it; one that changes it is refused.
        var id = a.GetProperty("id").GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Put, $"/Patient/{id}", json.Replace("\"resourceType\":\"Patient\",", $"\"resourceType\":\"Patient\",\"id\":\"{id}\","), Doctor)).StatusCode);
        Assert.Equal(na, Number(await ReadAsync($"/Patient/{id}")));
        var changed = json.Replace("\"resourceType\":\"Patient\",", $"\"resourceType\":\"Patient\",\"id\":\"{id}\",").Replace("\"identifier\":[", $$""" "identifier":[{"system":"urn:oid:2.16.156.10011.1.2","value":"{{na[..12]}}99998"},""");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await Send(HttpMethod.Put, $"/Patient/{id}", changed, Doctor)).StatusCode);
        Assert.Contains(id, await C.SearchIdsAsync($"/Patient?identifier=urn:oid:2.16.156.10011.1.2|{na}"));
    }

    [FhirFact]
    public async Task Numbers_of_refused_records_are_not_handed_out_twice_and_a_record_needs_its_institution()
    {
        await EnsureInstitutionAsync();
        var (json, _) = Residents.New();
        var first = Number(await ReadAsync($"/Patient/{await CreateRecordAsync(json)}"));
        Assert.Equal(HttpStatusCode.Conflict, (await Send(HttpMethod.Post, "/Patient", json, Doctor)).StatusCode);
        var next = Number(await ReadAsync($"/Patient/{await CreateRecordAsync(Residents.New().Json)}"));
        Assert.NotEqual(first, next);
        var noOrg = Residents.New().Json.Replace(""","managingOrganization":{"reference":"Organization/rec-chc"}""", "");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await Send(HttpMethod.Post, "/Patient", noOrg, Doctor)).StatusCode);
    }

    [FhirFact]
    public async Task An_institution_on_file_with_only_its_county_code_gets_a_clear_422_not_a_record_without_a_number()
    {
        // A 6-digit county code has no township segment (GB/T 10114) to put in the number: refused, saying what to fix.
        var countyOnly = "county-" + Unique();
        await C.PutAsync($$$"""
            {"resourceType":"Organization","id":"{{{countyOnly}}}","extension":[{"url":"http://fhirarchive.cn/fhir/StructureDefinition/cn-division-code",
              "valueCoding":{"system":"http://fhirarchive.cn/fhir/CodeSystem/gbt-2260-admin-division","code":"110105"}}],"name":"朝阳区社区卫生服务中心"}
            """);
        var (json, card) = Residents.New();
        var r = await Send(HttpMethod.Post, "/Patient", json.Replace(Org, $"Organization/{countyOnly}"), Doctor);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, r.StatusCode);
        var outcome = await r.JsonAsync();
        AssertOutcome(outcome, "110105");
        Assert.Contains("township", Diagnostics(outcome));
        Assert.Empty(await C.SearchIdsAsync($"/Patient?identifier=urn:oid:2.16.156.10011.1.3|{card}"));
    }
}

public abstract class TimelinessTestsBase<TFixture>(TFixture fx) : RecordTestsBase<TFixture>(fx) where TFixture : ServerFixture
{
    private const string Late = "http://fhirarchive.cn/fhir/CodeSystem/data-quality|late-entry";

    [FhirFact]
    public async Task Service_records_entered_more_than_five_days_late_are_accepted_and_tagged()
    {
        await EnsureInstitutionAsync();
        var patient = await CreateRecordAsync(Residents.New().Json);
        var onTime = DateTimeOffset.UtcNow.AddDays(-4).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");
        var late = DateTimeOffset.UtcNow.AddDays(-6).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");
        var a = await Send(HttpMethod.Post, "/Observation", Residents.Observation(patient, onTime), Doctor);
        var b = await Send(HttpMethod.Post, "/Observation", Residents.Observation(patient, late), Doctor);
        Assert.Equal(HttpStatusCode.Created, a.StatusCode);
        Assert.Equal(HttpStatusCode.Created, b.StatusCode);
        var lateId = (await b.JsonAsync()).GetProperty("id").GetString();
        Assert.Equal(new[] { lateId! }, await C.SearchIdsAsync($"/Observation?subject=Patient/{patient}&_tag={Late}"));
        // Plain resources (no record behind them) are not the record's business.
        var plain = await C.PostAsync("/Observation", Body(Residents.Observation("not-a-record", late)));
        Assert.False((await plain.JsonAsync()).GetProperty("meta").TryGetProperty("tag", out _));
    }
}

public abstract class MatchAndMergeTestsBase<TFixture>(TFixture fx) : RecordTestsBase<TFixture>(fx) where TFixture : ServerFixture
{
    private static string MatchBody(string patient, string extra = "") =>
        $$"""{"resourceType":"Parameters","parameter":[{"name":"resource","resource":{{patient}}}{{extra}}]}""";

    private static List<(string Id, double Score, string Grade)> Results(JsonElement bundle) =>
        bundle.TryGetProperty("entry", out var e)
            ? e.EnumerateArray().Select(x => (x.GetProperty("resource").GetProperty("id").GetString()!, x.GetProperty("search").GetProperty("score").GetDouble(),
                x.GetProperty("search").GetProperty("extension")[0].GetProperty("valueCode").GetString()!)).ToList()
            : [];

    [FhirFact]
    public async Task Match_finds_the_record_by_id_card_as_certain_and_by_demographics_as_probable()
    {
        await EnsureInstitutionAsync();
        var birth = Residents.RandomBirthDate();
        var card = Residents.IdCard("female", birth);
        var name = "测" + Unique()[..4];
        var phone = "139" + Random.Shared.Next(10_000_000, 99_999_999);
        var id = await CreateRecordAsync(Residents.Patient(Residents.IdCardIdentifier(card), name: name, gender: "female", birthDate: birth,
            extra: $$""","telecom":[{"system":"phone","value":"{{phone}}"}]"""));

        var byCard = Results(await (await C.PostAsync("/Patient/$match", Body(MatchBody($$"""{"resourceType":"Patient","identifier":[{{Residents.IdCardIdentifier(card)}}]}""")))).JsonAsync());
        Assert.Equal((id, 1.0, "certain"), Assert.Single(byCard));

        var r = await C.PostAsync("/Patient/$match", Body(MatchBody($$"""{"resourceType":"Patient","name":[{"text":"{{name}}"}],"gender":"female","birthDate":"{{birth}}","telecom":[{"system":"phone","value":"{{phone}}"}]}""")));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var demo = Assert.Single(Results(await r.JsonAsync()), x => x.Id == id);
        Assert.Equal("probable", demo.Grade);
        Assert.InRange(demo.Score, 0.8, 0.99);
        var certainOnly = Results(await (await C.PostAsync("/Patient/$match", Body(MatchBody($$"""{"resourceType":"Patient","name":[{"text":"{{name}}"}],"birthDate":"{{birth}}"}""",
            ""","{"name":"onlyCertainMatches","valueBoolean":true}""")))).JsonAsync());
        Assert.Empty(certainOnly);
        // A different ID card number rules the candidate out even when the rest agrees.
        var other = Residents.IdCard("female", birth);
        Assert.DoesNotContain(Results(await (await C.PostAsync("/Patient/$match", Body(MatchBody($$"""{"resourceType":"Patient","identifier":[{{Residents.IdCardIdentifier(other)}}],"name":[{"text":"{{name}}"}],"birthDate":"{{birth}}"}""")))).JsonAsync()), x => x.Id == id);
        Assert.Equal(HttpStatusCode.BadRequest, (await C.PostAsync("/Patient/$match", Body("""{"resourceType":"Parameters","parameter":[{"name":"count","valueInteger":3}]}"""))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await C.PostAsync("/Patient/$match", Body(MatchBody("""{"resourceType":"Patient","active":true}""")))).StatusCode);
    }

    [FhirFact]
    public async Task Match_reads_onlyCertainMatches_as_a_strict_boolean()
    {
        var body = MatchBody("""{"resourceType":"Patient","name":[{"text":"测试"}],"birthDate":"1980-01-01"}""");
        foreach (var loose in new[] { "yes", "TRUE", "1" })
        {
            var r = await C.PostAsync($"/Patient/$match?onlyCertainMatches={loose}", Body(body));
            var text = await r.Content.ReadAsStringAsync();
            Assert.True(r.StatusCode == HttpStatusCode.BadRequest, $"onlyCertainMatches={loose}: {r.StatusCode} {text}");
            Assert.Contains("onlyCertainMatches", text);
        }
        Assert.Equal(HttpStatusCode.OK, (await C.PostAsync("/Patient/$match?onlyCertainMatches=false", Body(body))).StatusCode);
    }

    [FhirFact]
    public async Task Merge_folds_a_duplicate_into_the_survivor_and_repoints_its_service_records()
    {
        await EnsureInstitutionAsync();
        var survivor = await CreateRecordAsync(Residents.New().Json);
        // A historical duplicate filed under a birth certificate before the ID number was known.
        var duplicate = await CreateRecordAsync(Residents.Patient($$"""{"system":"http://fhirarchive.cn/fhir/sid/birth-certificate","value":"O6{{Random.Shared.Next(10_000_000, 99_999_999)}}"}""", birthDate: "1980-01-01"));
        var obs = (await (await Send(HttpMethod.Post, "/Observation", Residents.Observation(duplicate), Doctor)).JsonAsync()).GetProperty("id").GetString()!;
        var body = $$$"""{"resourceType":"Parameters","parameter":[{"name":"source-patient","valueReference":{"reference":"Patient/{{{duplicate}}}"}},{"name":"target-patient","valueReference":{"reference":"Patient/{{{survivor}}}"}}]}""";

        Assert.Equal(HttpStatusCode.Forbidden, (await Send(HttpMethod.Post, "/Patient/$merge", body, Doctor)).StatusCode);
        var r = await Send(HttpMethod.Post, "/Patient/$merge", body, Admin);
        Assert.True(r.StatusCode == HttpStatusCode.OK, await r.Content.ReadAsStringAsync());

        var merged = await ReadAsync($"/Patient/{duplicate}");
        Assert.Equal("merged", Status(merged));
        Assert.False(merged.GetProperty("active").GetBoolean());
        var link = merged.GetProperty("link")[0];
        Assert.Equal("replaced-by", link.GetProperty("type").GetString());
        Assert.Equal($"Patient/{survivor}", link.GetProperty("other").GetProperty("reference").GetString());
        Assert.Equal("replaces", (await ReadAsync($"/Patient/{survivor}")).GetProperty("link")[0].GetProperty("type").GetString());
        var moved = await ReadAsync($"/Observation/{obs}");
        Assert.Equal($"Patient/{survivor}", moved.GetProperty("subject").GetProperty("reference").GetString());
        Assert.Equal("2", moved.GetProperty("meta").GetProperty("versionId").GetString());
        Assert.Equal($"Patient/{duplicate}", (await ReadAsync($"/Observation/{obs}/_history/1")).GetProperty("subject").GetProperty("reference").GetString());
        Assert.Contains(obs, await C.SearchIdsAsync($"/Observation?subject=Patient/{survivor}"));

        Assert.Equal(HttpStatusCode.Conflict, (await Send(HttpMethod.Post, "/Patient/$merge", body, Admin)).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await Send(HttpMethod.Post, $"/Patient/{duplicate}/$reactivate", null, Doctor)).StatusCode);
        Assert.Contains(duplicate, await C.SearchIdsAsync($"/Patient?record-status=merged&_id={duplicate}"));
        Assert.Equal(HttpStatusCode.BadRequest, (await Send(HttpMethod.Post, "/Patient/$merge", body.Replace(duplicate, survivor), Admin)).StatusCode);
    }
}

public abstract class MergedIdentityTestsBase<TFixture>(TFixture fx) : RecordTestsBase<TFixture>(fx) where TFixture : ServerFixture
{
    private static string MergeBody(string source, string target) =>
        $$$"""{"resourceType":"Parameters","parameter":[{"name":"source-patient","valueReference":{"reference":"Patient/{{{source}}}"}},{"name":"target-patient","valueReference":{"reference":"Patient/{{{target}}}"}}]}""";

    private static string BirthCertificate(string number) => $$"""{"system":"http://fhirarchive.cn/fhir/sid/birth-certificate","value":"{{number}}"}""";

    [FhirFact]
    public async Task After_a_merge_the_duplicates_birth_certificate_belongs_to_the_survivor()
    {
        await EnsureInstitutionAsync();
        var (survivorJson, card) = Residents.New();
        var survivor = await CreateRecordAsync(survivorJson);
        var certificate = "O7" + Random.Shared.Next(10_000_000, 99_999_999);
        var duplicate = await CreateRecordAsync(Residents.Patient(BirthCertificate(certificate), birthDate: "1980-01-01"));
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Post, "/Patient/$merge", MergeBody(duplicate, survivor), Admin)).StatusCode);

        var again = Residents.Patient(BirthCertificate(certificate), name: "张小伟", birthDate: "1980-01-01");
        var r = await Send(HttpMethod.Post, "/Patient", again, Doctor);
        Assert.Equal(HttpStatusCode.Conflict, r.StatusCode);
        AssertOutcome(await r.JsonAsync(), $"Patient/{survivor}");
        var conditional = await C.SendAsync(HttpMethod.Post, "/Patient", again, Doctor, ("If-None-Exist", $"identifier=http://fhirarchive.cn/fhir/sid/birth-certificate|{certificate}"));
        Assert.Equal(HttpStatusCode.OK, conditional.StatusCode);
        Assert.Equal(survivor, (await conditional.JsonAsync()).GetProperty("id").GetString());

        // An ordinary update of the survivor that leaves out its links keeps them, and the inherited key with them.
        var update = survivorJson.Replace("\"resourceType\":\"Patient\",", $"\"resourceType\":\"Patient\",\"id\":\"{survivor}\",");
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Put, $"/Patient/{survivor}", update, Doctor)).StatusCode);
        var link = Assert.Single((await ReadAsync($"/Patient/{survivor}")).GetProperty("link").EnumerateArray());
        Assert.Equal($"Patient/{duplicate}", link.GetProperty("other").GetProperty("reference").GetString());
        var stillRefused = await Send(HttpMethod.Post, "/Patient", again, Doctor);
        Assert.Equal(HttpStatusCode.Conflict, stillRefused.StatusCode);
        AssertOutcome(await stillRefused.JsonAsync(), $"Patient/{survivor}");
        // The survivor's own key is its own as before.
        var own = await Send(HttpMethod.Post, "/Patient", survivorJson, Doctor);
        Assert.Equal(HttpStatusCode.Conflict, own.StatusCode);
        AssertOutcome(await own.JsonAsync(), $"Patient/{survivor}");
        Assert.Single(await C.SearchIdsAsync($"/Patient?identifier=urn:oid:2.16.156.10011.1.3|{card}"));
    }

    [FhirFact]
    public async Task An_infant_filed_under_the_mother_and_merged_keeps_the_mothers_key_with_the_survivor_through_a_second_merge()
    {
        await EnsureInstitutionAsync();
        var birth = DateTime.UtcNow.AddDays(-40).ToString("yyyy-MM-dd");
        var mother = $$"""{"system":"http://fhirarchive.cn/fhir/sid/mother-id-card","value":"{{Residents.IdCard("female", "1990-05-05")}}"}""";
        var infant = Residents.Patient(mother, name: "小宝", birthDate: birth, extra: ",\"multipleBirthInteger\":1");
        var early = await CreateRecordAsync(infant);
        var middle = await CreateRecordAsync(Residents.Patient(BirthCertificate("O8" + Random.Shared.Next(10_000_000, 99_999_999)), name: "小宝", birthDate: birth));
        var last = await CreateRecordAsync(Residents.Patient(Residents.IdCardIdentifier(Residents.IdCard("male", birth)), name: "小宝", birthDate: birth));
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Post, "/Patient/$merge", MergeBody(early, middle), Admin)).StatusCode);
        var afterFirst = await Send(HttpMethod.Post, "/Patient", infant, Doctor);
        Assert.Equal(HttpStatusCode.Conflict, afterFirst.StatusCode);
        AssertOutcome(await afterFirst.JsonAsync(), $"Patient/{middle}");

        // The middle record is merged in turn: both earlier keys are the last survivor's.
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Post, "/Patient/$merge", MergeBody(middle, last), Admin)).StatusCode);
        var afterSecond = await Send(HttpMethod.Post, "/Patient", infant, Doctor);
        Assert.Equal(HttpStatusCode.Conflict, afterSecond.StatusCode);
        AssertOutcome(await afterSecond.JsonAsync(), $"Patient/{last}");
    }

    [FhirFact]
    public async Task A_merge_that_fails_moves_no_keys()
    {
        await EnsureInstitutionAsync();
        var survivor = await CreateRecordAsync(Residents.New().Json);
        var certificate = "O9" + Random.Shared.Next(10_000_000, 99_999_999);
        var duplicate = await CreateRecordAsync(Residents.Patient(BirthCertificate(certificate), birthDate: "1980-01-01"));
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Post, $"/Patient/{survivor}/$close", Close("inactive-moved"), Doctor)).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await Send(HttpMethod.Post, "/Patient/$merge", MergeBody(duplicate, survivor), Admin)).StatusCode);
        var r = await Send(HttpMethod.Post, "/Patient", Residents.Patient(BirthCertificate(certificate), birthDate: "1980-01-01"), Doctor);
        Assert.Equal(HttpStatusCode.Conflict, r.StatusCode);
        AssertOutcome(await r.JsonAsync(), $"Patient/{duplicate}");
    }
}

public sealed class MergedIdentityTests(RecordFixture fx) : MergedIdentityTestsBase<RecordFixture>(fx), IClassFixture<RecordFixture>;
public sealed class PostgresMergedIdentityTests(PostgresRecordFixture fx) : MergedIdentityTestsBase<PostgresRecordFixture>(fx), IClassFixture<PostgresRecordFixture>;

public sealed class MatchAndMergeTests(RecordFixture fx) : MatchAndMergeTestsBase<RecordFixture>(fx), IClassFixture<RecordFixture>;
public sealed class PostgresMatchAndMergeTests(PostgresRecordFixture fx) : MatchAndMergeTestsBase<PostgresRecordFixture>(fx), IClassFixture<PostgresRecordFixture>;

/// <summary>A clock the test moves: the lost-to-follow-up job and the retention period are driven by it.</summary>
public sealed class RecordClockFixture() : ServerFixtureWith(RecordFixture.Settings, s => { TestCallers.Register(s); s.AddSingleton<TimeProvider>(new ManualClock()); });
public sealed class PostgresRecordClockFixture() : PostgresServerFixture(RecordFixture.Settings, s => { TestCallers.Register(s); s.AddSingleton<TimeProvider>(new ManualClock()); });

/// <summary>The job and the retention period, with the clock moved by the test.</summary>
public abstract class RecordClockTestsBase<TFixture>(TFixture fx) : RecordTestsBase<TFixture>(fx) where TFixture : ServerFixture
{
    private readonly ManualClock _clock = (ManualClock)fx.Factory.Services.GetRequiredService<TimeProvider>();
    private readonly LostToFollowUpJob _job = fx.Factory.Services.GetRequiredService<LostToFollowUpJob>();

    [FhirFact]
    public async Task The_daily_job_marks_records_without_service_for_a_year_lost_once()
    {
        _clock.Now = new DateTimeOffset(2020, 1, 1, 8, 0, 0, TimeSpan.Zero);
        await EnsureInstitutionAsync();
        var quiet = await CreateRecordAsync(Residents.New().Json);
        var served = await CreateRecordAsync(Residents.New().Json);
        _clock.Now = new DateTimeOffset(2020, 6, 1, 8, 0, 0, TimeSpan.Zero);
        Assert.Equal(HttpStatusCode.Created, (await Send(HttpMethod.Post, "/Observation", Residents.Observation(served, "2020-06-01T09:00:00+08:00"), Doctor)).StatusCode);

        _clock.Now = new DateTimeOffset(2021, 3, 1, 8, 0, 0, TimeSpan.Zero);
        var marked = await _job.RunOnceAsync();
        Assert.Contains(quiet, marked);
        Assert.DoesNotContain(served, marked);
        Assert.Equal("inactive-lost", Status(await ReadAsync($"/Patient/{quiet}")));
        Assert.Equal("active", Status(await ReadAsync($"/Patient/{served}")));
        Assert.DoesNotContain(quiet, await _job.RunOnceAsync()); // idempotent

        _clock.Now = new DateTimeOffset(2021, 6, 2, 8, 0, 0, TimeSpan.Zero);
        Assert.Contains(served, await _job.RunOnceAsync());
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Post, $"/Patient/{quiet}/$reactivate", null, Doctor)).StatusCode);
    }

    [FhirFact]
    public async Task An_administrator_purges_a_record_sealed_for_15_years_with_its_service_records()
    {
        _clock.Now = new DateTimeOffset(2000, 1, 1, 8, 0, 0, TimeSpan.Zero);
        await EnsureInstitutionAsync();
        var (json, card) = Residents.New();
        var id = await CreateRecordAsync(json);
        var obs = (await (await Send(HttpMethod.Post, "/Observation", Residents.Observation(id, "1999-12-31T09:00:00+08:00"), Doctor)).JsonAsync()).GetProperty("id").GetString();
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Post, $"/Patient/{id}/$close", Close("inactive-moved"), Doctor)).StatusCode);

        _clock.Now = new DateTimeOffset(2014, 12, 31, 8, 0, 0, TimeSpan.Zero);
        Assert.Equal(HttpStatusCode.Conflict, (await Send(HttpMethod.Post, $"/Patient/{id}/$purge", null, Admin)).StatusCode);
        _clock.Now = new DateTimeOffset(2015, 1, 2, 8, 0, 0, TimeSpan.Zero);
        Assert.Equal(HttpStatusCode.Forbidden, (await Send(HttpMethod.Post, $"/Patient/{id}/$purge", null, Doctor)).StatusCode);
        var purged = await Send(HttpMethod.Post, $"/Patient/{id}/$purge", null, Admin);
        Assert.Equal(HttpStatusCode.OK, purged.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await C.GetAsync($"/Patient/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await C.GetAsync($"/Observation/{obs}")).StatusCode);
        Assert.Empty(await C.SearchIdsAsync($"/Patient?identifier=urn:oid:2.16.156.10011.1.3|{card}"));
        await CreateRecordAsync(json); // the person's identity is free again
    }
}

public sealed class CorrectionTests(RecordFixture fx) : CorrectionTestsBase<RecordFixture>(fx), IClassFixture<RecordFixture>;
public sealed class PostgresCorrectionTests(PostgresRecordFixture fx) : CorrectionTestsBase<PostgresRecordFixture>(fx), IClassFixture<PostgresRecordFixture>;
public sealed class RecordNumberTests(RecordFixture fx) : RecordNumberTestsBase<RecordFixture>(fx), IClassFixture<RecordFixture>;
public sealed class PostgresRecordNumberTests(PostgresRecordFixture fx) : RecordNumberTestsBase<PostgresRecordFixture>(fx), IClassFixture<PostgresRecordFixture>;
public sealed class TimelinessTests(RecordFixture fx) : TimelinessTestsBase<RecordFixture>(fx), IClassFixture<RecordFixture>;
public sealed class PostgresTimelinessTests(PostgresRecordFixture fx) : TimelinessTestsBase<PostgresRecordFixture>(fx), IClassFixture<PostgresRecordFixture>;
public sealed class RecordClockTests(RecordClockFixture fx) : RecordClockTestsBase<RecordClockFixture>(fx), IClassFixture<RecordClockFixture>;
public sealed class PostgresRecordClockTests(PostgresRecordClockFixture fx) : RecordClockTestsBase<PostgresRecordClockFixture>(fx), IClassFixture<PostgresRecordClockFixture>;

/// <summary>The sample data with every Patient a record, as the shipped settings have it.</summary>
public sealed class SampleRecordsFixture() : ServerFixtureWith(Settings, null)
{
    public static readonly Dictionary<string, string> Settings = new()
    {
        ["SampleData:Load"] = "true",
        ["Records:LostToFollowUpJob"] = "false",
        ["Validation:RecordProfiles:Patient"] = FhirArchive.Profiles.CnProfiles.ResidentPatient,
    };
}

public sealed class PostgresSampleRecordsFixture() : PostgresServerFixture(SampleRecordsFixture.Settings, null);

public abstract class SampleRecordsTestsBase<TFixture>(TFixture fx) : RecordTestsBase<TFixture>(fx) where TFixture : ServerFixture
{
    [FhirFact]
    public async Task The_sample_records_show_every_lifecycle_state_and_a_correction_history()
    {
        var active = await ReadAsync("/Patient/cq-chen-ming");
        Assert.Equal("active", Status(active));
        Assert.Equal("Practitioner/cq-dr-li", active.GetProperty("generalPractitioner")[0].GetProperty("reference").GetString());
        Assert.Contains(active.GetProperty("identifier").EnumerateArray(), i => i.GetProperty("system").GetString() == "urn:oid:2.16.156.10011.1.2"
            && i.GetProperty("value").GetString()!.StartsWith("500101001901", StringComparison.Ordinal));
        Assert.Equal("inactive-lost", Status(await ReadAsync("/Patient/cq-zhao-li")));
        var deceased = await ReadAsync("/Patient/cq-sun-qiang");
        Assert.Equal("inactive-death", Status(deceased));
        Assert.Equal("2026-06-18", deceased.GetProperty("deceasedDateTime").GetString());
        Assert.Equal("inactive-moved", Status(await ReadAsync("/Patient/cq-zhou-min")));
        Assert.Equal("merged", Status(await ReadAsync("/Patient/cq-chen-ming-dup")));
        Assert.Equal("Patient/cq-chen-ming", (await ReadAsync("/Observation/cq-obs-dup")).GetProperty("subject").GetProperty("reference").GetString());

        var bp = await ReadAsync("/Observation/cq-obs-bp");
        Assert.Equal("2", bp.GetProperty("meta").GetProperty("versionId").GetString());
        Assert.Equal(135, bp.GetProperty("valueQuantity").GetProperty("value").GetInt32());
        Assert.Equal(185, (await ReadAsync("/Observation/cq-obs-bp/_history/1")).GetProperty("valueQuantity").GetProperty("value").GetInt32());
        Assert.Equal("completed", (await ReadAsync("/Task/cq-correction-bp")).GetProperty("status").GetString());
        Assert.Contains(await C.SearchIdsAsync($"/Patient?_tag={StatusTag}|active&_count=50"), id => id == "cq-chen-ming");

        // The sample transfers: 李娜's waits for her holder; 吴霞's, closed as lost, moved to the Beijing holder at once.
        var pending = Assert.Single((await ReadAsync("/Task?code=transfer&subject=Patient/li-na")).GetProperty("entry").EnumerateArray()).GetProperty("resource");
        Assert.Equal("requested", pending.GetProperty("status").GetString());
        Assert.Equal("Organization/bj-chaoyang-hospital", pending.GetProperty("owner").GetProperty("reference").GetString());
        var moved = await ReadAsync("/Patient/cq-wu-xia");
        Assert.Equal("active", Status(moved));
        Assert.Equal("Organization/bj-chaoyang-hospital", moved.GetProperty("managingOrganization").GetProperty("reference").GetString());
        var done = Assert.Single((await ReadAsync("/Task?code=transfer&subject=Patient/cq-wu-xia")).GetProperty("entry").EnumerateArray()).GetProperty("resource");
        Assert.Equal("completed", done.GetProperty("status").GetString());
        Assert.Contains(done.GetProperty("output").EnumerateArray(), o => o.GetProperty("type").GetProperty("text").GetString() == "protection-end");
    }

    [FhirFact]
    public async Task The_sample_residents_of_the_Beijing_institution_have_record_numbers()
    {
        foreach (var id in new[] { "zhang-wei", "wang-fang", "li-na", "liu-yang" })
        {
            var numbers = (await ReadAsync($"/Patient/{id}")).GetProperty("identifier").EnumerateArray()
                .Where(i => i.GetProperty("system").GetString() == "urn:oid:2.16.156.10011.1.2").Select(i => i.GetProperty("value").GetString()!);
            Assert.Matches("^110105001901[0-9]{5}$", Assert.Single(numbers));
        }
    }
}

public sealed class SampleRecordsTests(SampleRecordsFixture fx) : SampleRecordsTestsBase<SampleRecordsFixture>(fx), IClassFixture<SampleRecordsFixture>;
public sealed class PostgresSampleRecordsTests(PostgresSampleRecordsFixture fx) : SampleRecordsTestsBase<PostgresSampleRecordsFixture>(fx), IClassFixture<PostgresSampleRecordsFixture>;

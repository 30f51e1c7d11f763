using FhirArchive.Archive.PatientIdentity;
using Microsoft.Extensions.DependencyInjection;
using System.Net;
using System.Text.Json;
using FhirArchive.Archive.Consent;
using FhirArchive.Archive.Masking;
using FhirArchive.Archive.Tests.Records;
using FhirArchive.Rest.Access;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Archive.Tests.PatientIdentity;

/// <summary>
/// IHE PDQm (ITI-78) and PIXm (ITI-83 $ihe-pix, ITI-104 feed) on resident records (the record profile enforced, the
/// consent rules on): a community health centre holds the records; hospital A (authorised by the residents it feeds)
/// and hospital B each have a medical-record-number domain registered as a NamingSystem; hospital C has none and no
/// authorisation. The IHE examples (Mohr Alice / Alissa, the Red, Green and Blue domains of the IHE PIXm
/// implementation guide, github.com/IHE/ITI.PIXm input/examples and ITI-104.md) are adapted as test data: the same
/// domains, identifiers and demographics, plus the ID card number that cross-references them here.
/// </summary>
public abstract class PatientIdentityTestsBase<TFixture>(TFixture fx) : RecordTestsBase<TFixture>(fx) where TFixture : ServerFixture
{
    private const string HospA = "Organization/pix-hosp-a";
    private const string HospB = "Organization/pix-hosp-b";
    private const string HospC = "Organization/pix-hosp-c";
    // IHE's Red and Blue domains (the Connectathon OIDs of the PIXm examples), here hospital A's and B's MRNs.
    private const string MrnA = "urn:oid:1.3.6.1.4.1.21367.13.20.1000";
    private const string MrnB = "urn:oid:1.3.6.1.4.1.21367.13.20.3000";
    private const string IdCardSystem = "urn:oid:2.16.156.10011.1.3";
    private const string HealthCardSystem = "urn:oid:2.16.156.10011.1.19";
    private static readonly (string, string) DoctorA = TestCallers.As("pix-doc-a", Roles.Clinician, org: HospA, practitioner: "Practitioner/pix-doc-a");
    private static readonly (string, string) DoctorB = TestCallers.As("pix-doc-b", Roles.Clinician, org: HospB, practitioner: "Practitioner/pix-doc-b");
    private static readonly (string, string) DoctorC = TestCallers.As("pix-doc-c", Roles.Clinician, org: HospC, practitioner: "Practitioner/pix-doc-c");

    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static readonly HashSet<object> Ready = [];
    private readonly TFixture _fx = fx;

    private async Task WorldAsync()
    {
        await EnsureInstitutionAsync();
        await Gate.WaitAsync();
        try
        {
            if (!Ready.Add(_fx)) return;
            foreach (var (org, name) in new[] { (HospA, "甲医院 / Hospital A"), (HospB, "乙医院 / Hospital B"), (HospC, "丙医院 / Hospital C") })
                await C.PutAsync($$"""{"resourceType":"Organization","id":"{{org.Split('/')[1]}}","name":"{{name}}"}""");
            await C.PutAsync(NamingSystem("mrn-pix-hosp-a", "oid", MrnA[8..], HospA));
            await C.PutAsync(NamingSystem("mrn-pix-hosp-b", "oid", MrnB[8..], HospB));
        }
        finally { Gate.Release(); }
    }

    private static string NamingSystem(string id, string type, string value, string org) => $$$"""
        {"resourceType":"NamingSystem","id":"{{{id}}}","name":"{{{id.Replace("-", "")}}}","status":"active","kind":"identifier","date":"2026-12-07",
         "type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]},
         "useContext":[{"code":{"system":"http://terminology.hl7.org/CodeSystem/usage-context-type","code":"venue"},"valueReference":{"reference":"{{{org}}}"}}],
         "uniqueId":[{"type":"{{{type}}}","value":"{{{value}}}","preferred":true}]}
        """;

    private static string Id(string system, string value) => $$"""{"system":"{{system}}","value":"{{value}}"}""";

    /// <summary>A record held by the health centre, with the resident's authorisation for hospital A: (id, ID card, birth date).</summary>
    private async Task<(string Id, string Card, string Birth)> RecordAsync(string gender = "male", string extraIdentifiers = "", string extra = "", string name = "张伟", bool grantA = true)
    {
        await WorldAsync();
        var birth = Residents.RandomBirthDate();
        var card = Residents.IdCard(gender, birth);
        var id = await CreateRecordAsync(Residents.Patient(Residents.IdCardIdentifier(card) + extraIdentifiers, name: name, gender: gender, birthDate: birth, extra: extra));
        if (grantA) await GrantAsync(id, HospA, "Practitioner/pix-doc-a");
        return (id, card, birth);
    }

    private async Task GrantAsync(string patient, string org, string practitioner)
    {
        var now = DateTimeOffset.UtcNow;
        string Actor(string reference) => $$$"""{"role":{"coding":[{"system":"{{{ConsentTerms.ParticipationSystem}}}","code":"IRCP"}]},"reference":{"reference":"{{{reference}}}"}}""";
        var consent = $$$"""
            {"resourceType":"Consent","status":"active",
             "scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
             "category":[{"coding":[{"system":"{{{ConsentTerms.CategorySystem}}}","code":"{{{ConsentTerms.RecordAccess}}}"}]}],
             "patient":{"reference":"Patient/{{{patient}}}"},"dateTime":"{{{now.AddDays(-1):yyyy-MM-dd'T'HH:mm:ss'Z'}}}","performer":[{"reference":"Patient/{{{patient}}}"}],
             "organization":[{"reference":"{{{Org}}}"}],
             "provision":{"type":"permit","period":{"start":"{{{now.AddDays(-1):yyyy-MM-dd'T'HH:mm:ss'Z'}}}","end":"{{{now.AddDays(30):yyyy-MM-dd'T'HH:mm:ss'Z'}}}"},
               "actor":[{{{Actor(org)}}},{{{Actor(practitioner)}}}],"purpose":[{"system":"{{{ConsentTerms.PurposeSystem}}}","code":"TREAT"}]}}
            """;
        var r = await Send(HttpMethod.Post, "/Consent", consent, Admin);
        Assert.True(r.StatusCode == HttpStatusCode.Created, await r.Content.ReadAsStringAsync());
    }

    /// <summary>An ITI-104 feed: PUT Patient?identifier=system|value.</summary>
    private Task<HttpResponseMessage> FeedAsync(string system, string value, string json, (string, string) who) =>
        Send(HttpMethod.Put, $"/Patient?identifier={Uri.EscapeDataString(system + "|" + value)}", json, who);

    private async Task<(HttpStatusCode Status, JsonElement Body)> PixAsync(string query, (string, string)? who = null)
    {
        var r = await Send(HttpMethod.Get, "/Patient/$ihe-pix?" + query, null, who ?? DoctorA);
        return (r.StatusCode, await r.JsonAsync());
    }

    private static List<string> TargetIdentifiers(JsonElement parameters) =>
        parameters.TryGetProperty("parameter", out var ps)
            ? [.. ps.EnumerateArray().Where(p => p.GetProperty("name").GetString() == "targetIdentifier")
                .Select(p => p.GetProperty("valueIdentifier")).Select(i => $"{i.GetProperty("system").GetString()}|{i.GetProperty("value").GetString()}").Order()]
            : [];

    private static List<string> TargetIds(JsonElement parameters) =>
        parameters.TryGetProperty("parameter", out var ps)
            ? [.. ps.EnumerateArray().Where(p => p.GetProperty("name").GetString() == "targetId").Select(p => p.GetProperty("valueReference").GetProperty("reference").GetString()!)]
            : [];

    private static string Q(string system, string value) => Uri.EscapeDataString($"{system}|{value}");

    private static List<string> Identifiers(JsonElement patient) =>
        [.. patient.GetProperty("identifier").EnumerateArray().Select(i => $"{i.GetProperty("system").GetString()}|{i.GetProperty("value").GetString()}").Order()];

    private static string Mrn() => "IHERED-" + Unique()[..6];

    [FhirFact]
    public async Task A_domain_is_looked_up_once_and_again_after_a_NamingSystem_is_written()
    {
        await WorldAsync();
        var domains = _fx.Factory.Services.GetRequiredService<IdentifierDomains>();
        // Asked again, the answer is the one kept (no second NamingSystem search on every Patient write).
        var a = await domains.FindAsync(MrnA, default);
        Assert.Equal(HospA, a?.Institution);
        Assert.Same(a, await domains.FindAsync(MrnA, default));

        // An unknown system is kept as unknown until a NamingSystem registers it; a change of institution counts at once.
        var oid = "1.3.6.1.4.1.21367.13.20." + Random.Shared.Next(100_000, 999_999);
        Assert.Null(await domains.FindAsync("urn:oid:" + oid, default));
        var id = "mrn-cache-" + oid.Split('.')[^1];
        await C.PutAsync(NamingSystem(id, "oid", oid, HospB));
        Assert.Equal(HospB, (await domains.FindAsync("urn:oid:" + oid, default))?.Institution);
        await C.PutAsync(NamingSystem(id, "oid", oid, HospC));
        Assert.Equal(HospC, (await domains.FindAsync("urn:oid:" + oid, default))?.Institution);
    }

    [FhirFact]
    public async Task A_NamingSystem_written_without_an_HTTP_request_is_forgotten_once_its_session_commits()
    {
        await WorldAsync();
        var services = _fx.Factory.Services;
        var domains = services.GetRequiredService<IdentifierDomains>();
        var oid = "1.3.6.1.4.1.21367.13.21." + Random.Shared.Next(100_000, 999_999);
        Assert.Null(await domains.FindAsync("urn:oid:" + oid, default));
        var store = services.GetRequiredService<Storage.IResourceStore>();
        var pipeline = services.GetRequiredService<Rest.Writing.WritePipeline>();
        await using (var session = await store.BeginWriteAsync())
        {
            var resource = Rest.Infrastructure.FhirFormats.ParseStored(System.Text.Encoding.UTF8.GetBytes(NamingSystem("mrn-nohttp-" + oid.Split('.')[^1], "oid", oid, HospB)));
            await pipeline.StoreAsync(session, Rest.Writing.WriteIntent.Create, resource, "NamingSystem", "mrn-nohttp-" + oid.Split('.')[^1], null, default);
            // Asked between the write and its commit: the committed state does not hold it yet, and this answer is kept.
            Assert.Null(await domains.FindAsync("urn:oid:" + oid, default));
            await session.CommitAsync();
        }
        Assert.Equal(HospB, (await domains.FindAsync("urn:oid:" + oid, default))?.Institution);
    }

    [FhirFact]
    public async Task A_hospital_feed_adds_its_MRN_to_the_record_once_and_takes_nothing_else_of_its_payload()
    {
        var (id, card, birth) = await RecordAsync();
        var mrn = Mrn();
        // The hospital found the record (PDQm by ID card) and feeds its MRN with its own demographics.
        var feed = Residents.Patient(Residents.IdCardIdentifier(card) + "," + Id(MrnA, mrn), name: "张卫（甲医院）", birthDate: birth, org: HospA, id: id);
        var r = await FeedAsync(MrnA, mrn, feed, DoctorA);
        Assert.True(r.StatusCode == HttpStatusCode.OK, await r.Content.ReadAsStringAsync());
        var record = await ReadAsync($"/Patient/{id}");
        Assert.Contains($"{MrnA}|{mrn}", Identifiers(record));
        var fed = record.GetProperty("identifier").EnumerateArray().Single(i => i.GetProperty("system").GetString() == MrnA);
        Assert.Equal(HospA, fed.GetProperty("assigner").GetProperty("reference").GetString()); // IHE ITI TF-2 E.3
        Assert.Equal("张伟", record.GetProperty("name")[0].GetProperty("text").GetString()); // the holder's demographics stay
        Assert.Equal(Org, record.GetProperty("managingOrganization").GetProperty("reference").GetString());
        Assert.Equal(HospA, record.GetProperty("meta").GetProperty("source").GetString()); // who wrote this version
        Assert.Equal("2", record.GetProperty("meta").GetProperty("versionId").GetString());

        // The same feed again, now matched by the MRN alone (no id): the same record, still one MRN, no duplicate.
        var again = await FeedAsync(MrnA, mrn, Residents.Patient(Id(MrnA, mrn), name: "张卫", birthDate: birth, org: HospA), DoctorA);
        Assert.True(again.StatusCode == HttpStatusCode.OK, await again.Content.ReadAsStringAsync());
        Assert.Equal(id, (await again.JsonAsync()).GetProperty("id").GetString());
        record = await ReadAsync($"/Patient/{id}");
        Assert.Single(record.GetProperty("identifier").EnumerateArray(), i => i.GetProperty("system").GetString() == MrnA);
        Assert.Contains($"{IdCardSystem}|{card}", Identifiers(record)); // a feed without the ID card does not drop it
        Assert.Equal([id], await C.SearchIdsAsync($"/Patient?identifier={Q(IdCardSystem, card)}"));
    }

    [FhirFact]
    public async Task A_feed_in_a_transaction_entry_follows_the_same_rules()
    {
        var (id, card, birth) = await RecordAsync();
        var mrn = Mrn();
        var url = $"Patient?identifier={Q(MrnA, mrn)}";
        var bundle = $$$"""
            {"resourceType":"Bundle","type":"transaction","entry":[
              {"resource":{{{Residents.Patient(Residents.IdCardIdentifier(card) + "," + Id(MrnA, mrn), name: "另一个名字", birthDate: birth, org: HospA, id: id)}}},"request":{"method":"PUT","url":"{{{url}}}"}}]}
            """;
        var r = await Send(HttpMethod.Post, "/", bundle, DoctorA);
        Assert.True(r.StatusCode == HttpStatusCode.OK, await r.Content.ReadAsStringAsync());
        var record = await ReadAsync($"/Patient/{id}");
        Assert.Contains($"{MrnA}|{mrn}", Identifiers(record));
        Assert.Equal("张伟", record.GetProperty("name")[0].GetProperty("text").GetString());
        // In XML (ITI-104: JSON and XML), an identifier of an unregistered system with search-reserved characters beside it left alone.
        var mrn2 = Mrn();
        var xml = $"""
            <Patient xmlns="http://hl7.org/fhir"><id value="{id}"/>
              <identifier><system value="{IdCardSystem}"/><value value="{card}"/></identifier>
              <identifier><system value="{MrnA}"/><value value="{mrn2}"/></identifier>
              <name><text value="XML"/></name><gender value="male"/><birthDate value="{birth}"/>
              <managingOrganization><reference value="{HospA}"/></managingOrganization></Patient>
            """;
        var put = new HttpRequestMessage(HttpMethod.Put, $"/Patient?identifier={Q(MrnA, mrn2)}") { Content = new StringContent(xml, System.Text.Encoding.UTF8, Xml) };
        put.Headers.Add(DoctorA.Item1, DoctorA.Item2);
        var xmlFeed = await C.SendAsync(put);
        Assert.True(xmlFeed.StatusCode == HttpStatusCode.OK, await xmlFeed.Content.ReadAsStringAsync());
        Assert.Contains($"{MrnA}|{mrn2}", Identifiers(await ReadAsync($"/Patient/{id}")));
        var odd = await CreateRecordAsync(Residents.New().Json.Replace("\"identifier\":[", "\"identifier\":[{\"system\":\"urn:x:a,b|c$d\\\\e\",\"value\":\"1\"},"));
        Assert.Contains("urn:x:a,b|c$d\\e|1", Identifiers(await ReadAsync($"/Patient/{odd}")));

        // Hospital B (authorised too) with an entry in A's domain: the whole transaction is refused.
        await GrantAsync(id, HospB, "Practitioner/pix-doc-b");
        var forged = bundle.Replace(mrn, "B-FORGED");
        await Forbidden(await Send(HttpMethod.Post, "/", forged, DoctorB), HospA);
        Assert.DoesNotContain("B-FORGED", (await ReadAsync($"/Patient/{id}")).GetRawText());
    }

    [FhirFact]
    public async Task A_feed_that_would_create_a_second_record_for_an_ID_card_number_is_refused_and_a_new_person_is_created()
    {
        var (id, card, birth) = await RecordAsync();
        var mrn = Mrn();
        // No record carries this MRN: the feed creates; the ID card number is on file: one person, one record (409, naming it to A who may see it).
        var r = await FeedAsync(MrnA, mrn, Residents.Patient(Residents.IdCardIdentifier(card) + "," + Id(MrnA, mrn), birthDate: birth, org: HospA), DoctorA);
        Assert.Equal(HttpStatusCode.Conflict, r.StatusCode);
        AssertOutcome(await r.JsonAsync(), $"Patient/{id}");
        Assert.Equal([id], await C.SearchIdsAsync($"/Patient?identifier={Q(IdCardSystem, card)}"));
        Assert.Empty(await C.SearchIdsAsync($"/Patient?identifier={Q(MrnA, mrn)}"));
        // Hospital C may not see the record: the same refusal names none.
        var hidden = await Send(HttpMethod.Post, "/Patient", Residents.Patient(Residents.IdCardIdentifier(card), birthDate: birth, org: HospC), DoctorC);
        Assert.Equal(HttpStatusCode.Conflict, hidden.StatusCode);
        Assert.DoesNotContain(id, await hidden.Content.ReadAsStringAsync());

        // A person the archive does not know: the feed creates the record, hospital A its holder, its MRN assigned by it.
        var birth2 = Residents.RandomBirthDate();
        var card2 = Residents.IdCard("female", birth2);
        var mrn2 = Mrn();
        var created = await FeedAsync(MrnA, mrn2, Residents.Patient(Residents.IdCardIdentifier(card2) + "," + Id(MrnA, mrn2), name: "李娜", gender: "female", birthDate: birth2, org: HospA), DoctorA);
        Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        var newId = (await created.JsonAsync()).GetProperty("id").GetString()!;
        Assert.Equal([newId], await C.SearchIdsAsync($"/Patient?identifier={Q(MrnA, mrn2)}"));
    }

    [FhirFact]
    public async Task Only_the_domain_s_institution_writes_its_identifiers_and_other_writers_keep_them()
    {
        var (id, card, birth) = await RecordAsync();
        var mrn = Mrn();
        Assert.Equal(HttpStatusCode.OK, (await FeedAsync(MrnA, mrn, Residents.Patient(Residents.IdCardIdentifier(card) + "," + Id(MrnA, mrn), birthDate: birth, org: HospA, id: id), DoctorA)).StatusCode);

        // Hospital B may not put an identifier of A's domain on a new record, nor the holder change A's MRN.
        var (_, cardB) = Residents.New();
        await Forbidden(await Send(HttpMethod.Post, "/Patient", Residents.Patient(Residents.IdCardIdentifier(cardB) + "," + Id(MrnA, Mrn()), org: HospB), DoctorB), HospA);
        var changed = Residents.Patient(Residents.IdCardIdentifier(card) + "," + Id(MrnA, "FORGED-1"), birthDate: birth, id: id);
        await Forbidden(await Send(HttpMethod.Put, $"/Patient/{id}", changed, Doctor), HospA);

        // The holder's update that leaves A's MRN out keeps it (with its assigner).
        var r = await Send(HttpMethod.Put, $"/Patient/{id}", Residents.Patient(Residents.IdCardIdentifier(card), name: "张伟", birthDate: birth, id: id), Doctor);
        Assert.True(r.StatusCode == HttpStatusCode.OK, await r.Content.ReadAsStringAsync());
        var record = await ReadAsync($"/Patient/{id}");
        Assert.Contains($"{MrnA}|{mrn}", Identifiers(record));

        // A hospital that is not the record's maintainer still cannot change anything else of it by a plain update.
        var other = Residents.Patient(Residents.IdCardIdentifier(card) + "," + Id(MrnA, mrn), name: "改名", birthDate: birth, id: id);
        var plain = await Send(HttpMethod.Put, $"/Patient/{id}", other, DoctorA);
        Assert.Equal(HttpStatusCode.OK, plain.StatusCode); // reduced to its own identifiers, which did not change
        Assert.Equal("张伟", (await ReadAsync($"/Patient/{id}")).GetProperty("name")[0].GetProperty("text").GetString());
        var withoutOwn = Residents.Patient(Residents.IdCardIdentifier(card), name: "改名", birthDate: birth, id: id);
        await Forbidden(await Send(HttpMethod.Put, $"/Patient/{id}", withoutOwn, DoctorA)); // no identifier of its own: the maintainer rule
        // Nor an update of the record exactly as it is, without an identifier of its own: that is the maintainer's.
        var asIs = System.Text.Json.Nodes.JsonNode.Parse((await ReadAsync($"/Patient/{id}")).GetRawText())!.AsObject();
        var ids = asIs["identifier"]!.AsArray();
        foreach (var i in ids.Where(i => i!["system"]!.GetValue<string>() == MrnA).ToList()) ids.Remove(i);
        await Forbidden(await Send(HttpMethod.Put, $"/Patient/{id}", asIs.ToJsonString(), DoctorA));
        // Nor an identifier of an unregistered system or a national one, even claiming to be assigned by A.
        foreach (var smuggled in new[] { """{"system":"http://hosp-a.example.cn/other","value":"X1","assigner":{"reference":"Organization/pix-hosp-a"}}""",
                     """{"system":"urn:oid:2.16.156.10011.1.19","value":"HC-FORGED","assigner":{"reference":"Organization/pix-hosp-a"}}""" })
        {
            var json = Residents.Patient(Residents.IdCardIdentifier(card) + "," + smuggled, birthDate: birth, id: id);
            await Forbidden(await Send(HttpMethod.Put, $"/Patient/{id}", json, DoctorA), "may add only");
        }
        Assert.DoesNotContain("FORGED", (await ReadAsync($"/Patient/{id}")).GetRawText());
    }

    [FhirFact]
    public async Task A_merge_in_the_source_domain_keeps_the_subsumed_MRN_as_old_and_never_merges_two_records()
    {
        var (id, card, birth) = await RecordAsync();
        var (survivor, subsumed) = (Mrn(), Mrn());
        Assert.Equal(HttpStatusCode.OK, (await FeedAsync(MrnA, subsumed, Residents.Patient(Residents.IdCardIdentifier(card) + "," + Id(MrnA, subsumed), birthDate: birth, org: HospA, id: id), DoctorA)).StatusCode);
        // IHE ITI-104 Resolve Duplicate: PUT on the subsumed identifier, link replaced-by the surviving identifier.
        var merge = $$"""
            {"resourceType":"Patient","identifier":[{{Id(MrnA, subsumed)}}],"active":false,"name":[{"family":"MOHR","given":["MAIDEN"]}],"gender":"male","birthDate":"{{birth}}",
             "link":[{"other":{"identifier":{{Id(MrnA, survivor)}}},"type":"replaced-by"}]}
            """;
        var r = await FeedAsync(MrnA, subsumed, merge, DoctorA);
        Assert.True(r.StatusCode == HttpStatusCode.OK, await r.Content.ReadAsStringAsync());
        var record = await ReadAsync($"/Patient/{id}");
        var mrns = record.GetProperty("identifier").EnumerateArray().Where(i => i.GetProperty("system").GetString() == MrnA)
            .ToDictionary(i => i.GetProperty("value").GetString()!, i => i.TryGetProperty("use", out var u) ? u.GetString() : null);
        Assert.Equal("old", mrns[subsumed]);
        Assert.Null(mrns[survivor]);
        Assert.False(record.TryGetProperty("link", out _));
        Assert.True(record.GetProperty("active").GetBoolean()); // the feed's demographics are not the record's
        var (status, pix) = await PixAsync($"sourceIdentifier={Q(MrnA, subsumed)}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains($"{MrnA}|{survivor}", TargetIdentifiers(pix));

        // The surviving MRN on another person's record: two records are for Patient/$merge, not for a feed.
        var (other, otherCard, otherBirth) = await RecordAsync();
        var otherMrn = Mrn();
        Assert.Equal(HttpStatusCode.OK, (await FeedAsync(MrnA, otherMrn, Residents.Patient(Residents.IdCardIdentifier(otherCard) + "," + Id(MrnA, otherMrn), birthDate: otherBirth, org: HospA, id: other), DoctorA)).StatusCode);
        var conflict = merge.Replace(survivor, otherMrn);
        r = await FeedAsync(MrnA, subsumed, conflict, DoctorA);
        Assert.Equal(HttpStatusCode.Conflict, r.StatusCode);
        AssertOutcome(await r.JsonAsync(), "$merge");
    }

    [FhirFact]
    public async Task Ihe_pix_cross_references_an_MRN_with_the_ID_card_and_the_other_hospitals_MRNs()
    {
        var healthCard = "HC" + Unique()[..8];
        var (id, card, birth) = await RecordAsync(extraIdentifiers: "," + Id(HealthCardSystem, healthCard));
        await GrantAsync(id, HospB, "Practitioner/pix-doc-b");
        var (mrnA, mrnB) = (Mrn(), "IHEBLUE-" + Unique()[..6]);
        Assert.Equal(HttpStatusCode.OK, (await FeedAsync(MrnA, mrnA, Residents.Patient(Residents.IdCardIdentifier(card) + "," + Id(MrnA, mrnA), birthDate: birth, org: HospA, id: id), DoctorA)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await FeedAsync(MrnB, mrnB, Residents.Patient(Residents.IdCardIdentifier(card) + "," + Id(MrnB, mrnB), birthDate: birth, org: HospB, id: id), DoctorB)).StatusCode);
        var recordNumber = (await ReadAsync($"/Patient/{id}")).GetProperty("identifier").EnumerateArray()
            .Single(i => i.GetProperty("system").GetString() == "urn:oid:2.16.156.10011.1.2").GetProperty("value").GetString();

        // Case 1 (IHE pixm-request-mohralice-red-all): every other identifier, and the record. Hospital A holds no
        // record and reads under the resident's authorisation: the numbers that are not its own come masked (脱敏).
        var (status, all) = await PixAsync($"sourceIdentifier={Q(MrnA, mrnA)}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Parameters", all.GetProperty("resourceType").GetString());
        Assert.Equal(new[] { $"{IdCardSystem}|{Masks.IdCard(card)}", $"{HealthCardSystem}|{Masks.Identifier(healthCard)}", $"urn:oid:2.16.156.10011.1.2|{Masks.Identifier(recordNumber)}", $"{MrnB}|{Masks.Identifier(mrnB)}" }.Order(), TargetIdentifiers(all));
        Assert.Equal([$"Patient/{id}"], TargetIds(all));
        Assert.DoesNotContain(mrnA, all.GetRawText()); // never the source identifier itself

        // By the ID card number (its HL7 China alias too), to A's domain only (pixm-request-mohralice-red-to-blue).
        (status, var toA) = await PixAsync($"sourceIdentifier={Q("urn:oid:2.16.840.1.113883.2.23.1.19.1", card)}&targetSystem={Uri.EscapeDataString(MrnA)}", DoctorB);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal([$"{MrnA}|{Masks.Identifier(mrnA)}"], TargetIdentifiers(toA));
        Assert.Equal([$"Patient/{id}"], TargetIds(toA));
        // Two target domains; POST with a Parameters body alike; the server's own logical id as a domain.
        var posted = await Send(HttpMethod.Post, "/Patient/$ihe-pix", Params(("sourceIdentifier", "String", $"{MrnB}|{mrnB}"),
            ("targetSystem", "String", MrnA), ("targetSystem", "String", IdCardSystem)), DoctorB);
        Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
        Assert.Equal(new[] { $"{IdCardSystem}|{Masks.IdCard(card)}", $"{MrnA}|{Masks.Identifier(mrnA)}" }.Order(), TargetIdentifiers(await posted.JsonAsync()));
        (status, var logical) = await PixAsync($"sourceIdentifier={Q(_fx.BaseAddress.ToString().TrimEnd('/'), "Patient/" + id)}&targetSystem={Uri.EscapeDataString(MrnB)}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal([$"{MrnB}|{Masks.Identifier(mrnB)}"], TargetIdentifiers(logical));
        (status, var onlyRecord) = await PixAsync($"sourceIdentifier={Q(MrnA, mrnA)}&targetSystem={Uri.EscapeDataString(_fx.BaseAddress.ToString().TrimEnd('/'))}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Empty(TargetIdentifiers(onlyRecord));
        Assert.Equal([$"Patient/{id}"], TargetIds(onlyRecord));

        // Audited (BALP) as an operation disclosing the record, naming the caller.
        var events = (await (await Send(HttpMethod.Get, $"/AuditEvent?patient=Patient/{id}&_count=200", null, TestCallers.Auditor)).JsonAsync())
            .GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("resource").GetRawText()).ToList();
        Assert.Contains(events, e => e.Contains("ihe-pix") && e.Contains("Practitioner/pix-doc-b"));

        // XML on request (_format).
        var xml = await Send(HttpMethod.Get, $"/Patient/$ihe-pix?sourceIdentifier={Q(MrnA, mrnA)}&_format=xml", null, DoctorA);
        Assert.Equal(HttpStatusCode.OK, xml.StatusCode);
        Assert.Contains("<valueIdentifier>", await xml.Content.ReadAsStringAsync());
    }

    [FhirFact]
    public async Task One_health_card_finds_the_resident_at_every_institution_by_search_and_by_ihe_pix()
    {
        // 一卡通: the electronic health card's id is an identifier of the record; each hospital knows the resident by its own MRN.
        var healthCard = "HC" + Unique()[..10];
        var (id, card, birth) = await RecordAsync(extraIdentifiers: "," + Id(HealthCardSystem, healthCard));
        await GrantAsync(id, HospB, "Practitioner/pix-doc-b");
        var (mrnA, mrnB) = (Mrn(), "IHEBLUE-" + Unique()[..6]);
        Assert.Equal(HttpStatusCode.OK, (await FeedAsync(MrnA, mrnA, Residents.Patient(Residents.IdCardIdentifier(card) + "," + Id(MrnA, mrnA), birthDate: birth, org: HospA, id: id), DoctorA)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await FeedAsync(MrnB, mrnB, Residents.Patient(Residents.IdCardIdentifier(card) + "," + Id(MrnB, mrnB), birthDate: birth, org: HospB, id: id), DoctorB)).StatusCode);

        // Patient?identifier=<card system>|<card id>: the one record, for each authorised hospital; nothing for one without authorisation.
        async Task<List<string>> Found((string, string) who)
        {
            var r = await Send(HttpMethod.Get, $"/Patient?identifier={Q(HealthCardSystem, healthCard)}", null, who);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            var bundle = await r.JsonAsync();
            return bundle.TryGetProperty("entry", out var entries) ? [.. entries.EnumerateArray().Select(e => e.GetProperty("resource").GetProperty("id").GetString()!)] : [];
        }
        Assert.Equal([id], await Found(DoctorA));
        Assert.Equal([id], await Found(DoctorB));
        Assert.Empty(await Found(DoctorC));
        Assert.Empty(await C.SearchIdsAsync($"/Patient?identifier={Q(HealthCardSystem, healthCard + "0")}"));

        // PIXm from the card: every hospital's own id for the resident, or the one asked for.
        var (status, all) = await PixAsync($"sourceIdentifier={Q(HealthCardSystem, healthCard)}", DoctorB);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal([$"Patient/{id}"], TargetIds(all));
        // Hospital B, authorised but not the holder, sees its own MRN in full and hospital A's masked (masking by role).
        Assert.Contains($"{MrnA}|{Masks.Identifier(mrnA)}", TargetIdentifiers(all));
        Assert.Contains($"{MrnB}|{mrnB}", TargetIdentifiers(all));
        Assert.DoesNotContain(TargetIdentifiers(all), t => t.StartsWith(HealthCardSystem + "|", StringComparison.Ordinal));
        (status, var toA) = await PixAsync($"sourceIdentifier={Q(HealthCardSystem, healthCard)}&targetSystem={Uri.EscapeDataString(MrnA)}", DoctorB);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal([$"{MrnA}|{Masks.Identifier(mrnA)}"], TargetIdentifiers(toA));
        // And back: hospital A's MRN gives the card.
        (status, var toCard) = await PixAsync($"sourceIdentifier={Q(MrnA, mrnA)}&targetSystem={Uri.EscapeDataString(HealthCardSystem)}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal([$"{HealthCardSystem}|{Masks.Identifier(healthCard)}"], TargetIdentifiers(toCard)); // the card: the resident's number, masked to a hospital that does not hold the record
    }

    [FhirFact]
    public async Task Ihe_pix_answers_a_merged_record_s_MRN_with_the_surviving_record()
    {
        var (survivor, card, _) = await RecordAsync();
        await WorldAsync();
        var certificate = $$"""{"system":"http://fhirarchive.cn/fhir/sid/birth-certificate","value":"O6{{Random.Shared.Next(10_000_000, 99_999_999)}}"}""";
        var duplicate = await CreateRecordAsync(Residents.Patient(certificate, birthDate: "1980-01-01"));
        await GrantAsync(duplicate, HospA, "Practitioner/pix-doc-a");
        var mrn = Mrn();
        var fed = await FeedAsync(MrnA, mrn, Residents.Patient(certificate + "," + Id(MrnA, mrn), birthDate: "1980-01-01", org: HospA, id: duplicate), DoctorA);
        Assert.True(fed.StatusCode == HttpStatusCode.OK, await fed.Content.ReadAsStringAsync());
        var (status, before) = await PixAsync($"sourceIdentifier={Q(MrnA, mrn)}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal([$"Patient/{duplicate}"], TargetIds(before));

        var merge = $$$"""{"resourceType":"Parameters","parameter":[{"name":"source-patient","valueReference":{"reference":"Patient/{{{duplicate}}}"}},{"name":"target-patient","valueReference":{"reference":"Patient/{{{survivor}}}"}}]}""";
        var r = await Send(HttpMethod.Post, "/Patient/$merge", merge, Admin);
        Assert.True(r.StatusCode == HttpStatusCode.OK, await r.Content.ReadAsStringAsync());
        (status, var after) = await PixAsync($"sourceIdentifier={Q(MrnA, mrn)}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal([$"Patient/{survivor}"], TargetIds(after));
        Assert.Contains($"{IdCardSystem}|{Masks.IdCard(card)}", TargetIdentifiers(after));
    }

    [FhirFact]
    public async Task Ihe_pix_answers_the_IHE_error_cases_and_a_record_the_caller_may_not_see_as_unknown()
    {
        var (id, card, birth) = await RecordAsync();
        var mrn = Mrn();
        Assert.Equal(HttpStatusCode.OK, (await FeedAsync(MrnA, mrn, Residents.Patient(Residents.IdCardIdentifier(card) + "," + Id(MrnA, mrn), birthDate: birth, org: HospA, id: id), DoctorA)).StatusCode);

        async Task Fails(string query, HttpStatusCode expected, string code, string diagnostics, (string, string)? who = null)
        {
            var (status, body) = await PixAsync(query, who);
            Assert.True(status == expected, $"{query}: {status} {body}");
            AssertOutcome(body, diagnostics);
            Assert.Equal(code, body.GetProperty("issue")[0].GetProperty("code").GetString());
            Assert.Equal("error", body.GetProperty("issue")[0].GetProperty("severity").GetString());
        }
        // Source domain not recognised: 400; recognised but no record: 404; target domain not recognised: 403.
        await Fails($"sourceIdentifier={Q("urn:oid:1.2.3.4.5.6.7", mrn)}", HttpStatusCode.BadRequest, "code-invalid", "sourceIdentifier Assigning Authority not found");
        await Fails($"sourceIdentifier={Q(MrnA, "NO-SUCH-" + Unique())}", HttpStatusCode.NotFound, "not-found", "sourceIdentifier Patient Identifier not found");
        await Fails($"sourceIdentifier={Q(MrnA, mrn)}&targetSystem={Uri.EscapeDataString("urn:oid:1.3.6.1.4.1.21367.13.20.2000")}", HttpStatusCode.Forbidden, "code-invalid", "targetSystem not found");
        // Hospital C (no authorisation) and the resident of another record: exactly the unknown identifier's 404.
        await Fails($"sourceIdentifier={Q(MrnA, mrn)}", HttpStatusCode.NotFound, "not-found", "sourceIdentifier Patient Identifier not found", DoctorC);
        await Fails($"sourceIdentifier={Q(IdCardSystem, card)}", HttpStatusCode.NotFound, "not-found", "sourceIdentifier Patient Identifier not found", DoctorC);
        var (_, hidden) = await PixAsync($"sourceIdentifier={Q(IdCardSystem, card)}", DoctorC);
        Assert.DoesNotContain(id, hidden.GetRawText());
        // Bad input: 400 outcomes, never a 500.
        foreach (var query in new[] { "", "sourceIdentifier=", $"sourceIdentifier={Uri.EscapeDataString(MrnA)}", $"sourceIdentifier={Uri.EscapeDataString(MrnA + "|")}", "sourceIdentifier=%7Cabc" })
        {
            var (status, body) = await PixAsync(query);
            Assert.True(status == HttpStatusCode.BadRequest, $"{query}: {status} {body}");
            AssertOutcome(body);
        }
        var wrongBody = await Send(HttpMethod.Post, "/Patient/$ihe-pix", """{"resourceType":"Patient"}""", DoctorA);
        Assert.Equal(HttpStatusCode.BadRequest, wrongBody.StatusCode);
    }

    [FhirFact]
    public async Task Pdqm_searches_by_each_parameter_within_what_the_caller_may_see()
    {
        var extra = """
            ,"telecom":[{"system":"phone","value":"13800138000"}],
             "address":[{"text":"重庆市万州区高笋塘街道1号","line":["高笋塘街道1号"],"city":"万州区","state":"重庆市","postalCode":"404000","country":"CN"}],
             "extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName","valueString":"王秀英"}]
            """;
        var (id, card, birth) = await RecordAsync(gender: "female", extra: extra, name: "MOHR ALICE");
        // The name as family/given, as the IHE example has it (Alice Mohr).
        var patient = JsonDocument.Parse((await ReadAsync($"/Patient/{id}")).GetRawText()).RootElement;
        var node = System.Text.Json.Nodes.JsonNode.Parse(patient.GetRawText())!.AsObject();
        node["name"] = System.Text.Json.Nodes.JsonNode.Parse("""[{"text":"MOHR ALICE","family":"MOHR","given":["ALICE"]}]""");
        var put = await Send(HttpMethod.Put, $"/Patient/{id}", node.ToJsonString(), Doctor);
        Assert.True(put.StatusCode == HttpStatusCode.OK, await put.Content.ReadAsStringAsync());

        var within = $"identifier={Q(IdCardSystem, card)}";
        var cases = new (string Match, string Miss)[]
        {
            ($"_id={id}", "_id=no-such-id"),
            ("active=true", "active=false"),
            ("family=MOHR", "family=SMITH"),
            ("family:exact=MOHR", "family:exact=MOH"),
            ("given=ALICE", "given=ALISSA"),
            ($"identifier={Q(IdCardSystem, card)}", $"identifier={Q(IdCardSystem, "110101199001011237")}"),
            ($"identifier={Uri.EscapeDataString(IdCardSystem + "|")}", $"identifier={Uri.EscapeDataString(MrnB + "|")}"), // a domain (PDQm 3.78.4.1.2.3)
            ("telecom=13800138000", "telecom=13900000000"),
            ($"birthdate={birth}", "birthdate=1900-01-01"),
            ("address=高笋塘", "address=朝阳"),
            ("address-city=万州区", "address-city=朝阳区"),
            ("address-state=重庆市", "address-state=北京市"),
            ("address-postalcode=404000", "address-postalcode=100000"),
            ("address-country=CN", "address-country=US"),
            ("gender=female", "gender=male"),
            ("mothersMaidenName=王秀英", "mothersMaidenName=李"),
            ("mothersMaidenName:exact=王秀英", "mothersMaidenName:exact=王秀"),
            ("family=MOHR&gender=female", "family=MOHR&gender=male"),
            ($"birthdate={birth}&family=MOHR", "birthdate=1900-01-01&family=MOHR"),
        };
        foreach (var (match, miss) in cases)
        {
            Assert.True((await C.SearchIdsAsync($"/Patient?{within}&{match}")).SequenceEqual([id]), match);
            Assert.True((await C.SearchIdsAsync($"/Patient?{within}&{miss}")).Count == 0, miss);
            var strict = await C.SendAsync(HttpMethod.Get, $"/Patient?{within}&{match}", null, ("Prefer", "handling=strict"));
            Assert.True(strict.StatusCode == HttpStatusCode.OK, $"{match}: {await strict.Content.ReadAsStringAsync()}");
        }

        // The consent decision: the holder and authorised hospital A find the record, hospital C does not (GET and POST _search).
        async Task<List<string>> Found((string, string) who, bool post)
        {
            var r = post
                ? await C.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/Patient/_search")
                {
                    Content = new FormUrlEncodedContent([new("family", "MOHR"), new("identifier", $"{IdCardSystem}|{card}")]),
                    Headers = { { who.Item1, who.Item2 } },
                })
                : await Send(HttpMethod.Get, $"/Patient?family=MOHR&{within}", null, who);
            var body = await r.JsonAsync();
            Assert.True(r.StatusCode == HttpStatusCode.OK, body.GetRawText());
            return body.TryGetProperty("entry", out var es) ? [.. es.EnumerateArray().Select(e => e.GetProperty("resource").GetProperty("id").GetString()!)] : [];
        }
        foreach (var post in new[] { false, true })
        {
            Assert.Equal([id], await Found(Doctor, post));
            Assert.Equal([id], await Found(DoctorA, post));
            Assert.Empty(await Found(DoctorC, post));
        }
        var total = await (await Send(HttpMethod.Get, $"/Patient?family=MOHR&{within}&_total=accurate", null, DoctorC)).JsonAsync();
        Assert.Equal(0, total.GetProperty("total").GetInt32());
    }
}

public sealed class PatientIdentityTests(RecordFixture fx) : PatientIdentityTestsBase<RecordFixture>(fx), IClassFixture<RecordFixture>;
public sealed class PostgresPatientIdentityTests(PostgresRecordFixture fx) : PatientIdentityTestsBase<PostgresRecordFixture>(fx), IClassFixture<PostgresRecordFixture>;

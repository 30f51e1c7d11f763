using System.Net;
using System.Text.Json;
using FhirArchive.Rest.Access;
using FhirArchive.Archive.Consent;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Archive.Tests.Consent;

/// <summary>Revoking, breaking the glass, opening records, and the guard against forged Consents.</summary>
public abstract class ConsentOperationTestsBase<TFixture>(TFixture fx) : GrantTestsBase<TFixture>(fx) where TFixture : ServerFixture
{
    private readonly TFixture _fx = fx;

    /// <summary>A record-access Consent granted through the code, for a new resident: (patient, consent id).</summary>
    private async Task<(string Patient, string Consent)> GrantedAsync()
    {
        var (patient, _, phone) = await NewResidentAsync();
        var (doctor, _) = NewDoctor();
        var (request, code, _) = await RequestAsync(patient, phone, doctor);
        var r = await Post("/Patient/$grant-access", Params(("request", "String", request), ("code", "String", code)), doctor);
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        return (patient, (await r.JsonAsync()).GetProperty("id").GetString()!);
    }

    [FhirFact]
    public async Task A_resident_lists_and_revokes_their_authorisations_and_nobody_else_sees_them_to_revoke()
    {
        var (patient, consent) = await GrantedAsync();
        var listed = await C.SendAsync(HttpMethod.Get, $"/Consent?patient=Patient/{patient}", null, Resident(patient));
        Assert.Equal(HttpStatusCode.OK, listed.StatusCode);
        Assert.Contains(consent, (await listed.JsonAsync()).GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("resource").GetProperty("id").GetString()));

        var (other, _, _) = await NewResidentAsync();
        var stranger = await Post($"/Consent/{consent}/$revoke", Params(("reason", "String", "x")), Resident(other));
        Assert.Equal(HttpStatusCode.NotFound, stranger.StatusCode);
        var (doctor, _) = NewDoctor();
        Assert.Equal(HttpStatusCode.NotFound, (await Post($"/Consent/{consent}/$revoke", null, doctor)).StatusCode);

        var r = await Post($"/Consent/{consent}/$revoke", Params(("reason", "String", "不再在该医院就诊")), Resident(patient));
        Assert.True(r.StatusCode == HttpStatusCode.OK, await r.Content.ReadAsStringAsync());
        var revoked = await r.JsonAsync();
        Assert.Equal("inactive", revoked.GetProperty("status").GetString());
        Assert.Equal("2", revoked.GetProperty("meta").GetProperty("versionId").GetString());
        Assert.Equal("active", (await (await C.GetAsync($"/Consent/{consent}/_history/1")).JsonAsync()).GetProperty("status").GetString());
        var provenances = await (await C.GetAsync($"/Provenance?target=Consent/{consent}")).Content.ReadAsStringAsync();
        Assert.True(provenances.Contains("\"entry\""), provenances);
        var provenance = JsonDocument.Parse(provenances).RootElement.GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("resource"))
            .Single(p => p.GetProperty("activity").GetProperty("coding")[0].GetProperty("code").GetString() == "NULLIFY");
        Assert.Equal($"Consent/{consent}/_history/2", provenance.GetProperty("target")[0].GetProperty("reference").GetString());
        Assert.Equal("不再在该医院就诊", provenance.GetProperty("reason")[0].GetProperty("text").GetString());
        Assert.Equal($"Patient/{patient}", provenance.GetProperty("agent")[0].GetProperty("who").GetProperty("reference").GetString());
        Assert.Equal(HttpStatusCode.Conflict, (await Post($"/Consent/{consent}/$revoke", null, Resident(patient))).StatusCode);
    }

    [FhirFact]
    public async Task The_guardian_and_the_responsible_administrator_revoke_too_another_institutions_administrator_does_not()
    {
        var (patient, consent) = await GrantedAsync();
        var guardian = await NewRelatedPersonAsync(patient, Phone());
        Assert.Equal(HttpStatusCode.OK, (await Post($"/Consent/{consent}/$revoke", null, Guardian(patient, guardian))).StatusCode);

        var (_, second) = await GrantedAsync();
        var otherAdmin = TestCallers.As("other-admin", Roles.RecordAdministrator, org: Hospital, practitioner: "Practitioner/other-admin");
        Assert.Equal(HttpStatusCode.NotFound, (await Post($"/Consent/{second}/$revoke", null, otherAdmin)).StatusCode);
        var r = await Post($"/Consent/{second}/$revoke", Params(("reason", "String", "居民电话申请撤销")), HomeAdmin);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("inactive", (await r.JsonAsync()).GetProperty("status").GetString());
    }

    [FhirFact]
    public async Task Breaking_the_glass_opens_for_hours_notifies_the_resident_and_the_institution_and_is_audited_as_emergency()
    {
        var (patient, _, phone) = await NewResidentAsync();
        var (doctor, practitioner) = NewDoctor();
        Assert.Equal(HttpStatusCode.BadRequest, (await Post($"/Patient/{patient}/$break-glass", null, doctor)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await Post($"/Patient/{patient}/$break-glass", Params(("reason", "String", "x")), Resident(patient))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Post("/Patient/no-such-patient/$break-glass", Params(("reason", "String", "x")), doctor)).StatusCode);

        var r = await Post($"/Patient/{patient}/$break-glass", Params(("reason", "String", "昏迷送急诊，需查过敏史")), doctor);
        Assert.True(r.StatusCode == HttpStatusCode.Created, await r.Content.ReadAsStringAsync());
        var consent = await r.JsonAsync();
        var id = consent.GetProperty("id").GetString()!;
        Assert.Equal(ConsentTerms.BreakGlass, Category(consent));
        Assert.Equal([practitioner], References(consent, "performer"));
        Assert.Equal([Home], References(consent, "organization"));
        Assert.Equal([practitioner, Hospital], Actors(consent));
        Assert.Equal("ETREAT", consent.GetProperty("provision").GetProperty("purpose")[0].GetProperty("code").GetString());
        var period = consent.GetProperty("provision").GetProperty("period");
        Assert.Equal(TimeSpan.FromHours(4), DateTimeOffset.Parse(period.GetProperty("end").GetString()!) - DateTimeOffset.Parse(period.GetProperty("start").GetString()!));
        Assert.Contains("昏迷送急诊", consent.GetProperty("policyRule").GetProperty("text").GetString());

        Assert.Contains("紧急救治", LastMessage(phone).Text);
        var notice = (await (await C.GetAsync($"/Communication?subject=Patient/{patient}")).JsonAsync()).GetProperty("entry")[0].GetProperty("resource");
        Assert.Equal("completed", notice.GetProperty("status").GetString());
        Assert.Equal([Home], References(notice, "recipient"));
        Assert.Equal([$"Consent/{id}"], References(notice, "about"));

        var events = await C.SendAsync(HttpMethod.Get, $"/AuditEvent?patient=Patient/{patient}&_count=50", null, Auditor);
        var glass = (await events.JsonAsync()).GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("resource"))
            .Where(e => e.GetProperty("outcome").GetString() == "0" && e.GetProperty("subtype").EnumerateArray().Any(s => s.GetProperty("code").GetString()!.Contains("break-glass"))).ToList();
        Assert.Single(glass);
        Assert.Equal("ETREAT", glass[0].GetProperty("purposeOfEvent")[0].GetProperty("coding")[0].GetProperty("code").GetString());
    }

    [FhirFact]
    public async Task The_signed_family_doctor_opens_the_record_to_its_resident_another_doctor_may_not()
    {
        var (patient, _, _) = await NewResidentAsync();
        var other = TestCallers.As("dr-other", Roles.FamilyDoctor, org: Home, practitioner: "Practitioner/dr-other-gp");
        Assert.Equal(HttpStatusCode.Forbidden, (await Post($"/Patient/{patient}/$open-record", null, other)).StatusCode);
        var signed = TestCallers.As("dr-family", Roles.FamilyDoctor, org: Home, practitioner: FamilyDoctor);
        var r = await Post($"/Patient/{patient}/$open-record", null, signed);
        Assert.True(r.StatusCode == HttpStatusCode.Created, await r.Content.ReadAsStringAsync());
        var consent = await r.JsonAsync();
        Assert.Equal(ConsentTerms.ResidentOpening, Category(consent));
        Assert.Equal(ConsentTerms.FamilyDoctor, Method(consent));
        Assert.Equal([FamilyDoctor], References(consent, "performer"));
        Assert.Equal([$"Patient/{patient}"], Actors(consent));
        Assert.False(consent.GetProperty("provision").GetProperty("period").TryGetProperty("end", out _));

        // Opening an open record again answers the opening in force (200), not a second active one.
        var again = await Post($"/Patient/{patient}/$open-record", null, signed);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(consent.GetProperty("id").GetString(), (await again.JsonAsync()).GetProperty("id").GetString());
        Assert.Null(again.Headers.Location);
        var openings = await (await C.GetAsync($"/Consent?patient=Patient/{patient}&status=active")).JsonAsync();
        Assert.Single(openings.GetProperty("entry").EnumerateArray(), e => Category(e.GetProperty("resource")) == ConsentTerms.ResidentOpening);
    }

    [FhirFact]
    public async Task A_guardian_opens_a_minors_record_to_the_minor_and_themselves_but_not_an_adults_or_another_childs()
    {
        var (minor, _, _) = await NewResidentAsync(birthDate: Clock.Now.AddYears(-12).ToString("yyyy-MM-dd"));
        var guardian = await NewRelatedPersonAsync(minor, Phone());
        var r = await Post($"/Patient/{minor}/$open-record", Params(("to", "Code", "both")), Guardian(minor, guardian));
        Assert.True(r.StatusCode == HttpStatusCode.Created, await r.Content.ReadAsStringAsync());
        var consent = await r.JsonAsync();
        Assert.Equal(ConsentTerms.MinorOpening, Category(consent));
        Assert.Equal(ConsentTerms.GuardianApplication, Method(consent));
        Assert.Equal([$"RelatedPerson/{guardian}"], References(consent, "performer"));
        Assert.Equal([$"Patient/{minor}", $"RelatedPerson/{guardian}"], Actors(consent));

        var onlyMinor = await (await Post($"/Patient/{minor}/$open-record", Params(("to", "Code", "minor")), Guardian(minor, guardian))).JsonAsync();
        Assert.Equal([$"Patient/{minor}"], Actors(onlyMinor));
        // The same application again: the opening in force, for the same recipients only.
        var again = await Post($"/Patient/{minor}/$open-record", Params(("to", "Code", "both")), Guardian(minor, guardian));
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(consent.GetProperty("id").GetString(), (await again.JsonAsync()).GetProperty("id").GetString());

        var (adult, _, _) = await NewResidentAsync();
        var adultsGuardian = await NewRelatedPersonAsync(adult, Phone());
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await Post($"/Patient/{adult}/$open-record", null, Guardian(adult, adultsGuardian))).StatusCode);
        var (otherChild, _, _) = await NewResidentAsync(birthDate: Clock.Now.AddYears(-8).ToString("yyyy-MM-dd"));
        Assert.Equal(HttpStatusCode.NotFound, (await Post($"/Patient/{otherChild}/$open-record", null, Guardian(minor, guardian))).StatusCode);
        // A voluntary guardian does not apply for a minor: that is the statutory guardian's.
        var voluntary = await NewRelatedPersonAsync(minor, Phone(), ConsentTerms.Voluntary);
        Assert.Equal(HttpStatusCode.Forbidden, (await Post($"/Patient/{minor}/$open-record", null, Guardian(minor, voluntary))).StatusCode);
        // A guardian token naming the child but another child's RelatedPerson.
        Assert.Equal(HttpStatusCode.NotFound, (await Post($"/Patient/{otherChild}/$open-record", null, Guardian(otherChild, guardian))).StatusCode);
    }

    [FhirFact]
    public async Task The_responsible_institution_records_a_voluntary_guardians_access_on_judgements_or_a_joint_application()
    {
        var (patient, _, _) = await NewResidentAsync();
        var guardian = await NewRelatedPersonAsync(patient, Phone());
        var judgement = await C.CreateAsync($$"""
            {"resourceType":"DocumentReference","status":"current","type":{"text":"法院判决书（意定监护、无民事行为能力）"},
             "subject":{"reference":"Patient/{{patient}}"},"content":[{"attachment":{"contentType":"application/pdf","title":"判决书"} }]}
            """);
        var capacity = await C.CreateAsync($$"""
            {"resourceType":"DocumentReference","status":"current","type":{"text":"宣告无民事行为能力判决书"},
             "subject":{"reference":"Patient/{{patient}}"},"content":[{"attachment":{"contentType":"application/pdf","title":"判决书"} }]}
            """);
        var withoutEvidence = await Post($"/Patient/{patient}/$open-record", Params(("guardian", "Reference", $"RelatedPerson/{guardian}"), ("method", "Code", "court-judgement")), HomeAdmin);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, withoutEvidence.StatusCode);
        var otherAdmin = TestCallers.As("other-admin", Roles.RecordAdministrator, org: Hospital, practitioner: "Practitioner/other-admin");
        var body = Params(("guardian", "Reference", $"RelatedPerson/{guardian}"), ("method", "Code", "court-judgement"),
            ("evidence", "Reference", $"DocumentReference/{judgement}"), ("evidence", "Reference", $"DocumentReference/{capacity}"));
        // Another institution's administrator may not see the record: it looks missing (and the holder is not named).
        var elsewhere = await Post($"/Patient/{patient}/$open-record", body, otherAdmin);
        Assert.Equal(HttpStatusCode.NotFound, elsewhere.StatusCode);
        Assert.DoesNotContain(Home, await elsewhere.Content.ReadAsStringAsync());

        var r = await Post($"/Patient/{patient}/$open-record", body, HomeAdmin);
        Assert.True(r.StatusCode == HttpStatusCode.Created, await r.Content.ReadAsStringAsync());
        var consent = await r.JsonAsync();
        Assert.Equal(ConsentTerms.VoluntaryGuardianOpening, Category(consent));
        Assert.Equal(ConsentTerms.CourtJudgement, Method(consent));
        Assert.Equal($"DocumentReference/{judgement}", consent.GetProperty("sourceReference").GetProperty("reference").GetString());
        Assert.Equal([$"DocumentReference/{judgement}", $"DocumentReference/{capacity}"],
            consent.GetProperty("extension").EnumerateArray().Where(e => e.GetProperty("url").GetString() == ConsentTerms.EvidenceExtension)
                .Select(e => e.GetProperty("valueReference").GetProperty("reference").GetString()!).ToList());
        Assert.Equal([$"RelatedPerson/{guardian}"], Actors(consent));
        Assert.Equal([Home], References(consent, "organization"));

        var joint = await Post($"/Patient/{patient}/$open-record", Params(("guardian", "Reference", $"RelatedPerson/{guardian}"), ("method", "Code", "joint-application")), HomeAdmin);
        Assert.Equal(HttpStatusCode.Created, joint.StatusCode);
        var jointConsent = await joint.JsonAsync();
        Assert.Equal(ConsentTerms.JointApplication, Method(jointConsent));
        Assert.Equal([$"Patient/{patient}", $"RelatedPerson/{guardian}"], References(jointConsent, "performer"));
        Assert.Equal(HttpStatusCode.BadRequest, (await Post($"/Patient/{patient}/$open-record", Params(("guardian", "Reference", $"RelatedPerson/{guardian}"), ("method", "Code", "phone-call")), HomeAdmin)).StatusCode);
    }

    private static string ForgedConsent(string patient, string category = ConsentTerms.RecordAccess, string? id = null) => $$"""
        {"resourceType":"Consent",{{(id is null ? "" : $"\"id\":\"{id}\",")}}"status":"active",
         "scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
         "category":[{"coding":[{"system":"{{(category == "loinc" ? "http://loinc.org" : ConsentTerms.CategorySystem)}}","code":"{{(category == "loinc" ? "59284-0" : category)}}"}]}],
         "patient":{"reference":"Patient/{{patient}}"},"policyRule":{"text":"x"},
         "provision":{"type":"permit","actor":[{"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP"}]},"reference":{"reference":"{{Hospital}}"} }]} }
        """;

    [FhirFact]
    public async Task Nobody_forges_a_record_opening_consent_but_the_responsible_administrator()
    {
        var (patient, granted) = await GrantedAsync();
        var (doctor, _) = NewDoctor();
        foreach (var who in new[] { doctor, Resident(patient) })
        {
            var r = await Send(HttpMethod.Post, "/Consent", ForgedConsent(patient), who);
            Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
        }
        // The suite's own system client is no exception, for any of the categories, nor by update, patch or delete.
        foreach (var category in new[] { ConsentTerms.BreakGlass, ConsentTerms.ResidentOpening, ConsentTerms.MinorOpening, ConsentTerms.VoluntaryGuardianOpening })
            Assert.Equal(HttpStatusCode.Forbidden, (await C.PostAsync("/Consent", Body(ForgedConsent(patient, category)))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await C.PutAsync($"/Consent/{granted}", Body(ForgedConsent(patient, id: granted)))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await C.DeleteAsync($"/Consent/{granted}")).StatusCode);
        var patch = new HttpRequestMessage(HttpMethod.Patch, $"/Consent/{granted}")
        {
            Content = new StringContent("""[{"op":"replace","path":"/provision/period/end","value":"2099-01-01T00:00:00Z"}]""", System.Text.Encoding.UTF8, "application/json-patch+json"),
        };
        Assert.Equal(HttpStatusCode.Forbidden, (await C.SendAsync(patch)).StatusCode);
        // Turning a plain Consent into one is forging too.
        var plain = await C.CreateAsync(ForgedConsent(patient, "loinc"));
        Assert.Equal(HttpStatusCode.Forbidden, (await C.PutAsync($"/Consent/{plain}", Body(ForgedConsent(patient, id: plain)))).StatusCode);
        Assert.Equal("1", (await (await C.GetAsync($"/Consent/{granted}")).JsonAsync()).GetProperty("meta").GetProperty("versionId").GetString());

        var otherAdmin = TestCallers.As("other-admin", Roles.RecordAdministrator, org: Hospital, practitioner: "Practitioner/other-admin");
        Assert.Equal(HttpStatusCode.Forbidden, (await Send(HttpMethod.Post, "/Consent", ForgedConsent(patient), otherAdmin)).StatusCode);
        var admin = await Send(HttpMethod.Post, "/Consent", ForgedConsent(patient), HomeAdmin);
        Assert.True(admin.StatusCode == HttpStatusCode.Created, await admin.Content.ReadAsStringAsync());
    }

    [FhirFact]
    public async Task The_capability_statement_lists_the_authorisation_operations()
    {
        var cs = await (await _fx.BareClient().GetAsync("/metadata")).JsonAsync();
        var resources = cs.GetProperty("rest")[0].GetProperty("resource").EnumerateArray().ToList();
        List<string> Ops(string type) => resources.Single(r => r.GetProperty("type").GetString() == type)
            .GetProperty("operation").EnumerateArray().Select(o => o.GetProperty("name").GetString()!).ToList();
        Assert.Subset(Ops("Patient").ToHashSet(), new HashSet<string> { "request-access", "grant-access", "break-glass", "open-record" });
        Assert.Contains("revoke", Ops("Consent"));
    }
}

public sealed class ConsentOperationTests(GrantFixture fx) : ConsentOperationTestsBase<GrantFixture>(fx), IClassFixture<GrantFixture>;
public sealed class PostgresConsentOperationTests(PostgresGrantFixture fx) : ConsentOperationTestsBase<PostgresGrantFixture>(fx), IClassFixture<PostgresGrantFixture>;

using System.Net;
using System.Text.Json;
using FhirArchive.Rest.Access;
using FhirArchive.Archive.Consent;
using FhirArchive.Archive.Grants;
using FhirArchive.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Archive.Tests.Consent;

/// <summary>$request-access and $grant-access: the one-time code, its limits, the health card, and what the answers reveal.</summary>
public abstract class AccessRequestTestsBase<TFixture>(TFixture fx) : GrantTestsBase<TFixture>(fx) where TFixture : ServerFixture
{
    private readonly IServiceProvider _services = fx.Factory.Services;
    private readonly IDbContextFactory<FhirDbContext> _db = fx.Factory.Services.GetRequiredService<IDbContextFactory<FhirDbContext>>();

    [FhirFact]
    public async Task A_code_sent_to_the_resident_and_given_back_records_the_authorisation_once()
    {
        var (patient, _, phone) = await NewResidentAsync();
        var (doctor, practitioner) = NewDoctor();
        var (request, code, result) = await RequestAsync(patient, phone, doctor);
        Assert.Equal(phone[..3] + "****" + phone[^4..], Param(result, "phone"));
        Assert.Equal(Clock.Now.AddMinutes(5).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'"), Param(result, "expires"));
        var (text, _) = LastMessage(phone);
        Assert.Contains("万州区人民医院", text);

        // Only the code's salted SM3 hash is kept.
        await using (var db = await _db.CreateDbContextAsync())
        {
            var row = await db.AccessRequests.SingleAsync(r => r.Id == request);
            Assert.Equal(32, row.CodeHash.Length);
            Assert.Equal("pending", row.Status);
            Assert.DoesNotContain(code, System.Text.Encoding.UTF8.GetString(row.CodeHash));
        }

        var granted = await Post("/Patient/$grant-access", Params(("request", "String", request), ("code", "String", code)), doctor);
        Assert.True(granted.StatusCode == HttpStatusCode.Created, await granted.Content.ReadAsStringAsync());
        var consent = await granted.JsonAsync();
        Assert.Equal("active", consent.GetProperty("status").GetString());
        Assert.Equal(ConsentTerms.RecordAccess, Category(consent));
        Assert.Equal(ConsentTerms.CategorySystem, consent.GetProperty("category")[0].GetProperty("coding")[0].GetProperty("system").GetString());
        Assert.Equal("patient-privacy", consent.GetProperty("scope").GetProperty("coding")[0].GetProperty("code").GetString());
        Assert.Equal($"Patient/{patient}", consent.GetProperty("patient").GetProperty("reference").GetString());
        Assert.Equal([$"Patient/{patient}"], References(consent, "performer"));
        Assert.Equal([Home], References(consent, "organization"));
        Assert.Equal(ConsentTerms.SmsCode, Method(consent));
        Assert.True(consent.GetProperty("verification")[0].GetProperty("verified").GetBoolean());
        Assert.Equal($"Patient/{patient}", consent.GetProperty("verification")[0].GetProperty("verifiedWith").GetProperty("reference").GetString());
        Assert.Equal([Hospital, practitioner], Actors(consent));
        Assert.Equal("TREAT", consent.GetProperty("provision").GetProperty("purpose")[0].GetProperty("code").GetString());
        var period = consent.GetProperty("provision").GetProperty("period");
        Assert.Equal(TimeSpan.FromDays(3), DateTimeOffset.Parse(period.GetProperty("end").GetString()!) - DateTimeOffset.Parse(period.GetProperty("start").GetString()!));
        Assert.Equal("permit", consent.GetProperty("provision").GetProperty("type").GetString());
        // Stored as returned, under the cn-consent profile.
        var id = consent.GetProperty("id").GetString()!;
        Assert.Equal(ConsentTerms.RecordAccess, Category(await (await C.GetAsync($"/Consent/{id}")).JsonAsync()));

        var again = await Post("/Patient/$grant-access", Params(("request", "String", request), ("code", "String", code)), doctor);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
    }

    [FhirFact]
    public async Task Wrong_codes_cost_attempts_until_the_request_is_void_and_another_institution_cannot_use_it()
    {
        var (patient, _, phone) = await NewResidentAsync();
        var (doctor, _) = NewDoctor();
        var (request, code, _) = await RequestAsync(patient, phone, doctor);
        var wrong = code == "000000" ? "111111" : "000000";

        var (elsewhere, _) = NewDoctor(org: "Organization/gr-third-hospital");
        var foreign = await Post("/Patient/$grant-access", Params(("request", "String", request), ("code", "String", code)), elsewhere);
        Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);

        for (var left = 4; left >= 1; left--)
        {
            var r = await Post("/Patient/$grant-access", Params(("request", "String", request), ("code", "String", wrong)), doctor);
            Assert.Equal(HttpStatusCode.UnprocessableEntity, r.StatusCode);
            Assert.Contains($"{left} attempt(s) left", Diagnostics(await r.JsonAsync()));
        }
        var last = await Post("/Patient/$grant-access", Params(("request", "String", request), ("code", "String", wrong)), doctor);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, last.StatusCode);
        Assert.Contains("no attempts are left", Diagnostics(await last.JsonAsync()));
        // Void: even the right code no longer opens anything.
        var right = await Post("/Patient/$grant-access", Params(("request", "String", request), ("code", "String", code)), doctor);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, right.StatusCode);
        Assert.Contains("void", Diagnostics(await right.JsonAsync()));
        Assert.Empty(await C.SearchIdsAsync($"/Consent?patient=Patient/{patient}"));
    }

    [FhirFact]
    public async Task An_expired_code_is_refused_with_a_clear_outcome()
    {
        var (patient, _, phone) = await NewResidentAsync();
        var (doctor, _) = NewDoctor();
        var (request, code, _) = await RequestAsync(patient, phone, doctor);
        await LaterAsync(TimeSpan.FromMinutes(6), async () =>
        {
            var r = await Post("/Patient/$grant-access", Params(("request", "String", request), ("code", "String", code)), doctor);
            Assert.Equal(HttpStatusCode.UnprocessableEntity, r.StatusCode);
            var outcome = await r.JsonAsync();
            Assert.Equal("expired", outcome.GetProperty("issue")[0].GetProperty("code").GetString());
            Assert.Contains("expired", Diagnostics(outcome));
        });
        // Expired stays expired.
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await Post("/Patient/$grant-access", Params(("request", "String", request), ("code", "String", code)), doctor)).StatusCode);
        Assert.Empty(await C.SearchIdsAsync($"/Consent?patient=Patient/{patient}"));
    }

    [FhirFact]
    public async Task An_unknown_identifier_a_classified_person_and_a_record_without_a_phone_get_the_same_answer()
    {
        var (doctor, _) = NewDoctor();
        var (known, card, phone) = await NewResidentAsync();
        var ok = await Post("/Patient/$request-access", Params(("identifier", "String", $"urn:oid:2.16.156.10011.1.3|{card}")), doctor);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.NotNull(LastMessage(phone).Code);

        var (_, classifiedCard, classifiedPhone) = await NewResidentAsync(extra:
            $$""","meta":{"security":[{"system":"{{ConsentTerms.SensitivitySystem}}","code":"{{ConsentTerms.Classified}}"}]}""");
        var (_, silentCard, _) = await NewResidentAsync(phone: "");
        var answers = new List<string>();
        foreach (var identifier in new[] { "urn:oid:2.16.156.10011.1.3|110101190001010000", $"urn:oid:2.16.156.10011.1.3|{classifiedCard}", $"urn:oid:2.16.156.10011.1.3|{silentCard}" })
        {
            var r = await Post("/Patient/$request-access", Params(("identifier", "String", identifier)), doctor);
            Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
            answers.Add(Diagnostics(await r.JsonAsync()));
        }
        Assert.Single(answers.Distinct());
        Assert.Equal(RequestAccessEndpoint.NoRecord, answers[0]);
        Assert.Null(LastMessage(classifiedPhone).Text);
        // The responsible institution itself may still ask (it sees its classified residents).
        var (homeDoctor, _) = NewDoctor(org: Home);
        Assert.Equal(HttpStatusCode.OK, (await Post("/Patient/$request-access", Params(("identifier", "String", $"urn:oid:2.16.156.10011.1.3|{classifiedCard}")), homeDoctor)).StatusCode);
        _ = known;
    }

    [FhirFact]
    public async Task A_doctor_asks_many_residents_in_a_row_but_one_record_only_five_times_in_the_window()
    {
        // A clinic doctor's morning: six residents, one after another.
        var (doctor, _) = NewDoctor();
        for (var i = 0; i < 6; i++)
        {
            var (p, _, _) = await NewResidentAsync();
            Assert.Equal(HttpStatusCode.OK, (await Post($"/Patient/{p}/$request-access", null, doctor)).StatusCode);
        }

        var (patient, _, _) = await NewResidentAsync();
        for (var i = 0; i < 5; i++)
            Assert.Equal(HttpStatusCode.OK, (await Post($"/Patient/{patient}/$request-access", null, doctor)).StatusCode);
        var limited = await Post($"/Patient/{patient}/$request-access", null, doctor);
        Assert.Equal((HttpStatusCode)429, limited.StatusCode);
        Assert.Equal("throttled", (await limited.JsonAsync()).GetProperty("issue")[0].GetProperty("code").GetString());
        // Another doctor of the same hospital is not held back by it; the first one is again once the window passes.
        Assert.Equal(HttpStatusCode.OK, (await Post($"/Patient/{patient}/$request-access", null, NewDoctor().Who)).StatusCode);
        await LaterAsync(TimeSpan.FromMinutes(11), async () =>
            Assert.Equal(HttpStatusCode.OK, (await Post($"/Patient/{patient}/$request-access", null, doctor)).StatusCode));
    }

    [FhirFact]
    public async Task A_requester_has_a_ceiling_over_all_records()
    {
        var options = _services.GetRequiredService<GrantOptions>();
        var ceiling = options.RequesterRateLimit;
        options.RequesterRateLimit = 3;
        try
        {
            var (doctor, _) = NewDoctor();
            for (var i = 0; i < 3; i++)
            {
                var (p, _, _) = await NewResidentAsync();
                Assert.Equal(HttpStatusCode.OK, (await Post($"/Patient/{p}/$request-access", null, doctor)).StatusCode);
            }
            var (next, _, _) = await NewResidentAsync();
            var limited = await Post($"/Patient/{next}/$request-access", null, doctor);
            Assert.Equal((HttpStatusCode)429, limited.StatusCode);
            var outcome = await limited.JsonAsync();
            Assert.Equal("throttled", outcome.GetProperty("issue")[0].GetProperty("code").GetString());
            Assert.Contains("per requester", Diagnostics(outcome));
        }
        finally { options.RequesterRateLimit = ceiling; }
    }

    [FhirFact]
    public async Task A_minor_without_a_phone_is_asked_through_the_guardian_who_then_consents()
    {
        var (minor, _, _) = await NewResidentAsync(phone: "", birthDate: Clock.Now.AddYears(-10).ToString("yyyy-MM-dd"));
        var guardianPhone = Phone();
        var guardian = await NewRelatedPersonAsync(minor, guardianPhone);
        var (doctor, _) = NewDoctor();
        var (request, code, result) = await RequestAsync(minor, guardianPhone, doctor, Params(("purpose", "Code", "TREAT")));
        Assert.Equal(guardianPhone[..3] + "****" + guardianPhone[^4..], Param(result, "phone"));
        var granted = await Post("/Patient/$grant-access", Params(("request", "String", request), ("code", "String", code)), doctor);
        Assert.Equal(HttpStatusCode.Created, granted.StatusCode);
        var consent = await granted.JsonAsync();
        Assert.Equal([$"RelatedPerson/{guardian}"], References(consent, "performer"));
        Assert.Equal($"RelatedPerson/{guardian}", consent.GetProperty("verification")[0].GetProperty("verifiedWith").GetProperty("reference").GetString());

        // Someone else's RelatedPerson is no recipient for this record.
        var (other, _, _) = await NewResidentAsync();
        var stranger = await NewRelatedPersonAsync(other, Phone());
        var r = await Post($"/Patient/{minor}/$request-access", Params(("recipient", "Reference", $"RelatedPerson/{stranger}")), NewDoctor().Who);
        Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
    }

    [FhirFact]
    public async Task Bad_requests_get_clear_outcomes_and_only_institutions_ask()
    {
        var (patient, _, _) = await NewResidentAsync();
        var (doctor, _) = NewDoctor();
        Assert.Equal(HttpStatusCode.BadRequest, (await Post($"/Patient/{patient}/$request-access", Params(("days", "Integer", "31")), doctor)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Post($"/Patient/{patient}/$request-access", Params(("purpose", "Code", "HRESCH")), doctor)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Post($"/Patient/{patient}/$request-access", Params(("end", "String", "next week")), doctor)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Post("/Patient/$request-access", null, doctor)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await Post($"/Patient/{patient}/$request-access", null, Resident(patient))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Post("/Patient/$grant-access", Params(("code", "String", "123456")), doctor)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Post("/Patient/$grant-access", Params(("request", "String", "no-such-request"), ("code", "String", "123456")), doctor)).StatusCode);
    }

    [FhirFact]
    public async Task The_electronic_health_card_authorises_without_a_code()
    {
        var (patient, card, _) = await NewResidentAsync(phone: "");
        var (doctor, practitioner) = NewDoctor();
        var identifier = $"urn:oid:2.16.156.10011.1.3|{card}";
        var wrong = await Post("/Patient/$grant-access", Params(("method", "Code", "health-card"), ("identifier", "String", identifier), ("card", "String", "HC-WRONG")), doctor);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, wrong.StatusCode);
        var unknown = await Post("/Patient/$grant-access", Params(("method", "Code", "health-card"), ("identifier", "String", "urn:oid:2.16.156.10011.1.3|110101190001010000"), ("card", "String", "HC" + card)), doctor);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, unknown.StatusCode);
        Assert.Equal(Diagnostics(await wrong.JsonAsync()), Diagnostics(await unknown.JsonAsync()));

        var r = await Post("/Patient/$grant-access", Params(("method", "Code", "health-card"), ("identifier", "String", identifier), ("card", "String", "HC" + card), ("days", "Integer", "2")), doctor);
        Assert.True(r.StatusCode == HttpStatusCode.Created, await r.Content.ReadAsStringAsync());
        var consent = await r.JsonAsync();
        Assert.Equal(ConsentTerms.HealthCard, Method(consent));
        Assert.Equal([Hospital, practitioner], Actors(consent));
        Assert.Equal([$"Patient/{patient}"], References(consent, "performer"));
    }

    [FhirFact]
    public async Task Health_card_attempts_count_against_the_rate_limit()
    {
        var (patient, card, _) = await NewResidentAsync(phone: "");
        var (doctor, _) = NewDoctor();
        var identifier = $"urn:oid:2.16.156.10011.1.3|{card}";
        for (var i = 0; i < 5; i++)
            Assert.Equal(HttpStatusCode.UnprocessableEntity, (await Post("/Patient/$grant-access",
                Params(("method", "Code", "health-card"), ("identifier", "String", identifier), ("card", "String", $"HC-GUESS-{i}")), doctor)).StatusCode);
        var sixth = await Post("/Patient/$grant-access", Params(("method", "Code", "health-card"), ("identifier", "String", identifier), ("card", "String", "HC" + card)), doctor);
        Assert.Equal((HttpStatusCode)429, sixth.StatusCode);
        Assert.Empty(await C.SearchIdsAsync($"/Consent?patient=Patient/{patient}"));
    }
}

public sealed class AccessRequestTests(GrantFixture fx) : AccessRequestTestsBase<GrantFixture>(fx), IClassFixture<GrantFixture>;
public sealed class PostgresAccessRequestTests(PostgresGrantFixture fx) : AccessRequestTestsBase<PostgresGrantFixture>(fx), IClassFixture<PostgresGrantFixture>;

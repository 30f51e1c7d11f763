using System.Net;
using System.Text.Json;
using FhirArchive.Archive.Consent;
using FhirArchive.Archive.Grants;
using FhirArchive.Archive.Tests.Records;
using FhirArchive.Auth.State;
using FhirArchive.Crypto;
using FhirArchive.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Archive.Tests.Consent;

/// <summary>A server with the card platform's public key configured and the demo off: the platform verifier is active.</summary>
public sealed class HealthCardFixture() : ServerFixtureWith(Settings, GrantFixture.Services)
{
    /// <summary>The card platform's key pair (the server gets the public half).</summary>
    public static readonly Sm2Key Platform = Sm2Key.Generate();
    public static readonly Dictionary<string, string> Settings = new(GrantFixture.Settings) { ["Consent:HealthCard:PlatformKey"] = Platform.PublicKeyPem() };
}

public sealed class PostgresHealthCardFixture() : PostgresServerFixture(HealthCardFixture.Settings, GrantFixture.Services);

/// <summary>
/// The electronic health card's dynamic QR code: the platform verifier (each refusal a test), and $grant-access with
/// method=health-card on both of its paths (a record named by identifier, a pending request).
/// </summary>
public abstract class HealthCardTestsBase<TFixture>(TFixture fx) : GrantTestsBase<TFixture>(fx) where TFixture : ServerFixture
{
    private readonly IServiceProvider _services = fx.Factory.Services;
    private IHealthCardVerifier Verifier => _services.GetRequiredService<IHealthCardVerifier>();

    private string Code(string cardId, TimeSpan? issuedAgo = null, int seconds = 60, Sm2Key? key = null) =>
        HealthCardCode.Issue(key ?? HealthCardFixture.Platform, cardId, Clock.Now - (issuedAgo ?? TimeSpan.Zero), TimeSpan.FromSeconds(seconds));

    private static string CardOf(string idCard) => "HC" + idCard;

    // ---- the verifier ----

    [FhirFact]
    public void The_platform_verifier_is_active_when_its_key_is_configured_and_the_demo_is_off()
    {
        Assert.IsType<PlatformHealthCardVerifier>(Verifier);
        Assert.Contains(HealthCardFixture.Platform.KeyId(), Verifier.Description);
    }

    [FhirFact]
    public void The_verifier_accepts_a_fresh_code_and_names_its_card()
    {
        var result = Verifier.Verify(Code("HC-FRESH-" + Unique()));
        Assert.StartsWith("HC-FRESH-", result.CardId);
        Assert.Null(result.Refusal);
    }

    [FhirFact]
    public void The_verifier_spends_nothing_and_names_the_code_s_once_key_on_every_instance_alike()
    {
        var card = "HC-REPLAY-" + Unique();
        var code = Code(card);
        var first = Verifier.Verify(code);
        Assert.Equal(card, first.CardId);
        Assert.NotNull(first.OnceKey);
        // Verifying is pure: the same code verifies again, under the same once key (the grant's session spends it).
        Assert.Equal(first, Verifier.Verify(code));
        var second = new PlatformHealthCardVerifier(Sm2Key.FromPem(HealthCardFixture.Platform.PublicKeyPem()), new HealthCardOptions(), Clock);
        Assert.Equal(first.OnceKey, second.Verify(code).OnceKey);
        // Two codes for one card are two codes.
        Assert.NotEqual(first.OnceKey, second.Verify(Code(card)).OnceKey);
    }

    [FhirFact]
    public void The_verifier_refuses_an_expired_code()
    {
        // Issued 2 minutes ago for 60 seconds: past its end plus the 30 seconds of skew.
        var result = Verifier.Verify(Code("HC-OLD-" + Unique(), issuedAgo: TimeSpan.FromMinutes(2)));
        Assert.Null(result.CardId);
        Assert.Equal("expired", result.IssueType);
        // Within the skew it still counts.
        Assert.NotNull((Verifier.Verify(Code("HC-LATE-" + Unique(), issuedAgo: TimeSpan.FromSeconds(80)))).CardId);
    }

    [FhirFact]
    public void The_verifier_refuses_a_code_not_yet_valid()
    {
        var result = Verifier.Verify(Code("HC-EARLY-" + Unique(), issuedAgo: TimeSpan.FromMinutes(-2)));
        Assert.Null(result.CardId);
        Assert.Contains("not valid yet", result.Refusal);
    }

    [FhirFact]
    public void The_verifier_refuses_a_forged_signature()
    {
        var parts = Code("HC-FORGED-" + Unique()).Split('.');
        // Someone changes the card id of a genuine code and keeps its signature.
        parts[1] = Sm2Key.Base64Url("HC-SOMEONE-ELSE"u8);
        var result = Verifier.Verify(string.Join('.', parts));
        Assert.Null(result.CardId);
        Assert.Contains("signature does not verify", result.Refusal);
    }

    [FhirFact]
    public void The_verifier_refuses_a_code_signed_by_another_key()
    {
        var result = Verifier.Verify(Code("HC-OTHER-" + Unique(), key: Sm2Key.Generate()));
        Assert.Null(result.CardId);
        Assert.Equal("security", result.IssueType);
        Assert.Contains("signature does not verify", result.Refusal);
    }

    [FhirFact]
    public void The_verifier_refuses_garbage_and_the_bare_card_number()
    {
        foreach (var garbage in new[] { "HC110105198001010012", "", "EHC1.x.y.z.w.v", "{\"card\":\"HC1\"}", new string('.', 3000) })
        {
            var result = Verifier.Verify(garbage);
            Assert.Null(result.CardId);
            Assert.Equal("invalid", result.IssueType);
        }
    }

    [FhirFact]
    public void The_verifier_refuses_a_code_claiming_a_longer_validity_than_allowed()
    {
        var result = Verifier.Verify(Code("HC-LONG-" + Unique(), seconds: 3600));
        Assert.Null(result.CardId);
        Assert.Contains("too long", result.Refusal);
    }

    // ---- $grant-access, method=health-card ----

    private Task<HttpResponseMessage> GrantByIdentifier(string idCard, string card, (string, string) doctor) =>
        Post("/Patient/$grant-access", Params(("method", "Code", "health-card"), ("identifier", "String", $"urn:oid:2.16.156.10011.1.3|{idCard}"), ("card", "String", card)), doctor);

    private static async Task<(string Code, string Diagnostics)> Issue(HttpResponseMessage r)
    {
        var outcome = await r.JsonAsync();
        return (outcome.GetProperty("issue")[0].GetProperty("code").GetString()!, Diagnostics(outcome));
    }

    [FhirFact]
    public async Task A_fresh_QR_code_of_the_resident_s_card_authorises_and_its_replay_is_refused_and_audited()
    {
        var (patient, idCard, _) = await NewResidentAsync(phone: "");
        var (doctor, practitioner) = NewDoctor();
        var code = Code(CardOf(idCard));
        var r = await GrantByIdentifier(idCard, code, doctor);
        Assert.True(r.StatusCode == HttpStatusCode.Created, await r.Content.ReadAsStringAsync());
        var consent = await r.JsonAsync();
        Assert.Equal(ConsentTerms.HealthCard, Method(consent));
        Assert.Equal([$"Patient/{patient}"], References(consent, "performer"));
        Assert.Equal([Hospital, practitioner], Actors(consent));

        // The same code again (a photo of the screen, a second institution): refused, nothing more on file.
        var replay = await GrantByIdentifier(idCard, code, doctor);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, replay.StatusCode);
        Assert.Equal("duplicate", (await Issue(replay)).Code);
        var (elsewhere, _) = NewDoctor(org: "Organization/gr-third-hospital");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await GrantByIdentifier(idCard, code, elsewhere)).StatusCode);
        Assert.Single(await C.SearchIdsAsync($"/Consent?patient=Patient/{patient}"));

        // The refusal is in the audit trail, as a failed operation by that doctor.
        var events = (await (await Send(HttpMethod.Get, $"/AuditEvent?agent={practitioner.Split('/')[1]}&_count=20", null, Auditor)).JsonAsync())
            .GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("resource")).ToList();
        var grants = events.Where(e => e.GetRawText().Contains("\"$grant-access\"")).Select(e => (e.GetProperty("outcome").GetString(), e.GetProperty("outcomeDesc").GetString())).Order().ToList();
        Assert.Equal([("0", "HTTP 201"), ("4", "HTTP 422")], grants);
    }

    [FhirFact]
    public async Task An_expired_code_a_forged_one_another_key_s_and_the_bare_card_number_authorise_nothing()
    {
        var (patient, idCard, _) = await NewResidentAsync(phone: "");
        var card = CardOf(idCard);
        var forged = Code(CardOf(idCard + "X")).Split('.');
        forged[1] = Sm2Key.Base64Url(System.Text.Encoding.UTF8.GetBytes(card));
        foreach (var (presented, issue) in new[]
        {
            (Code(card, issuedAgo: TimeSpan.FromMinutes(3)), "expired"),
            (Code(card, issuedAgo: TimeSpan.FromMinutes(-3)), "security"),
            (string.Join('.', forged), "security"),
            (Code(card, key: Sm2Key.Generate()), "security"),
            (card, "invalid"), // what the demo verifier takes: not proof under the platform's
        })
        {
            var (doctor, _) = NewDoctor();
            var r = await GrantByIdentifier(idCard, presented, doctor);
            Assert.Equal(HttpStatusCode.UnprocessableEntity, r.StatusCode);
            Assert.Equal(issue, (await Issue(r)).Code);
        }
        Assert.Empty(await C.SearchIdsAsync($"/Consent?patient=Patient/{patient}"));
    }

    [FhirFact]
    public async Task A_code_sent_by_GET_or_in_a_batch_entry_is_not_taken_and_stays_fresh()
    {
        var (patient, idCard, _) = await NewResidentAsync(phone: "");
        var (doctor, _) = NewDoctor();
        var code = Code(CardOf(idCard));
        var query = $"method=health-card&identifier={Uri.EscapeDataString("urn:oid:2.16.156.10011.1.3|" + idCard)}&card={Uri.EscapeDataString(code)}";
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await Send(HttpMethod.Get, "/Patient/$grant-access?" + query, null, doctor)).StatusCode);
        var batch = $$"""
            {"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"POST","url":"Patient/$grant-access?{{query}}"},
             "resource":{{Params(("method", "Code", "health-card"), ("identifier", "String", $"urn:oid:2.16.156.10011.1.3|{idCard}"), ("card", "String", code))}}}]}
            """;
        var r = await Post("/", batch, doctor);
        // An operation is no batch entry: the whole Bundle is refused, or the entry answers 4xx.
        var answer = await r.JsonAsync();
        if (r.StatusCode != HttpStatusCode.BadRequest)
            Assert.StartsWith("4", answer.GetProperty("entry")[0].GetProperty("response").GetProperty("status").GetString());
        Assert.Empty(await C.SearchIdsAsync($"/Consent?patient=Patient/{patient}"));
        // Neither spent it: the resident's code still authorises once.
        Assert.Equal(HttpStatusCode.Created, (await GrantByIdentifier(idCard, code, doctor)).StatusCode);
    }

    [FhirFact]
    public async Task A_genuine_code_for_another_card_gets_the_answer_of_an_unknown_record()
    {
        var (patient, idCard, _) = await NewResidentAsync(phone: "");
        var (_, otherIdCard, _) = await NewResidentAsync(phone: "");
        var (doctor, _) = NewDoctor();
        var another = await GrantByIdentifier(idCard, Code(CardOf(otherIdCard)), doctor);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, another.StatusCode);
        var unknown = await GrantByIdentifier(Residents.IdCard("female", "1990-02-03"), Code(CardOf(idCard)), doctor);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, unknown.StatusCode);
        var (anotherIssue, anotherText) = await Issue(another);
        var (unknownIssue, unknownText) = await Issue(unknown);
        Assert.Equal(GrantAccessEndpoint.CardNotVerified, anotherText);
        Assert.Equal((anotherIssue, anotherText), (unknownIssue, unknownText));
        Assert.Empty(await C.SearchIdsAsync($"/Consent?patient=Patient/{patient}"));
    }

    [FhirFact]
    public async Task The_rate_limit_counts_what_the_caller_sent_so_known_and_unknown_identifiers_are_answered_alike_and_none_is_kept_in_clear()
    {
        var limit = _services.GetRequiredService<GrantOptions>().RateLimit;
        var (patient, idCard, _) = await NewResidentAsync(phone: "");
        var unknownIdCard = Residents.IdCard("female", "1991-03-04");
        var (doctor, _) = NewDoctor();
        Task<HttpResponseMessage> Grant(string name, string value) =>
            Post("/Patient/$grant-access", Params(("method", "Code", "health-card"), (name, "String", value), ("card", "String", Code("HC-WRONG-" + Unique()))), doctor);
        // Wrong cards for the known record named by its id count under that id, not under the record it is.
        for (var i = 0; i < limit; i++) Assert.Equal(HttpStatusCode.UnprocessableEntity, (await Grant("patient", $"Patient/{patient}")).StatusCode);
        // By identifier, known and unknown get the same answers attempt by attempt, and the same 429 after as many;
        // the identifier with or without its system is one key.
        for (var i = 0; i <= limit; i++)
        {
            var system = i % 2 == 0 ? "urn:oid:2.16.156.10011.1.3|" : "";
            var known = await Grant("identifier", system + idCard);
            var unknown = await Grant("identifier", system + unknownIdCard);
            Assert.Equal(i < limit ? HttpStatusCode.UnprocessableEntity : HttpStatusCode.TooManyRequests, known.StatusCode);
            Assert.Equal(known.StatusCode, unknown.StatusCode);
            Assert.Equal(await Issue(known), await Issue(unknown));
        }
        // The requests table keeps what was named as a keyed hash: neither number in clear.
        await using var db = await _services.GetRequiredService<IDbContextFactory<FhirDbContext>>().CreateDbContextAsync();
        var rows = await db.AccessRequests.Where(r => r.Patient == $"Patient/{patient}" || r.Subject.StartsWith("identifier:")).Select(r => new { r.Subject, r.Patient }).ToListAsync();
        Assert.Contains(rows, r => r.Subject == $"Patient/{patient}");
        Assert.Contains(rows, r => r.Subject.StartsWith("identifier:", StringComparison.Ordinal) && r.Patient == $"Patient/{patient}");
        Assert.DoesNotContain(rows, r => r.Subject.Contains(idCard[..14], StringComparison.Ordinal) || r.Subject.Contains(unknownIdCard[..14], StringComparison.Ordinal));
    }

    [FhirFact]
    public async Task A_pending_request_is_confirmed_by_a_fresh_code_and_a_replay_or_another_card_costs_an_attempt()
    {
        var (patient, idCard, phone) = await NewResidentAsync();
        var (_, otherIdCard, _) = await NewResidentAsync(phone: "");
        var (doctor, _) = NewDoctor();
        var (request, _, _) = await RequestAsync(patient, phone, doctor);
        Task<HttpResponseMessage> Grant(string card) =>
            Post("/Patient/$grant-access", Params(("method", "Code", "health-card"), ("request", "String", request), ("card", "String", card)), doctor);

        var other = await Grant(Code(CardOf(otherIdCard)));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, other.StatusCode);
        Assert.Contains("4 attempt(s) left", (await Issue(other)).Diagnostics);
        var spent = Code(CardOf(idCard));
        var (elsewhere, _) = NewDoctor(org: "Organization/gr-third-hospital");
        Assert.Equal(HttpStatusCode.Created, (await GrantByIdentifier(idCard, spent, elsewhere)).StatusCode); // shown once already (elsewhere)
        var replay = await Grant(spent);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, replay.StatusCode);
        Assert.Contains("used already", (await Issue(replay)).Diagnostics);
        Assert.Contains("3 attempt(s) left", (await Issue(replay)).Diagnostics);

        var ok = await Grant(Code(CardOf(idCard)));
        Assert.True(ok.StatusCode == HttpStatusCode.Created, await ok.Content.ReadAsStringAsync());
        Assert.Equal(ConsentTerms.HealthCard, Method(await ok.JsonAsync()));
        Assert.Equal(2, (await C.SearchIdsAsync($"/Consent?patient=Patient/{patient}")).Count);
    }

    [FhirFact]
    public async Task A_code_presented_with_an_unknown_request_is_refused_and_stays_fresh()
    {
        var (patient, idCard, _) = await NewResidentAsync(phone: "");
        var (doctor, _) = NewDoctor();
        var code = Code(CardOf(idCard));
        var r = await Post("/Patient/$grant-access", Params(("method", "Code", "health-card"), ("request", "String", "garbage"), ("card", "String", code)), doctor);
        Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
        Assert.Empty(await C.SearchIdsAsync($"/Consent?patient=Patient/{patient}"));
        // Not spent: the resident's code still authorises once.
        Assert.Equal(HttpStatusCode.Created, (await GrantByIdentifier(idCard, code, doctor)).StatusCode);
    }

    [FhirFact]
    public async Task A_code_presented_with_a_malformed_identifier_is_a_400_and_stays_fresh()
    {
        var (patient, idCard, _) = await NewResidentAsync(phone: "");
        var (doctor, _) = NewDoctor();
        var code = Code(CardOf(idCard));
        var r = await Post("/Patient/$grant-access", Params(("method", "Code", "health-card"), ("identifier", "String", string.Join(",", Enumerable.Repeat(idCard, 101))), ("card", "String", code)), doctor);
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Empty(await C.SearchIdsAsync($"/Consent?patient=Patient/{patient}"));
        Assert.Equal(HttpStatusCode.Created, (await GrantByIdentifier(idCard, code, doctor)).StatusCode);
    }
}

public sealed class HealthCardTests(HealthCardFixture fx) : HealthCardTestsBase<HealthCardFixture>(fx), IClassFixture<HealthCardFixture>;
public sealed class PostgresHealthCardTests(PostgresHealthCardFixture fx) : HealthCardTestsBase<PostgresHealthCardFixture>(fx), IClassFixture<PostgresHealthCardFixture>;

/// <summary>Which verifier the Grants module registers: the platform's only with its key and without the demo; a bad key stops the start.</summary>
public sealed class HealthCardVerifierChoiceTests
{
    private static IServiceCollection Grants(bool demo, params (string Key, string Value)[] settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => KeyValuePair.Create(s.Key, (string?)s.Value))).Build();
        return new ServiceCollection().AddGrants(configuration, Path.GetTempPath(), demo);
    }

    private static Type? Registered(IServiceCollection services)
    {
        var d = services.Last(s => s.ServiceType == typeof(IHealthCardVerifier));
        return d.ImplementationType ?? (d.ImplementationFactory is null ? null : typeof(PlatformHealthCardVerifier));
    }

    [Fact]
    public void A_configured_platform_key_is_always_the_platform_s_verifier_even_with_the_demo_on()
    {
        var key = ("Consent:HealthCard:PlatformKey", Sm2Key.Generate().PublicKeyPem());
        Assert.Equal(typeof(PlatformHealthCardVerifier), Registered(Grants(demo: true, key)));
        Assert.Equal(typeof(PlatformHealthCardVerifier), Registered(Grants(demo: false, key)));
    }

    [Fact]
    public void Without_a_key_the_demo_verifier_only_with_the_demo_accounts_on_else_none()
    {
        Assert.Equal(typeof(PatientHealthCardVerifier), Registered(Grants(demo: true)));
        Assert.Equal(typeof(UnconfiguredHealthCardVerifier), Registered(Grants(demo: false)));
        var refused = new UnconfiguredHealthCardVerifier().Verify("HC110105198001010012");
        Assert.Null(refused.CardId);
        Assert.Equal((501, "not-supported"), (refused.Status, refused.IssueType));
    }

    [Fact]
    public void A_key_that_is_not_an_SM2_PEM_or_a_missing_key_file_stops_the_start()
    {
        Assert.Contains("not an SM2 PEM key", Assert.Throws<InvalidOperationException>(() => Grants(false, ("Consent:HealthCard:PlatformKey", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"))).Message);
        Assert.Contains("cannot be read", Assert.Throws<InvalidOperationException>(() => Grants(false, ("Consent:HealthCard:PlatformKeyFile", "no-such-dir-" + Guid.NewGuid() + "/platform.pub.pem"))).Message);
    }
}

/// <summary>A server without a platform key and with the demo accounts off (sample data still on): no card verifier.</summary>
public sealed class NoHealthCardFixture() : ServerFixtureWith(new Dictionary<string, string>(GrantFixture.Settings) { ["Security:DemoAccounts"] = "false" }, GrantFixture.Services);

public sealed class HealthCardUnconfiguredTests(NoHealthCardFixture fx) : GrantTestsBase<NoHealthCardFixture>(fx), IClassFixture<NoHealthCardFixture>
{
    private readonly IServiceProvider _services = fx.Factory.Services;

    [FhirFact]
    public async Task Method_health_card_answers_501_on_both_paths_and_the_banner_says_not_configured()
    {
        var (patient, idCard, phone) = await NewResidentAsync();
        var (doctor, _) = NewDoctor();
        var (request, _, _) = await RequestAsync(patient, phone, doctor);
        foreach (var named in new[] { ("identifier", "String", $"urn:oid:2.16.156.10011.1.3|{idCard}"), ("request", "String", request) })
        {
            var r = await Post("/Patient/$grant-access", Params(("method", "Code", "health-card"), named, ("card", "String", "HC" + idCard)), doctor);
            Assert.Equal(HttpStatusCode.NotImplemented, r.StatusCode);
            var outcome = await r.JsonAsync();
            Assert.Equal("OperationOutcome", outcome.GetProperty("resourceType").GetString());
            Assert.Equal("not-supported", outcome.GetProperty("issue")[0].GetProperty("code").GetString());
            Assert.Contains("未配置电子健康卡", Diagnostics(outcome));
        }
        Assert.Empty(await C.SearchIdsAsync($"/Consent?patient=Patient/{patient}"));
        Assert.IsType<UnconfiguredHealthCardVerifier>(_services.GetRequiredService<IHealthCardVerifier>());
        Assert.Contains("not configured", _services.GetRequiredService<IHealthCardVerifier>().Description);
    }

}

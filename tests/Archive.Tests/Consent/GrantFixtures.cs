using System.Net;
using System.Text;
using System.Text.Json;
using FhirArchive.Rest.Access;
using FhirArchive.Archive.Consent;
using FhirArchive.Archive.Tests.Records;
using FhirArchive.Archive.Notifications;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Archive.Tests.Consent;

/// <summary>Callers named by the test header, the demo file SMS sink (in the fixture's data folder) and a clock the tests move.</summary>
public sealed class GrantFixture() : ServerFixtureWith(DemoCards, Services)
{
    public static readonly Dictionary<string, string> Settings = new() { ["Consent:Sms:Sender"] = "file", ["Records:LostToFollowUpJob"] = "false" };
    /// <summary>No platform key and the demo accounts on: the demo card verifier (the card number is the card).</summary>
    public static readonly Dictionary<string, string> DemoCards = new(Settings) { ["Security:DemoAccounts"] = "true" };
    public static void Services(IServiceCollection s)
    {
        TestCallers.Register(s);
        s.AddSingleton<TimeProvider>(new ManualClock());
    }
}

public sealed class PostgresGrantFixture() : PostgresServerFixture(GrantFixture.DemoCards, GrantFixture.Services);

/// <summary>Shared set-up: a responsible institution with its residents, another hospital's doctors, the SMS outbox.</summary>
public abstract class GrantTestsBase<TFixture>(TFixture fx) where TFixture : ServerFixture
{
    protected readonly HttpClient C = fx.Client;
    protected readonly ManualClock Clock = (ManualClock)fx.Factory.Services.GetRequiredService<TimeProvider>();
    protected const string Home = "Organization/gr-home-chc";
    protected const string Hospital = "Organization/gr-other-hospital";
    protected const string FamilyDoctor = "Practitioner/gr-family-doctor";
    private readonly string _outbox = SmsOutbox.PathOf(fx.Factory.Services);

    /// <summary>A clinician of the other hospital with a practitioner of their own (so rate limits of one test do not meet another's).</summary>
    protected static ((string, string) Who, string Practitioner) NewDoctor(string role = Roles.Clinician, string org = Hospital)
    {
        var practitioner = "Practitioner/dr-" + Http.Unique();
        return (TestCallers.As(practitioner.Split('/')[1], role, org: org, practitioner: practitioner), practitioner);
    }

    protected static readonly (string, string) HomeAdmin = TestCallers.As("gr-admin", Roles.RecordAdministrator, org: Home, practitioner: "Practitioner/gr-admin");
    protected static readonly (string, string) Auditor = TestCallers.Auditor;

    protected static (string, string) Resident(string patientId) => TestCallers.As("res-" + patientId, Roles.Resident, patient: "Patient/" + patientId);

    protected static (string, string) Guardian(string patientId, string relatedPersonId) =>
        TestCallers.As("grd-" + relatedPersonId, Roles.Guardian, patient: "Patient/" + patientId, practitioner: "RelatedPerson/" + relatedPersonId);

    /// <summary>
    /// Runs <paramref name="act"/> with the clock moved on, then puts it back: the suite's own client token would
    /// expire otherwise (callers named by the test header get a token of the moved clock).
    /// </summary>
    protected async Task LaterAsync(TimeSpan by, Func<Task> act)
    {
        var before = Clock.Now;
        Clock.Now = before + by;
        try { await act(); }
        finally { Clock.Now = before; }
    }

    protected async Task<HttpResponseMessage> Send(HttpMethod m, string url, string? body, (string, string)? who) =>
        await C.SendAsync(m, url, body, who is { } w ? [w] : []);

    protected Task<HttpResponseMessage> Post(string url, string? body, (string, string) who) => Send(HttpMethod.Post, url, body, who);

    protected static string Diagnostics(JsonElement outcome) => outcome.GetProperty("issue")[0].GetProperty("diagnostics").GetString()!;

    protected static string Phone() => "139" + Random.Shared.Next(10_000_000, 99_999_999).ToString();

    private static readonly SemaphoreSlim Setup = new(1, 1);

    protected async Task EnsureInstitutionsAsync()
    {
        await Setup.WaitAsync();
        try
        {
            if ((await C.GetAsync("/" + Home)).StatusCode == HttpStatusCode.OK) return;
            await C.PutAsync("""{"resourceType":"Organization","id":"gr-home-chc","name":"高笋塘社区卫生服务中心"}""");
            await C.PutAsync("""{"resourceType":"Organization","id":"gr-other-hospital","name":"万州区人民医院"}""");
            await C.PutAsync("""{"resourceType":"Practitioner","id":"gr-family-doctor","name":[{"text":"陈医生"}]}""");
        }
        finally { Setup.Release(); }
    }

    /// <summary>A resident of the home institution: (id, ID card number, phone). <paramref name="phone"/> "" for none.</summary>
    protected async Task<(string Id, string IdCard, string Phone)> NewResidentAsync(string? phone = null, string birthDate = "1980-01-01", string extra = "")
    {
        await EnsureInstitutionsAsync();
        phone ??= Phone();
        var card = Residents.IdCard("male", birthDate);
        var telecom = phone.Length == 0 ? "" : $$""","telecom":[{"system":"phone","value":"{{phone}}","use":"mobile"}]""";
        var json = $$"""
            {"resourceType":"Patient","identifier":[{"system":"urn:oid:2.16.156.10011.1.3","value":"{{card}}"},{"system":"urn:oid:2.16.156.10011.1.19","value":"HC{{card}}"}],
             "name":[{"text":"测试居民"}],"gender":"male","birthDate":"{{birthDate}}"{{telecom}},
             "generalPractitioner":[{"reference":"{{FamilyDoctor}}"}],"managingOrganization":{"reference":"{{Home}}"}{{extra}}}
            """;
        // Only the responsible institution's record administrator sets the classified flag (the labeller drops it otherwise).
        if (!extra.Contains(ConsentTerms.Classified)) return (await C.CreateAsync(json), card, phone);
        var r = await C.SendAsync(HttpMethod.Post, "/Patient", json, TestCallers.As("home-admin", Roles.RecordAdministrator, org: Home));
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        return ((await r.JsonAsync()).GetProperty("id").GetString()!, card, phone);
    }

    protected async Task<string> NewRelatedPersonAsync(string patientId, string? phone, string guardianship = ConsentTerms.Statutory) =>
        await C.CreateAsync($$"""
            {"resourceType":"RelatedPerson","active":true,"patient":{"reference":"Patient/{{patientId}}"},
             "extension":[{{Guardianship(guardianship)}}],
             "relationship":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-RoleCode","code":"FTH"}]}],
             "name":[{"text":"监护人"}]{{(phone is null ? "" : $$""","telecom":[{"system":"phone","value":"{{phone}}","use":"mobile"}]""")}}}
            """);

    private static string Guardianship(string kind) =>
        "{\"url\":\"" + ConsentTerms.GuardianshipExtension + "\",\"valueCodeableConcept\":{\"coding\":[{\"system\":\"" + ConsentTerms.GuardianshipSystem + "\",\"code\":\"" + kind + "\"}]}}";

    /// <summary>The last text message sent to the phone, and its one-time code (null when none).</summary>
    protected (string? Text, string? Code) LastMessage(string phone) => SmsOutbox.Last(_outbox, phone);

    /// <summary>$request-access for the patient (by id) as the doctor: the request id and the code the resident received.</summary>
    protected async Task<(string Request, string Code, JsonElement Result)> RequestAsync(string patientId, string phone, (string, string) doctor, string? body = null)
    {
        var r = await Post($"/Patient/{patientId}/$request-access", body ?? Params(("purpose", "Code", "TREAT"), ("days", "Integer", "3")), doctor);
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.OK, text);
        var result = JsonDocument.Parse(text).RootElement;
        var code = LastMessage(phone).Code;
        Assert.NotNull(code);
        return (Param(result, "request")!, code!, result);
    }

    protected static string Category(JsonElement consent) => consent.GetProperty("category")[0].GetProperty("coding")[0].GetProperty("code").GetString()!;

    protected static string Method(JsonElement consent) =>
        consent.GetProperty("verification")[0].GetProperty("extension")[0].GetProperty("valueCoding").GetProperty("code").GetString()!;

    protected static List<string> Actors(JsonElement consent) =>
        consent.GetProperty("provision").GetProperty("actor").EnumerateArray().Select(a =>
        {
            Assert.Equal("IRCP", a.GetProperty("role").GetProperty("coding")[0].GetProperty("code").GetString());
            return a.GetProperty("reference").GetProperty("reference").GetString()!;
        }).ToList();

    protected static List<string> References(JsonElement consent, string element) =>
        consent.GetProperty(element).EnumerateArray().Select(p => p.GetProperty("reference").GetString()!).ToList();
}

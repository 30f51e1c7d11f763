using System.Text.Json;
using FhirArchive.Rest.Access;
using FhirArchive.Archive.Consent;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using Xunit.Abstractions;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Archive.Tests.Consent;

/// <summary>
/// Random callers run random searches over a random world of records; every resource returned (matches and
/// includes, on every page) is checked against the decision evaluated directly on the stored resource, its
/// sensitive content against what the caller is cleared for, and every total against the matches actually shown.
/// </summary>
public abstract class ConsentPropertyTestsBase<TFixture>(TFixture fx, ITestOutputHelper output) where TFixture : ServerFixture
{
    private const int Seed = 20261201;
    private static readonly string[] Orgs = ["Organization/org-a", "Organization/org-b", "Organization/org-c"];
    private static readonly (string System, string Code)[] Codes =
    [
        (ConsentData.Icd10, "J18.9"), (ConsentData.Icd10, "I10"), (ConsentData.Icd10, "F20.0"), (ConsentData.Icd10, "F31.1"), (ConsentData.Icd10, "B20"),
    ];

    private sealed record TestCaller((string, string) Header, Caller Caller);

    [FhirFact]
    public async Task Random_searches_by_random_callers_show_nothing_the_decision_hides_and_totals_count_only_what_is_shown()
    {
        var rnd = new Random(Seed);
        var patients = await SeedWorldAsync(rnd);
        var callers = Callers(patients);
        var services = fx.Factory.Services;
        var decision = services.GetRequiredService<ConsentDecision>();
        var records = services.GetRequiredService<RecordDirectory>();
        var links = services.GetRequiredService<PatientLinks>();
        var store = services.GetRequiredService<IResourceStore>();
        int searches = 0, returned = 0, hiddenSomewhere = 0;

        for (var i = 0; i < 150; i++)
        {
            var caller = callers[rnd.Next(callers.Count)];
            var url = RandomSearch(rnd, patients);
            var (entries, total) = await AllPagesAsync(url, caller.Header);
            searches++;
            var matches = entries.Where(e => e.Mode == "match").ToList();
            Assert.True(total is null || total == matches.Count, $"{url} as {caller.Header.Item2}: total {total}, {matches.Count} matches shown");
            foreach (var e in entries)
            {
                returned++;
                var stored = await store.ReadAsync(e.Type, e.Id);
                Assert.NotNull(stored);
                var node = FhirFormats.ParseStored(stored!.Json!);
                var facts = ConsentAccessPolicy.Facts(node, links.PatientIds(node, null));
                var contexts = new List<RecordContext>();
                foreach (var pid in facts.PatientIds?.Distinct() ?? [])
                {
                    var (rf, grants) = await records.GetAsync(pid, default);
                    contexts.Add(new RecordContext(rf, grants, await records.GuardianAsync(caller.Caller.FhirUser, default)));
                }
                var d = decision.Decide(caller.Caller, facts, contexts, DateTimeOffset.UtcNow);
                Assert.True(d.Permit, $"LEAK: {e.Type}/{e.Id} shown to {caller.Header.Item2} by {url}: {d.Reason}");
                var shownLabels = SensitiveCodes.LabelsOf(FhirFormats.ParseStored(System.Text.Encoding.UTF8.GetBytes(e.Json)));
                Assert.True(shownLabels.IsSubsetOf(d.Cleared), $"LEAK: {e.Type}/{e.Id} shows {string.Join(",", shownLabels)} to {caller.Header.Item2}");
            }
            // Compare with what the platform's client sees of the same search: the hidden ones are the difference.
            var (all, _) = await AllPagesAsync(url, null);
            if (all.Count(a => a.Mode == "match") > matches.Count) hiddenSomewhere++;
        }
        output.WriteLine($"{searches} searches, {returned} resources returned and checked, {hiddenSomewhere} searches hid something");
        // The world must exercise the rules: many searches hid something, many returned something.
        Assert.True(hiddenSomewhere > 20, $"only {hiddenSomewhere} searches hid anything");
        Assert.True(returned > 200, $"only {returned} resources returned");
    }

    private sealed record Shown(string Type, string Id, string Mode, string Json);

    private async Task<(List<Shown> Entries, int? Total)> AllPagesAsync(string url, (string, string)? caller)
    {
        var entries = new List<Shown>();
        int? total = null;
        string? next = url;
        for (var page = 0; next is not null && page < 100; page++)
        {
            var r = caller is { } c ? await fx.Client.SendAsync(HttpMethod.Get, next, null, c) : await fx.Client.GetAsync(next);
            var text = await r.Content.ReadAsStringAsync();
            Assert.True(r.IsSuccessStatusCode, $"{next}: {r.StatusCode} {text}");
            var b = JsonDocument.Parse(text).RootElement;
            if (page == 0 && b.TryGetProperty("total", out var t)) total = t.GetInt32();
            if (b.TryGetProperty("entry", out var es))
                foreach (var e in es.EnumerateArray())
                {
                    var res = e.GetProperty("resource");
                    var mode = e.GetProperty("search").GetProperty("mode").GetString()!;
                    if (mode == "outcome") continue;
                    entries.Add(new Shown(res.GetProperty("resourceType").GetString()!, res.GetProperty("id").GetString()!, mode, res.GetRawText()));
                }
            next = b.GetProperty("link").EnumerateArray().Where(l => l.GetProperty("relation").GetString() == "next")
                .Select(l => new Uri(l.GetProperty("url").GetString()!).PathAndQuery).FirstOrDefault();
        }
        return (entries, total);
    }

    private static string RandomSearch(Random rnd, List<string> patients)
    {
        var type = new[] { "Patient", "Observation", "Condition", "Encounter" }[rnd.Next(4)];
        var ps = new List<string> { $"_count={rnd.Next(1, 8)}" };
        var patient = patients[rnd.Next(patients.Count)];
        var code = Codes[rnd.Next(Codes.Length)];
        switch (type, rnd.Next(4))
        {
            case ("Patient", 0): ps.Add($"_has:Condition:subject:code={code.System}|{code.Code}"); break;
            case ("Patient", 1): ps.Add("_revinclude=Condition:subject"); ps.Add("family=Prop"); break;
            case ("Patient", 2): ps.Add($"_id={patient}"); ps.Add("_revinclude=Encounter:subject"); break;
            case ("Patient", _): ps.Add("family=Prop"); break;
            case ("Condition", 0): ps.Add($"code={code.System}|{code.Code}"); break;
            case ("Condition", 1): ps.Add($"subject=Patient/{patient}"); ps.Add("_include=Condition:subject"); break;
            case ("Condition", 2): ps.Add("subject:Patient.family=Prop"); break;
            case ("Encounter", 0): ps.Add($"reason-reference:Condition.code={code.System}|{code.Code}"); break;
            case ("Encounter", 1): ps.Add("_include=Encounter:reason-reference"); ps.Add("_include=Encounter:subject"); break;
            case (_, 2): ps.Add($"subject=Patient/{patient}"); break;
            default: break;
        }
        if (rnd.Next(3) == 0) ps.Add("_total=accurate");
        return $"/{type}?{string.Join('&', ps)}";
    }

    private List<TestCaller> Callers(List<string> patients)
    {
        var list = new List<TestCaller>();
        TestCaller Make(string subject, string role, string? org = null, string? practitioner = null, string? patient = null, CallerKind kind = CallerKind.Person) =>
            new(TestCallers.As(subject, role, patient, org, kind == CallerKind.System ? "system" : "person", practitioner),
                new Caller(kind, subject, subject, new HashSet<string> { role }, [], org,
                    practitioner?.StartsWith("Practitioner/") == true ? practitioner : null, patient, null, null,
                    kind == CallerKind.System ? subject : "test-suite", practitioner));
        foreach (var org in Orgs)
        {
            var o = org.Split('/')[1];
            list.Add(Make($"doc-{o}", Roles.Clinician, org, $"Practitioner/doc-{o}"));
            list.Add(Make($"admin-{o}", Roles.RecordAdministrator, org));
            list.Add(Make($"his-{o}", Roles.SystemClient, org, kind: CallerKind.System));
        }
        list.Add(Make("doc-elsewhere", Roles.Clinician, "Organization/elsewhere", "Practitioner/doc-elsewhere"));
        list.Add(Make("researcher", Roles.Researcher));
        list.Add(Make("mh", Roles.MentalHealthStaff));
        foreach (var p in patients.Take(6)) list.Add(Make("res-" + p, Roles.Resident, patient: "Patient/" + p, practitioner: "Patient/" + p));
        return list;
    }

    /// <summary>30 records at three institutions: some classified or minors, mixed diagnoses, random authorisations and openings.</summary>
    private async Task<List<string>> SeedWorldAsync(Random rnd)
    {
        var patients = new List<string>();
        async Task Put(string json, (string, string) caller)
        {
            var root = JsonDocument.Parse(json).RootElement;
            var url = $"/{root.GetProperty("resourceType").GetString()}/{root.GetProperty("id").GetString()}";
            var r = await fx.Client.SendAsync(HttpMethod.Put, url, json, caller);
            Assert.True(r.IsSuccessStatusCode, $"seed {url}: {r.StatusCode} {await r.Content.ReadAsStringAsync()}");
        }
        var run = Unique()[..6];
        for (var i = 0; i < 30; i++)
        {
            var id = $"prop-{run}-{i}";
            patients.Add(id);
            var org = Orgs[rnd.Next(Orgs.Length)];
            var o = org.Split('/')[1];
            var admin = TestCallers.As($"admin-{o}", Roles.RecordAdministrator, org: org);
            var doc = TestCallers.As($"doc-{o}", Roles.Clinician, org: org, practitioner: $"Practitioner/doc-{o}");
            var classified = rnd.Next(8) == 0 ? $$$""" "meta":{"security":[{"system":"{{{ConsentTerms.SensitivitySystem}}}","code":"classified"}]}, """ : "";
            var birth = rnd.Next(5) == 0 ? "2015-03-01" : "1970-03-01";
            await Put($$$"""{"resourceType":"Patient","id":"{{{id}}}",{{{classified}}}"birthDate":"{{{birth}}}","name":[{"family":"Prop{{{i}}}"}],"managingOrganization":{"reference":"{{{org}}}"}}""", admin);
            for (var k = 0; k < 3; k++)
            {
                var code = Codes[rnd.Next(Codes.Length)];
                // Some data is written by another institution (off-site service): it stays visible to its writer.
                var writer = rnd.Next(4) == 0 ? Orgs[rnd.Next(Orgs.Length)] : org;
                var w = writer.Split('/')[1];
                var by = TestCallers.As($"doc-{w}", Roles.Clinician, org: writer, practitioner: $"Practitioner/doc-{w}");
                await Put($$$"""{"resourceType":"Condition","id":"{{{id}}}-c{{{k}}}","code":{"coding":[{"system":"{{{code.System}}}","code":"{{{code.Code}}}"}]},"subject":{"reference":"Patient/{{{id}}}"}}""", by);
                await Put($$$"""{"resourceType":"Observation","id":"{{{id}}}-o{{{k}}}","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"subject":{"reference":"Patient/{{{id}}}"}}""", by);
            }
            await Put($$$"""{"resourceType":"Encounter","id":"{{{id}}}-e","status":"finished","class":{"code":"AMB"},"subject":{"reference":"Patient/{{{id}}}"},"reasonReference":[{"reference":"Condition/{{{id}}}-c0"}]}""", doc);
            string Consent(string cid, string category, string actor) => $$$"""
                {"resourceType":"Consent","id":"{{{cid}}}","status":"active","scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
                 "category":[{"coding":[{"system":"{{{ConsentTerms.CategorySystem}}}","code":"{{{category}}}"}]}],"patient":{"reference":"Patient/{{{id}}}"},
                 "provision":{"type":"permit","actor":[{"role":{"coding":[{"system":"{{{ConsentTerms.ParticipationSystem}}}","code":"IRCP"}]},"reference":{"reference":"{{{actor}}}"}}]}}
                """;
            if (rnd.Next(2) == 0)
            {
                var grantee = Orgs[rnd.Next(Orgs.Length)];
                await Put(Consent($"{id}-grant", ConsentTerms.RecordAccess, rnd.Next(2) == 0 ? grantee : $"Practitioner/doc-{grantee.Split('/')[1]}"), admin);
            }
            if (rnd.Next(2) == 0) await Put(Consent($"{id}-open", ConsentTerms.ResidentOpening, $"Patient/{id}"), admin);
        }
        return patients;
    }
}

public sealed class ConsentPropertyTests(ServerFixtureWithCallers fx, ITestOutputHelper output)
    : ConsentPropertyTestsBase<ServerFixtureWithCallers>(fx, output), IClassFixture<ServerFixtureWithCallers>;

public sealed class PostgresConsentPropertyTests(PostgresServerFixtureWithCallers fx, ITestOutputHelper output)
    : ConsentPropertyTestsBase<PostgresServerFixtureWithCallers>(fx, output), IClassFixture<PostgresServerFixtureWithCallers>;


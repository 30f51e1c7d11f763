using System.Net;
using System.Text.Json;
using FhirArchive.Archive.Consent;
using FhirArchive.Rest.Access;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Archive.Tests.Export;

public static class ExportWorld
{
    public static readonly Dictionary<string, string> Settings = new()
    {
        ["BulkExport:PollInterval"] = "00:00:00.05",
        ["BulkExport:BatchSize"] = "3",
        ["BulkExport:MaxActivePerCaller"] = "100",
    };

    public const string Holder = "Organization/exp-holder";
    public const string Other = "Organization/exp-other";
    public const string Icd10 = "http://hl7.org/fhir/sid/icd-10";

    public static readonly (string, string) HolderAdmin = TestCallers.As("exp-admin", Roles.RecordAdministrator, org: Holder);
    public static readonly (string, string) HolderClinician = TestCallers.As("exp-doc", Roles.Clinician, org: Holder, practitioner: "Practitioner/exp-doc");
    public static readonly (string, string) PublicHealth = TestCallers.As("exp-cdc", Roles.PublicHealthOfficer, jurisdiction: "110105");
    public static readonly (string, string) PublicHealthElsewhere = TestCallers.As("exp-cdc-sh", Roles.PublicHealthOfficer, jurisdiction: "310101");
    public static readonly (string, string) HolderSystem = TestCallers.As("exp-holder-his", Roles.SystemClient, org: Holder, kind: "system");
    public static readonly (string, string) OtherSystem = TestCallers.As("exp-other-his", Roles.SystemClient, org: Other, kind: "system");

    /// <summary>The seeded record data, by reference: what each exporter's files are compared against, resource by resource.</summary>
    public static readonly string[] Seeded =
    [
        "Patient/exp-adult", "Observation/exp-obs-adult", "Condition/exp-cond-psy", "Condition/exp-cond-hiv", "Condition/exp-cond-htn",
        "Patient/exp-classified", "Observation/exp-obs-classified", "Patient/exp-minor", "Observation/exp-obs-minor",
        "Patient/exp-far", "Observation/exp-obs-far",
    ];

    private static string Division(string code) =>
        $$$"""{"url":"http://fhirarchive.cn/fhir/StructureDefinition/cn-division-code","valueCoding":{"system":"http://fhirarchive.cn/fhir/CodeSystem/gbt-2260-admin-division","code":"{{{code}}}"}}""";

    public static async Task SeedAsync(HttpClient c)
    {
        Task Put(string json, params (string, string)[] caller) => c.PutAsync(json, caller);
        foreach (var org in new[] { Holder, Other })
            await Put($$$"""{"resourceType":"Organization","id":"{{{org.Split('/')[1]}}}","name":"{{{org}}}"}""");
        string Patient(string id, string birth, string division, string? security = null) => $$$"""
            {"resourceType":"Patient","id":"{{{id}}}",{{{security}}}"birthDate":"{{{birth}}}","name":[{"family":"Export{{{id}}}"}],
             "identifier":[{"system":"urn:oid:2.16.156.10011.1.3","value":"11010519491231002X"}],"telecom":[{"system":"phone","value":"13912345678"}],
             "address":[{"line":["建外街道1号"],"district":"朝阳区","extension":[{{{Division(division)}}}]}],"managingOrganization":{"reference":"{{{Holder}}}"}}
            """;
        await Put(Patient("exp-adult", "1970-01-01", "110105001"), HolderAdmin);
        await Put(Patient("exp-classified", "1965-03-03", "110105001", $$$""" "meta":{"security":[{"system":"{{{ConsentTerms.SensitivitySystem}}}","code":"classified"}]},"""), HolderAdmin);
        await Put(Patient("exp-minor", "2016-05-01", "110105001"), HolderAdmin);
        await Put(Patient("exp-far", "1980-01-01", "310101001"), HolderAdmin);
        foreach (var p in new[] { "adult", "classified", "minor", "far" })
            await Put($$$"""{"resourceType":"Observation","id":"exp-obs-{{{p}}}","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"subject":{"reference":"Patient/exp-{{{p}}}"},"valueQuantity":{"value":128,"unit":"mmHg"}}""", HolderClinician);
        foreach (var (id, code) in new[] { ("psy", "F20.0"), ("hiv", "B20"), ("htn", "I10") })
            await Put($$$"""{"resourceType":"Condition","id":"exp-cond-{{{id}}}","code":{"coding":[{"system":"{{{Icd10}}}","code":"{{{code}}}"}]},"subject":{"reference":"Patient/exp-adult"}}""", HolderClinician);
    }
}

public interface IExportWorld
{
    Task SeedOnceAsync();
}

/// <summary>Seeds <see cref="ExportWorld"/> into a fixture's server once, whichever test asks first.</summary>
public sealed class SeedGate
{
    private readonly SemaphoreSlim _once = new(1);
    private bool _seeded;

    public async Task SeedOnceAsync(HttpClient c)
    {
        await _once.WaitAsync();
        try
        {
            if (!_seeded) await ExportWorld.SeedAsync(c);
            _seeded = true;
        }
        finally { _once.Release(); }
    }
}

public sealed class ExportFixture() : ServerFixtureWith(ExportWorld.Settings, TestCallers.Register), IExportWorld
{
    private readonly SeedGate _gate = new();
    public Task SeedOnceAsync() => _gate.SeedOnceAsync(Client);
}

public sealed class PostgresExportFixture() : PostgresServerFixture(ExportWorld.Settings, TestCallers.Register), IExportWorld
{
    private readonly SeedGate _gate = new();
    public Task SeedOnceAsync() => _gate.SeedOnceAsync(Client);
}

/// <summary>
/// Who may export (system clients, public-health officers within their division; everyone else 403), and — by
/// enumeration over exporters × seeded resources × levels — that a resource is in an export exactly when the exporter may
/// read it, as the read shows it (consent decisions and masking alike): a classified person, a severe-mental-disorder
/// or HIV Condition, a minor's and another division's record are absent wherever a read would not show them.
/// </summary>
public abstract class ExportAccessTestsBase<TFixture>(TFixture fx) where TFixture : ServerFixture, IExportWorld
{
    private readonly HttpClient _c = fx.Client;

    public static TheoryData<string> Refused => new()
    {
        Roles.Clinician, Roles.FamilyDoctor, Roles.RecordAdministrator, Roles.HealthAdministrationOfficer, Roles.MentalHealthStaff,
        Roles.Researcher, Roles.Auditor, Roles.Resident, Roles.Guardian,
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task Roles_other_than_system_clients_and_public_health_are_refused_403(string role)
    {
        await fx.SeedOnceAsync();
        var caller = TestCallers.As("exp-refused-" + role, role, org: ExportWorld.Holder, patient: "Patient/exp-adult", jurisdiction: "110105");
        await Forbidden(await _c.SendAsync(HttpMethod.Get, "/$export", null, BulkExportClient.RespondAsync, caller), "Bulk export refused");
        // At Patient level the token's reach may refuse first (an auditor reads no Patient): 403 either way.
        await Forbidden(await _c.SendAsync(HttpMethod.Get, "/Patient/$export", null, BulkExportClient.RespondAsync, caller));
    }

    [FhirFact]
    public async Task A_public_health_officer_without_a_division_is_refused_403()
    {
        await fx.SeedOnceAsync();
        await Forbidden(await _c.SendAsync(HttpMethod.Get, "/$export", null, BulkExportClient.RespondAsync, TestCallers.As("exp-cdc-none", Roles.PublicHealthOfficer)),
            "division");
    }

    [FhirFact]
    public async Task Every_exported_resource_is_exactly_what_the_exporter_may_read()
    {
        await fx.SeedOnceAsync();
        var exporters = new (string Name, (string, string)? Caller)[]
        {
            ("public health 110105", ExportWorld.PublicHealth), ("public health 310101", ExportWorld.PublicHealthElsewhere),
            ("holder's system", ExportWorld.HolderSystem), ("another institution's system", ExportWorld.OtherSystem), ("platform", null),
        };
        foreach (var (name, caller) in exporters)
        {
            (string, string)[] headers = caller is { } h ? [h] : [];
            foreach (var url in new[] { "/$export?_type=Patient,Observation,Condition", "/Patient/$export?_type=Patient,Observation,Condition" })
            {
                var files = await _c.ExportAsync(url, headers);
                var exported = files.SelectMany(kv => kv.Value.Select(l => ($"{kv.Key}/{l.GetProperty("id").GetString()}", l))).ToDictionary(x => x.Item1, x => x.l);
                foreach (var reference in ExportWorld.Seeded)
                {
                    var read = await _c.SendAsync(HttpMethod.Get, "/" + reference, null, headers);
                    var readable = read.StatusCode == HttpStatusCode.OK;
                    Assert.True(readable == exported.ContainsKey(reference),
                        $"{name}, {url}: {reference} read {(int)read.StatusCode} but {(exported.ContainsKey(reference) ? "exported" : "not exported")}");
                    if (readable)
                        Assert.True(JsonSerializer.Serialize(exported[reference]) == JsonSerializer.Serialize((await read.JsonAsync())),
                            $"{name}: {reference} exported otherwise than read");
                }
            }
        }
    }

    [FhirFact]
    public async Task Classified_severe_mental_disorder_HIV_minor_and_other_division_data_stay_out_of_a_public_health_export()
    {
        await fx.SeedOnceAsync();
        var files = await _c.ExportAsync("/$export?_type=Patient,Observation,Condition", ExportWorld.PublicHealth);
        // The ordinary data of the division's residents is there (the export is not empty by accident)...
        Assert.Contains("exp-adult", files.Ids("Patient"));
        Assert.Contains("exp-obs-adult", files.Ids("Observation"));
        Assert.Contains("exp-cond-htn", files.Ids("Condition"));
        // ...the closed data is not.
        Assert.DoesNotContain("exp-classified", files.Ids("Patient"));
        Assert.DoesNotContain("exp-obs-classified", files.Ids("Observation"));
        Assert.DoesNotContain("exp-cond-psy", files.Ids("Condition"));
        Assert.DoesNotContain("exp-cond-hiv", files.Ids("Condition"));
        Assert.DoesNotContain("exp-far", files.Ids("Patient"));
        // The identity number is masked for public health, as on a read.
        Assert.DoesNotContain("11010519491231002X", string.Join("\n", files["Patient"].Select(p => p.GetRawText())));

        // Another institution's system, with no authorisation from the residents: nothing of the holder's records, the minor's included.
        var other = await _c.ExportAsync("/Patient/$export?_type=Patient,Observation", ExportWorld.OtherSystem);
        Assert.DoesNotContain("exp-minor", other.Ids("Patient"));
        Assert.DoesNotContain("exp-obs-minor", other.Ids("Observation"));
        Assert.DoesNotContain(other.Ids("Patient"), id => id.StartsWith("exp-", StringComparison.Ordinal));
        var holder = await _c.ExportAsync("/Patient/$export?_type=Patient,Observation", ExportWorld.HolderSystem);
        Assert.Contains("exp-minor", holder.Ids("Patient"));
        Assert.Contains("exp-obs-minor", holder.Ids("Observation"));
    }

    [FhirFact]
    public async Task A_public_health_export_is_audited_as_a_disclosure_per_patient()
    {
        await fx.SeedOnceAsync();
        var status = await _c.KickOffAsync("/$export?_type=Observation", ExportWorld.PublicHealth);
        await _c.ManifestAsync(status, ExportWorld.PublicHealth);
        var job = status.Split('/')[^1];
        var adult = await (await _c.SendAsync(HttpMethod.Get, "/AuditEvent?patient=Patient/exp-adult", null, TestCallers.Auditor)).Content.ReadAsStringAsync();
        Assert.Contains($"bulk export {job}", adult);
        // A patient whose data the officer could not see was not disclosed: no export event names them.
        var far = await (await _c.SendAsync(HttpMethod.Get, "/AuditEvent?patient=Patient/exp-far", null, TestCallers.Auditor)).Content.ReadAsStringAsync();
        Assert.DoesNotContain($"bulk export {job}", far);
    }
}

public sealed class ExportAccessTests(ExportFixture fx) : ExportAccessTestsBase<ExportFixture>(fx), IClassFixture<ExportFixture>;

public sealed class PostgresExportAccessTests(PostgresExportFixture fx) : ExportAccessTestsBase<PostgresExportFixture>(fx), IClassFixture<PostgresExportFixture>;

using FhirArchive.Rest.Access;
using FhirArchive.Archive.Consent;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Archive.Tests.Consent;

/// <summary>A fixture that seeds <see cref="ConsentData"/> once, before its first test.</summary>
public interface IConsentWorld
{
    Task SeedOnceAsync();
}

public class ConsentFixture() : ServerFixtureWith(null, TestCallers.Register), IConsentWorld
{
    public bool Seeded { get; private set; }

    public async Task SeedOnceAsync()
    {
        if (Seeded) return;
        await ConsentData.SeedAsync(Client);
        Seeded = true;
    }
}

public sealed class PostgresConsentFixture() : PostgresServerFixture(null, TestCallers.Register), IConsentWorld
{
    public bool Seeded { get; private set; }

    public async Task SeedOnceAsync()
    {
        if (Seeded) return;
        await ConsentData.SeedAsync(Client);
        Seeded = true;
    }
}

/// <summary>
/// A small world for the consent rules: a community health centre holding three records (an adult with mental-health
/// and HIV information, a classified person, a minor), another hospital authorised by the adult, a stranger
/// institution, an emergency doctor who broke the glass, the adult's statutory guardian.
/// </summary>
public static class ConsentData
{
    public const string Holder = "Organization/holder-chc";
    public const string Hospital = "Organization/other-hospital";
    public const string Stranger = "Organization/stranger-clinic";
    public const string Emergency = "Organization/er-hospital";
    public const string Icd10 = "http://hl7.org/fhir/sid/icd-10";

    public static readonly (string, string) HolderAdmin = TestCallers.As("holder-admin", Roles.RecordAdministrator, org: Holder);
    public static readonly (string, string) HolderClinician = TestCallers.As("holder-doc", Roles.Clinician, org: Holder, practitioner: "Practitioner/holder-doc");
    public static readonly (string, string) AuthorisedDoctor = TestCallers.As("doc", Roles.Clinician, org: Hospital, practitioner: "Practitioner/doc");
    public static readonly (string, string) Colleague = TestCallers.As("colleague", Roles.Clinician, org: Hospital, practitioner: "Practitioner/colleague");
    public static readonly (string, string) StrangerDoctor = TestCallers.As("stranger", Roles.Clinician, org: Stranger, practitioner: "Practitioner/stranger");
    public static readonly (string, string) EmergencyDoctor = TestCallers.As("er", Roles.Clinician, org: Emergency, practitioner: "Practitioner/er");
    public static readonly (string, string) AdultResident = TestCallers.As("adult", Roles.Resident, patient: "Patient/adult", practitioner: "Patient/adult");
    public static readonly (string, string) MinorResident = TestCallers.As("minor", Roles.Resident, patient: "Patient/minor", practitioner: "Patient/minor");
    public static readonly (string, string) Guardian = TestCallers.As("guardian", Roles.Guardian, patient: "Patient/adult", practitioner: "RelatedPerson/guardian-adult");
    public static readonly (string, string) Researcher = TestCallers.As("researcher", Roles.Researcher);

    public static readonly string[] AdultData = ["obs-adult", "cond-adult-psy", "cond-adult-hiv", "enc-adult"];

    public static async Task SeedAsync(HttpClient c)
    {
        async Task Put(string json, (string, string)? caller = null)
        {
            var root = System.Text.Json.JsonDocument.Parse(json).RootElement;
            var url = $"/{root.GetProperty("resourceType").GetString()}/{root.GetProperty("id").GetString()}";
            var r = caller is null ? await c.PutAsync(url, Body(json)) : await c.SendAsync(HttpMethod.Put, url, json, caller.Value);
            if ((int)r.StatusCode is not (200 or 201)) throw new Exception($"seed {url}: {r.StatusCode} {await r.Content.ReadAsStringAsync()}");
        }
        foreach (var org in new[] { Holder, Hospital, Stranger, Emergency })
            await Put($$$"""{"resourceType":"Organization","id":"{{{org.Split('/')[1]}}}","name":"{{{org}}}"}""");
        await Put("""{"resourceType":"Practitioner","id":"fd","name":[{"text":"家庭医生"}]}""");
        await Put($$$"""
            {"resourceType":"Patient","id":"adult","birthDate":"1970-01-01","name":[{"family":"Consentadult","text":"成人"}],
             "extension":[{"url":"http://fhirarchive.cn/fhir/StructureDefinition/cn-key-population","valueCoding":{"system":"http://fhirarchive.cn/fhir/CodeSystem/key-population","code":"SMD"}},
                          {"url":"http://fhirarchive.cn/fhir/StructureDefinition/cn-key-population","valueCoding":{"system":"http://fhirarchive.cn/fhir/CodeSystem/key-population","code":"HTN"}}],
             "managingOrganization":{"reference":"{{{Holder}}}"},"generalPractitioner":[{"reference":"Practitioner/fd"}]}
            """, HolderAdmin);
        await Put($$$"""{"resourceType":"Patient","id":"classified","meta":{"security":[{"system":"{{{ConsentTerms.SensitivitySystem}}}","code":"classified"}]},"birthDate":"1965-03-03","name":[{"family":"Consentclassified"}],"managingOrganization":{"reference":"{{{Holder}}}"}}""", HolderAdmin);
        await Put($$$"""{"resourceType":"Patient","id":"minor","birthDate":"2016-05-01","name":[{"family":"Consentminor"}],"managingOrganization":{"reference":"{{{Holder}}}"}}""", HolderAdmin);
        await Put($$$"""{"resourceType":"RelatedPerson","id":"guardian-adult","patient":{"reference":"Patient/adult"},"extension":[{"url":"{{{ConsentTerms.GuardianshipExtension}}}","valueCodeableConcept":{"coding":[{"system":"{{{ConsentTerms.GuardianshipSystem}}}","code":"statutory"}]}}],"name":[{"text":"监护人"}]}""", HolderAdmin);

        await Put("""{"resourceType":"Observation","id":"obs-adult","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"subject":{"reference":"Patient/adult"},"valueQuantity":{"value":128,"unit":"mmHg"}}""", HolderClinician);
        await Put($$$"""{"resourceType":"Condition","id":"cond-adult-psy","code":{"coding":[{"system":"{{{Icd10}}}","code":"F20.0","display":"偏执型精神分裂症"}]},"subject":{"reference":"Patient/adult"}}""", HolderClinician);
        await Put($$$"""{"resourceType":"Condition","id":"cond-adult-hiv","code":{"coding":[{"system":"{{{Icd10}}}","code":"B20"}]},"subject":{"reference":"Patient/adult"}}""", HolderClinician);
        await Put("""{"resourceType":"Encounter","id":"enc-adult","status":"finished","class":{"code":"AMB"},"subject":{"reference":"Patient/adult"},"reasonReference":[{"reference":"Condition/cond-adult-psy"}]}""", HolderClinician);
        await Put("""{"resourceType":"Observation","id":"obs-classified","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"subject":{"reference":"Patient/classified"}}""", HolderClinician);
        await Put("""{"resourceType":"Observation","id":"obs-minor","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"subject":{"reference":"Patient/minor"}}""", HolderClinician);
        await Put("""
            {"resourceType":"Composition","id":"home-adult","status":"final","type":{"text":"档案首页"},"subject":{"reference":"Patient/adult"},"date":"2026-11-01","author":[{"reference":"Practitioner/fd"}],"title":"档案首页",
             "section":[{"title":"基本信息","code":{"coding":[{"system":"http://loinc.org","code":"11348-0"}]}},
                        {"title":"严重精神障碍管理","code":{"coding":[{"system":"http://fhirarchive.cn/fhir/CodeSystem/key-population","code":"SMD"}]}}]}
            """, HolderClinician);

        var now = DateTimeOffset.UtcNow;
        string Iso(DateTimeOffset t) => t.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");
        string ConsentJson(string id, string category, string performer, string start, string end, string actors, string purposes) => $$$"""
            {"resourceType":"Consent","id":"{{{id}}}","status":"active",
             "scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
             "category":[{"coding":[{"system":"{{{ConsentTerms.CategorySystem}}}","code":"{{{category}}}"}]}],
             "patient":{"reference":"Patient/adult"},"dateTime":"{{{start}}}","performer":[{"reference":"{{{performer}}}"}],
             "organization":[{"reference":"{{{Holder}}}"}],
             "provision":{"type":"permit","period":{"start":"{{{start}}}","end":"{{{end}}}"},"actor":[{{{actors}}}]{{{purposes}}}}}
            """;
        string Actor(string reference) => $$$"""{"role":{"coding":[{"system":"{{{ConsentTerms.ParticipationSystem}}}","code":"IRCP"}]},"reference":{"reference":"{{{reference}}}"}}""";
        await Put(ConsentJson("open-adult", ConsentTerms.ResidentOpening, "Practitioner/fd", Iso(now.AddDays(-30)), Iso(now.AddYears(5)), Actor("Patient/adult"), ""), HolderAdmin);
        await Put(ConsentJson("grant-adult", ConsentTerms.RecordAccess, "Patient/adult", Iso(now.AddDays(-1)), Iso(now.AddDays(7)),
            Actor(Hospital) + "," + Actor("Practitioner/doc"), $$$""","purpose":[{"system":"{{{ConsentTerms.PurposeSystem}}}","code":"TREAT"}]"""), HolderAdmin);
        await Put(ConsentJson("glass-adult", ConsentTerms.BreakGlass, "Practitioner/er", Iso(now.AddHours(-1)), Iso(now.AddHours(3)),
            Actor(Emergency) + "," + Actor("Practitioner/er"), ""), HolderAdmin);
    }
}

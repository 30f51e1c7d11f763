using FhirArchive.Archive.OffSite;
using FhirArchive.Rest.Resources;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;
using FhirArchive.Terminology.Sources;

namespace FhirArchive.Server.SampleData;

/// <summary>
/// An off-site visit pushed to its holder (异地服务): 李娜, held by 北京朝阳医院, has hypertension on file (a key
/// population); while staying in Shanghai she was seen for a hypertension follow-up by 上海市徐汇区枫林街道社区卫生服务中心,
/// and the visit waits in the holder's work list as an in-progress Communication
/// (Communication?recipient=Organization/bj-chaoyang-hospital&amp;status=in-progress). Another non-holder, Dr 吴昊 of
/// 北京安贞医院 (demo clinician drwu), may read her $offsite-summary, not her record.
/// </summary>
public static class OffSiteSampleData
{
    private const string Holder = "Organization/bj-chaoyang-hospital";
    private const string Serving = "Organization/sh-xuhui-fenglin-chc";

    public static async Task LoadAsync(IServiceProvider services, IWriteSession s, CancellationToken ct)
    {
        var writer = services.GetRequiredService<ResourceWriter>();
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        foreach (var json in Resources()) await SampleDataLoader.PutAsync(writer, s, json, ct);
        var push = OffSitePush.Build("Encounter/li-na-offsite-visit", "li-na", Holder, Serving, null, now);
        push.Add("id", "li-na-offsite-push");
        var meta = push.Add("meta");
        meta.Add("source", Serving);
        await SampleDataLoader.PutAsync(writer, s, push, ct);
    }

    private static IEnumerable<string> Resources()
    {
        yield return """
            {"resourceType":"Organization","id":"sh-xuhui-fenglin-chc","active":true,
             "extension":[{"url":"http://fhirarchive.cn/fhir/StructureDefinition/cn-division-code",
               "valueCoding":{"system":"http://fhirarchive.cn/fhir/CodeSystem/gbt-2260-admin-division","code":"310104","display":"徐汇区"}}],
             "identifier":[{"system":"urn:oid:2.16.156.10011.1.5","value":"PDY31010400012"}],
             "name":"上海市徐汇区枫林街道社区卫生服务中心","address":[{"city":"上海市","district":"徐汇区","country":"CN"}]}
            """;
        yield return """
            {"resourceType":"Condition","id":"li-na-hypertension","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},
             "code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10","code":"I10","display":"特发性（原发性）高血压 essential hypertension"}]},
             "subject":{"reference":"Patient/li-na"},"recordedDate":"2023-04-11","recorder":{"reference":"Practitioner/dr-chen-jing"}}
            """;
        yield return $$"""
            {"resourceType":"Encounter","id":"li-na-offsite-visit","meta":{"source":"{{Serving}}"},"status":"finished",
             "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB","display":"门诊 ambulatory"},
             "type":[{"coding":[{"system":"{{CnTerminology.PublicHealthService}}","code":"hypertension-followup","display":"高血压患者随访"}],"text":"高血压患者随访（异地服务） / hypertension follow-up (off-site)"}],
             "subject":{"reference":"Patient/li-na"},
             "period":{"start":"2026-11-18T10:00:00+08:00","end":"2026-11-18T10:20:00+08:00"},
             "serviceProvider":{"reference":"{{Serving}}"} }
            """;
    }
}

using System.Text;
using FhirArchive.Profiles;
using FhirArchive.Profiles.Identifiers;
using FhirArchive.Rest.Access;
using FhirArchive.Archive.Records;
using FhirArchive.Rest.Resources;
using FhirArchive.Rest.Search;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;

namespace FhirArchive.Server.SampleData;

/// <summary>
/// Sample resident records (重庆市万州区高笋塘街道) that show the record rules: one record in each lifecycle state
/// (active with a family doctor, lost to follow-up, deceased, moved out, and a duplicate merged into the active one)
/// and a blood-pressure reading corrected through an approved correction (two versions, a Provenance naming both
/// people). Written through the ordinary write path, so record numbers, status tags and identity keys are real.
/// </summary>
public static class RecordSampleData
{
    private const string Org = "Organization/cq-wz-gst-chc";
    private static readonly Caller Administrator = new(CallerKind.Person, "sample-admin-wang", "王敏 (档案管理员)",
        new HashSet<string> { Roles.RecordAdministrator }, [], Organization: Org, Practitioner: "Practitioner/cq-admin-wang");

    private sealed record Resident(string Id, string Name, string Gender, string BirthDate, string Sequence);

    private static readonly Resident[] Residents =
    [
        new("cq-chen-ming", "陈明", "male", "1968-04-09", "013"),
        new("cq-zhao-li", "赵丽", "female", "1975-09-21", "024"),
        new("cq-sun-qiang", "孙强", "male", "1940-02-17", "035"),
        new("cq-zhou-min", "周敏", "female", "1988-12-03", "046"),
        new("cq-wu-xia", "吴霞", "female", "1983-05-14", "052"),
    ];

    public static async Task LoadAsync(IServiceProvider services, IWriteSession s, CancellationToken ct)
    {
        var scope = services.GetRequiredService<RecordScope>();
        if (!scope.Options.Enabled) return;
        var writer = services.GetRequiredService<ResourceWriter>();
        var parser = services.GetRequiredService<SearchParser>();
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();

        foreach (var json in Basics()) await SampleDataLoader.PutAsync(writer, s, json, ct);
        foreach (var r in Residents) await SampleDataLoader.PutAsync(writer, s, Patient(r), ct);
        // A duplicate of 陈明 from a campaign years ago, filed under a birth certificate number.
        await SampleDataLoader.PutAsync(writer, s, PatientJson("cq-chen-ming-dup", "陈明", "male", "1968-04-09",
            $$"""{"system":"{{BirthCertificateNumber.System}}","value":"O500123456"}""", ""), ct);
        await SampleDataLoader.PutAsync(writer, s, Observation("cq-obs-dup", "cq-chen-ming-dup", "2019-05-10T09:00:00+08:00", 128), ct);
        await SampleDataLoader.PutAsync(writer, s, Observation("cq-obs-bp", "cq-chen-ming", "2026-11-20T09:00:00+08:00", 185), ct);

        await CloseAsync(s, writer, scope, "cq-zhao-li", RecordStatus.Lost, "2026-03-01", "电话停机、现住址查无此人 / phone and address unreachable", ct);
        await CloseAsync(s, writer, scope, "cq-sun-qiang", RecordStatus.Deceased, "2026-06-18", "脑梗死 cerebral infarction", ct);
        // Lost here, then taken over by a Beijing institution (TransferSampleData).
        await CloseAsync(s, writer, scope, "cq-wu-xia", RecordStatus.Lost, "2026-02-10", "外出务工，联系不上 / left for work elsewhere, unreachable", ct);
        await CloseAsync(s, writer, scope, "cq-zhou-min", RecordStatus.MovedOut, "2025-08-30", "迁往成都市 / moved to Chengdu", ct);
        await MergeEndpoint.MergeAsync(s, writer, scope, parser, Administrator, "cq-chen-ming-dup", "cq-chen-ming", now, ct);

        // A mistyped systolic pressure (185 for 135), corrected with the administrator's approval.
        await SampleDataLoader.PutAsync(writer, s, CorrectionTask(Observation("cq-obs-bp", "cq-chen-ming", "2026-11-20T09:00:00+08:00", 135)), ct);
        await CorrectionWorkflow.ApproveAsync(s, writer, scope, Administrator, "cq-correction-bp", now, null, ct);
    }

    private static async Task CloseAsync(IWriteSession s, ResourceWriter writer, RecordScope scope, string id, string status, string date, string reason, CancellationToken ct)
    {
        var patient = (await scope.RecordPatientAsync(s, id, ct))!;
        RecordStatus.Set(patient, status);
        if (status == RecordStatus.Deceased) patient.Add("deceased", date, "dateTime");
        await LifecycleEndpoints.WriteAsync(s, writer, Administrator, patient, id, status, date, reason, ct);
    }

    private static IEnumerable<string> Basics()
    {
        yield return $$$"""
            {"resourceType":"Organization","id":"cq-wz-gst-chc","meta":{"profile":["{{{CnProfiles.Organization}}}"]},
             "extension":[{"url":"http://fhirarchive.cn/fhir/StructureDefinition/cn-division-code",
               "valueCoding":{"system":"http://fhirarchive.cn/fhir/CodeSystem/gbt-2260-admin-division","code":"500101001","display":"高笋塘街道"}}],
             "identifier":[{"system":"urn:oid:2.16.156.10011.1.5","value":"PDY50010100001"}],"active":true,
             "type":[{"text":"社区卫生服务中心"}],"name":"万州区高笋塘街道社区卫生服务中心"}
            """;
        yield return """{"resourceType":"Practitioner","id":"cq-dr-li","active":true,"identifier":[{"system":"urn:oid:2.16.156.10011.1.4","value":"D500101001"}],"name":[{"text":"李娜","family":"李","given":["娜"]}],"gender":"female","qualification":[{"code":{"text":"家庭医生 / family doctor"}}]}""";
        yield return """{"resourceType":"Practitioner","id":"cq-admin-wang","active":true,"identifier":[{"system":"urn:oid:2.16.156.10011.1.4","value":"D500101002"}],"name":[{"text":"王敏","family":"王","given":["敏"]}],"gender":"female","qualification":[{"code":{"text":"档案管理员 / record administrator"}}]}""";
    }

    private static string Patient(Resident r)
    {
        var card = SampleDataLoader.IdCardNumber("500101", r.BirthDate, r.Sequence[..2] + (r.Gender == "male" ? "1" : "2"));
        // 陈明 signed a family-doctor contract with Dr 李 (who then maintains his record).
        var doctor = r.Id == "cq-chen-ming"
            ? ""","generalPractitioner":[{"extension":[{"url":"http://fhirarchive.cn/fhir/StructureDefinition/cn-family-doctor-contract","valuePeriod":{"start":"2026-01-05","end":"2027-01-04"} }],"reference":"Practitioner/cq-dr-li"}]"""
            : "";
        return PatientJson(r.Id, r.Name, r.Gender, r.BirthDate, $$"""{"system":"{{ResidentIdCard.OidSystem}}","value":"{{card}}"}""", doctor);
    }

    private static string PatientJson(string id, string name, string gender, string birthDate, string identifier, string extra) => $$$"""
        {"resourceType":"Patient","id":"{{{id}}}","meta":{"profile":["{{{CnProfiles.ResidentPatient}}}"]},"identifier":[{{{identifier}}}],
         "name":[{"text":"{{{name}}}","family":"{{{name[..1]}}}","given":["{{{name[1..]}}}"]}],"gender":"{{{gender}}}","birthDate":"{{{birthDate}}}",
         "address":[{"use":"home","text":"重庆市万州区高笋塘街道","city":"重庆市","district":"万州区"}],
         "managingOrganization":{"reference":"{{{Org}}}"}{{{extra}}}}
        """;

    private static string Observation(string id, string patient, string when, int systolic) => $$$"""
        {"resourceType":"Observation","id":"{{{id}}}","status":"final",
         "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],
         "code":{"coding":[{"system":"http://loinc.org","code":"8480-6","display":"收缩压 systolic blood pressure"}],"text":"收缩压"},
         "subject":{"reference":"Patient/{{{patient}}}"},"effectiveDateTime":"{{{when}}}","performer":[{"reference":"Practitioner/cq-dr-li"}],
         "valueQuantity":{"value":{{{systolic}}},"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}
        """;

    private static string CorrectionTask(string content) => $$$"""
        {"resourceType":"Task","id":"cq-correction-bp","status":"requested","intent":"proposal",
         "code":{"coding":[{"system":"{{{CorrectionWorkflow.TaskTypeSystem}}}","code":"{{{CorrectionWorkflow.Correction}}}"}]},
         "focus":{"reference":"Observation/cq-obs-bp"},"for":{"reference":"Patient/cq-chen-ming"},"authoredOn":"2026-11-21",
         "requester":{"reference":"Practitioner/cq-dr-li"},"owner":{"reference":"{{{Org}}}"},"reasonCode":{"text":"录入错误：收缩压应为 135 / typing error, 135"},
         "input":[{"type":{"text":"{{{CorrectionWorkflow.ContentInput}}}"},"valueAttachment":{"contentType":"application/fhir+json","data":"{{{Convert.ToBase64String(Encoding.UTF8.GetBytes(content))}}}"}}]}
        """;
}

using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Archive.Consent;
using FhirArchive.Archive.Grants;
using FhirArchive.Rest.Resources;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;
using FhirArchive.Terminology.Sources;

namespace FhirArchive.Server.SampleData;

/// <summary>
/// Sample data that shows each consent rule with the demo accounts: 刘洋 is under the severe-mental-disorder
/// programme and his father 刘强 (the demo guardian) sees his ordinary record but not that part; 张伟 (the demo
/// resident) authorised Dr 吴昊 of 北京安贞医院 (demo clinician drwu) to read his record for a month; 张小雨 is a
/// minor whose record stays closed to her and her guardian until the guardian applies; 周某 is a classified person,
/// invisible outside the responsible institution. Both opened records were opened by their family doctor 陈静.
/// </summary>
public static class ConsentSampleData
{
    public const string Anzhen = "Organization/bj-anzhen-hospital";
    public const string AnzhenDoctor = "Practitioner/dr-wu-hao";
    private const string Holder = "Organization/bj-chaoyang-hospital";
    private const string FamilyDoctor = "Practitioner/dr-chen-jing";

    public static readonly SampleDataLoader.Resident Minor = new("zhang-xiaoyu", "张", "小雨", "female", "2016-08-15", "440106", "166", "广州市", "天河区");
    public static readonly SampleDataLoader.Resident Classified = new("zhou-mou", "周", "某", "male", "1972-05-05", "440106", "177", "广州市", "天河区");

    public static async Task LoadAsync(IServiceProvider services, IWriteSession s, CancellationToken ct)
    {
        if (!services.GetRequiredService<ConsentOptions>().Enabled) return;
        var writer = services.GetRequiredService<ResourceWriter>();
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        foreach (var json in Resources(now)) await SampleDataLoader.PutAsync(writer, s, json, ct);
    }

    public static IEnumerable<string> Resources(DateTimeOffset now)
    {
        yield return """
            {"resourceType":"Organization","id":"bj-anzhen-hospital","active":true,
             "extension":[{"url":"http://fhirarchive.cn/fhir/StructureDefinition/cn-division-code",
               "valueCoding":{"system":"http://fhirarchive.cn/fhir/CodeSystem/gbt-2260-admin-division","code":"110105","display":"朝阳区"}}],
             "identifier":[{"system":"urn:oid:2.16.156.10011.1.5","value":"12110000400689963K"}],
             "name":"首都医科大学附属北京安贞医院","alias":["Beijing Anzhen Hospital"],
             "address":[{"city":"北京市","district":"朝阳区","country":"CN"}]}
            """;
        yield return """
            {"resourceType":"Practitioner","id":"dr-wu-hao","active":true,
             "identifier":[{"system":"urn:oid:2.16.156.10011.1.4","value":"D110105101"}],
             "name":[{"text":"吴昊","family":"吴","given":["昊"]}],"gender":"male",
             "qualification":[{"code":{"text":"心内科医生 / cardiologist"}}]}
            """;

        // 刘洋: the severe-mental-disorder programme (diagnosis and a follow-up visit), recorded by the holder.
        yield return $$$"""
            {"resourceType":"Condition","id":"liu-yang-smd","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},
             "code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10","code":"F20.0","display":"偏执型精神分裂症 paranoid schizophrenia"}]},
             "subject":{"reference":"Patient/liu-yang"},"recordedDate":"2025-03-02","recorder":{"reference":"{{{FamilyDoctor}}}"}}
            """;
        yield return $$$"""
            {"resourceType":"Encounter","id":"liu-yang-smd-followup","status":"finished",
             "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"HH","display":"居家 home health"},
             "type":[{"coding":[{"system":"{{{CnTerminology.KeyPopulation}}}","code":"SMD","display":"严重精神障碍患者"}],"text":"严重精神障碍患者随访 / severe mental disorder follow-up"}],
             "subject":{"reference":"Patient/liu-yang"},"participant":[{"individual":{"reference":"{{{FamilyDoctor}}}"} }],
             "period":{"start":"2026-10-12T10:00:00+08:00","end":"2026-10-12T10:40:00+08:00"},
             "reasonReference":[{"reference":"Condition/liu-yang-smd"}],"serviceProvider":{"reference":"{{{Holder}}}"} }
            """;

        // 张小雨 (a minor, her father 张伟 her statutory guardian) and 周某 (a classified person).
        yield return SampleDataLoader.PatientJson(Minor);
        yield return SampleDataLoader.PatientJson(Classified).Replace("\"active\":true,",
            $$$"""
            "meta":{"security":[{"system":"{{{ConsentTerms.SensitivitySystem}}}","code":"{{{ConsentTerms.Classified}}}","display":"涉密人群 classified"}]},"active":true,
            """.Trim());
        foreach (var (id, patient, value) in new[] { ("obs-zhang-xiaoyu-weight", Minor.Id, 32), ("obs-zhou-mou-weight", Classified.Id, 74) })
            yield return $$$"""
                {"resourceType":"Observation","id":"{{{id}}}","status":"final",
                 "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],
                 "code":{"coding":[{"system":"http://loinc.org","code":"29463-7","display":"体重 body weight"}],"text":"体重 body weight"},
                 "subject":{"reference":"Patient/{{{patient}}}"},"effectiveDateTime":"2026-09-01T09:10:00+08:00",
                 "performer":[{"reference":"{{{FamilyDoctor}}}"}],
                 "valueQuantity":{"value":{{{value}}},"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"} }
                """;
        yield return $$$"""
            {"resourceType":"RelatedPerson","id":"zhang-wei-guardian-of-xiaoyu","active":true,"patient":{"reference":"Patient/{{{Minor.Id}}}"},
             "extension":[{"url":"{{{ConsentTerms.GuardianshipExtension}}}",
               "valueCodeableConcept":{"coding":[{"system":"{{{ConsentTerms.GuardianshipSystem}}}","code":"{{{ConsentTerms.Statutory}}}","display":"法定监护"}],"text":"法定监护（父亲）"}}],
             "relationship":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-RoleCode","code":"FTH","display":"father"}]}],
             "name":[{"text":"张伟","family":"张","given":["伟"]}],"gender":"male"}
            """;

        // The family doctor opened 张伟's and 刘洋's records to them; 张伟 authorised Dr 吴昊 by SMS code.
        yield return Consent("zhang-wei-opening", "zhang-wei", ConsentTerms.ResidentOpening, FamilyDoctor, ConsentTerms.FamilyDoctor,
            now.AddDays(-60), now.AddYears(10), ["Patient/zhang-wei"], [OpenRecordEndpoint.PatientRequest]);
        yield return Consent("liu-yang-opening", "liu-yang", ConsentTerms.ResidentOpening, FamilyDoctor, ConsentTerms.FamilyDoctor,
            now.AddDays(-60), now.AddYears(10), ["Patient/liu-yang", "RelatedPerson/liu-qiang"], [OpenRecordEndpoint.PatientRequest, OpenRecordEndpoint.FamilyRequest]);
        yield return Consent("zhang-wei-anzhen", "zhang-wei", ConsentTerms.RecordAccess, "Patient/zhang-wei", ConsentTerms.SmsCode,
            now.AddHours(-1), now.AddDays(30), [Anzhen, AnzhenDoctor], [ConsentTerms.Treatment]);
    }

    /// <summary>A sample Consent in the one shape the grant operations write (<see cref="ConsentDraft"/>: cn-consent, its policy rule, verification).</summary>
    private static string Consent(string id, string patient, string category, string performer, string method, DateTimeOffset start, DateTimeOffset end,
        string[] actors, string[] purposes)
    {
        var draft = new ConsentDraft(category, "Patient/" + patient, Holder, [performer], new ConsentVerification(method, "Patient/" + patient, start),
            start, end, actors, purposes, start);
        return FhirJsonSerializer.Serialize(draft.ToResource(id));
    }
}

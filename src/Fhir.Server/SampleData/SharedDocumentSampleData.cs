using FhirArchive.Rest.Resources;
using FhirArchive.Storage;

namespace FhirArchive.Server.SampleData;

/// <summary>
/// A shared document (WS/T 483.12 高血压患者随访服务) from a hospital for 张伟: Dr 赵磊 of 北京朝阳 records a hypertension
/// follow-up — his blood pressure and weight (the sample observations), his medication, the next follow-up — as a
/// Composition under cn-doc-hypertension-followup, so the demo can fetch its document:
/// GET /Composition/zhang-wei-hypertension-followup/$document.
/// </summary>
public static class SharedDocumentSampleData
{
    private const string Hospital = "Organization/bj-chaoyang-hospital";
    public const string CompositionId = "zhang-wei-hypertension-followup";

    public static async Task LoadAsync(IServiceProvider services, IWriteSession s, CancellationToken ct)
    {
        var writer = services.GetRequiredService<ResourceWriter>();
        foreach (var json in Resources()) await SampleDataLoader.PutAsync(writer, s, json, ct);
    }

    private static IEnumerable<string> Resources()
    {
        yield return $$"""
            {"resourceType":"MedicationStatement","id":"zhang-wei-amlodipine","meta":{"source":"{{Hospital}}"},"status":"active",
             "medicationCodeableConcept":{"text":"苯磺酸氨氯地平片 5mg / amlodipine 5 mg"},"subject":{"reference":"Patient/zhang-wei"},
             "effectivePeriod":{"start":"2024-05-01"},"dateAsserted":"2024-05-01T09:20:00+08:00","informationSource":{"reference":"Practitioner/dr-zhao-lei"},
             "dosage":[{"text":"每日一次，每次5mg，口服 / 5 mg orally once daily"}]}
            """;
        yield return """
            {"resourceType":"Appointment","id":"zhang-wei-next-followup","status":"booked","serviceType":[{"text":"高血压患者随访 / hypertension follow-up"}],
             "start":"2024-08-01T09:00:00+08:00","end":"2024-08-01T09:30:00+08:00",
             "participant":[{"actor":{"reference":"Patient/zhang-wei"},"status":"accepted"},{"actor":{"reference":"Practitioner/dr-zhao-lei"},"status":"accepted"}]}
            """;
        yield return $$$"""
            {"resourceType":"Composition","id":"{{{CompositionId}}}","meta":{"source":"{{{Hospital}}}",
               "profile":["http://fhirarchive.cn/fhir/StructureDefinition/cn-doc-hypertension-followup"]},"status":"final",
             "type":{"coding":[{"system":"urn:oid:2.16.156.10011.2.4","code":"B0012","display":"高血压患者随访服务"}],"text":"高血压患者随访服务"},
             "subject":{"reference":"Patient/zhang-wei"},"date":"2024-05-01T09:40:00+08:00",
             "author":[{"reference":"Practitioner/dr-zhao-lei"}],"title":"高血压患者随访服务记录 / Hypertension follow-up",
             "attester":[{"mode":"professional","time":"2024-05-01T09:40:00+08:00","party":{"reference":"Practitioner/dr-zhao-lei"}}],
             "custodian":{"reference":"{{{Hospital}}}"},
             "section":[
              {"title":"体征 / Vital signs","code":{"coding":[{"system":"http://loinc.org","code":"8716-3","display":"Vital signs"}]},
               "text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">收缩压与体重 / systolic blood pressure and weight</div>"},
               "entry":[{"reference":"Observation/obs-1"},{"reference":"Observation/obs-2"}]},
              {"title":"用药情况 / Medication","code":{"coding":[{"system":"http://loinc.org","code":"10160-0","display":"History of Medication use Narrative"}]},
               "text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">苯磺酸氨氯地平片 5mg qd / amlodipine 5 mg once daily</div>"},
               "entry":[{"reference":"MedicationStatement/zhang-wei-amlodipine"}]},
              {"title":"下次随访 / Next follow-up","code":{"coding":[{"system":"http://loinc.org","code":"18776-5","display":"Plan of care note"}]},
               "text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">2024-08-01</div>"},
               "entry":[{"reference":"Appointment/zhang-wei-next-followup"}]}]}
            """;
    }
}

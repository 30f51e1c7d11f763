using FhirArchive.Rest.Resources;
using FhirArchive.Storage;
using FhirArchive.Terminology.Sources;

namespace FhirArchive.Server.SampleData;

/// <summary>
/// 张伟's record homepage (档案首页, Patient/zhang-wei/$summary): besides his 2024 check-up at his holder (北京朝阳), a
/// hypertension diagnosis (so the homepage tags him), a cardiology visit at 北京安贞医院 with an ECG report and its
/// charge, a hypertension follow-up at 上海枫林 while on a business trip, and his payment method — a timeline across
/// three institutions, each item labelled with its source.
/// </summary>
public static class HomepageSampleData
{
    private const string Chaoyang = "Organization/bj-chaoyang-hospital";
    private const string Anzhen = "Organization/bj-anzhen-hospital";
    private const string Fenglin = "Organization/sh-xuhui-fenglin-chc";

    public static async Task LoadAsync(IServiceProvider services, IWriteSession s, CancellationToken ct)
    {
        var writer = services.GetRequiredService<ResourceWriter>();
        foreach (var json in Resources()) await SampleDataLoader.PutAsync(writer, s, json, ct);
    }

    private static IEnumerable<string> Resources()
    {
        yield return $$$"""
            {"resourceType":"Condition","id":"zhang-wei-hypertension","meta":{"source":"{{{Chaoyang}}}"},
             "clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},
             "code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10","code":"I10","display":"特发性（原发性）高血压 essential hypertension"}],"text":"高血压 / hypertension"},
             "subject":{"reference":"Patient/zhang-wei"},"recordedDate":"2024-05-01","recorder":{"reference":"Practitioner/dr-chen-jing"}}
            """;
        yield return $$$"""
            {"resourceType":"Encounter","id":"zhang-wei-anzhen-visit","meta":{"source":"{{{Anzhen}}}"},"status":"finished",
             "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB","display":"门诊 ambulatory"},
             "type":[{"text":"心内科门诊 / cardiology outpatient"}],"reasonCode":[{"text":"胸闷 / chest tightness"}],
             "subject":{"reference":"Patient/zhang-wei"},
             "period":{"start":"2025-09-10T14:00:00+08:00","end":"2025-09-10T14:40:00+08:00"},
             "serviceProvider":{"reference":"{{{Anzhen}}}"} }
            """;
        yield return $$$"""
            {"resourceType":"DiagnosticReport","id":"zhang-wei-ecg","meta":{"source":"{{{Anzhen}}}"},"status":"final",
             "code":{"coding":[{"system":"http://loinc.org","code":"11524-6","display":"EKG study"}],"text":"心电图 / ECG"},
             "subject":{"reference":"Patient/zhang-wei"},"encounter":{"reference":"Encounter/zhang-wei-anzhen-visit"},
             "effectiveDateTime":"2025-09-10T14:20:00+08:00","conclusion":"窦性心律，未见明显异常 / sinus rhythm, no abnormality"}
            """;
        yield return $$$"""
            {"resourceType":"ChargeItem","id":"zhang-wei-anzhen-charge","meta":{"source":"{{{Anzhen}}}"},"status":"billed",
             "code":{"text":"门诊诊查费、心电图检查费 / consultation and ECG"},"subject":{"reference":"Patient/zhang-wei"},
             "context":{"reference":"Encounter/zhang-wei-anzhen-visit"},"priceOverride":{"value":86.00,"currency":"CNY"}}
            """;
        yield return $$$"""
            {"resourceType":"Encounter","id":"zhang-wei-fenglin-visit","meta":{"source":"{{{Fenglin}}}"},"status":"finished",
             "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB","display":"门诊 ambulatory"},
             "type":[{"coding":[{"system":"{{{CnTerminology.PublicHealthService}}}","code":"hypertension-followup","display":"高血压患者随访"}],"text":"高血压患者随访（出差期间） / hypertension follow-up (on a business trip)"}],
             "reasonCode":[{"text":"高血压 / hypertension"}],"subject":{"reference":"Patient/zhang-wei"},
             "period":{"start":"2026-08-05T09:30:00+08:00","end":"2026-08-05T09:50:00+08:00"},
             "serviceProvider":{"reference":"{{{Fenglin}}}"} }
            """;
        yield return $$$"""
            {"resourceType":"Coverage","id":"zhang-wei-coverage","meta":{"source":"{{{Chaoyang}}}"},"status":"active",
             "type":{"coding":[{"system":"{{{CnTerminology.PaymentMethod}}}","code":"01","display":"城镇职工基本医疗保险"}]},
             "beneficiary":{"reference":"Patient/zhang-wei"},"payor":[{"display":"北京市医疗保障局 / Beijing Healthcare Security Administration"}]}
            """;
    }
}

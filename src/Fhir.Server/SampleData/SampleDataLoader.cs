using FhirArchive.Profiles.Identifiers;
using FhirArchive.Rest.Resources;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;

namespace FhirArchive.Server.SampleData;

/// <summary>
/// Loads a few sample residents (with their organisation, doctor, visits and observations) into an empty database,
/// so a fresh server has something to show. Resident ID numbers carry a valid GB 11643 check character.
/// </summary>
public static class SampleDataLoader
{
    /// <summary>The residence's administrative division (GB/T 2260), which division-bound officers are limited to.</summary>
    private const string DivisionExtension = "http://fhirarchive.cn/fhir/StructureDefinition/cn-division-code";
    private const string DivisionSystem = "http://fhirarchive.cn/fhir/CodeSystem/gbt-2260-admin-division";

    public sealed record Resident(string Id, string Family, string Given, string Gender, string BirthDate, string AddressCode, string Sequence, string City, string District);

    private static readonly Resident[] Residents =
    [
        new("zhang-wei", "张", "伟", "male", "1985-03-12", "110105", "031", "北京市", "朝阳区"),
        new("wang-fang", "王", "芳", "female", "1990-07-24", "310104", "042", "上海市", "徐汇区"),
        new("li-na", "李", "娜", "female", "1978-11-02", "440106", "128", "广州市", "天河区"),
        new("liu-yang", "刘", "洋", "male", "2001-01-30", "510107", "015", "成都市", "武侯区"),
    ];

    /// <summary>A valid 18-digit resident ID number: address code, birth date, sequence and MOD 11-2 check character.</summary>
    public static string IdCardNumber(string addressCode, string birthDate, string sequence)
    {
        var first17 = addressCode + birthDate.Replace("-", "") + sequence;
        return first17 + ResidentIdCard.CheckCharacter(first17);
    }

    public static async Task LoadIfEmptyAsync(IServiceProvider services, CancellationToken ct = default)
    {
        var store = services.GetRequiredService<IResourceStore>();
        var (_, total) = await store.HistoryAsync(new HistoryQuery(null, null, null, null, 1, 0), ct);
        if (total > 0) return;
        var writer = services.GetRequiredService<ResourceWriter>();
        await using var s = await store.BeginWriteAsync(ct);
        foreach (var json in Resources()) await PutAsync(writer, s, json, ct);
        await RecordSampleData.LoadAsync(services, s, ct);
        await ConsentSampleData.LoadAsync(services, s, ct);
        await PatientIdentitySampleData.LoadAsync(services, s, ct);
        await TransferSampleData.LoadAsync(services, s, ct);
        await OffSiteSampleData.LoadAsync(services, s, ct);
        await HomepageSampleData.LoadAsync(services, s, ct);
        await SharedDocumentSampleData.LoadAsync(services, s, ct);
        await s.CommitAsync(ct);
    }

    /// <summary>The institution that produced the sample visits (their source label, as a HIS's own writes would carry).</summary>
    private const string Chaoyang = "Organization/bj-chaoyang-hospital";

    /// <summary>Writes a sample resource (JSON with its id) through the ordinary write path, as an update-as-create.</summary>
    public static Task PutAsync(ResourceWriter writer, IWriteSession s, string json, CancellationToken ct) =>
        PutAsync(writer, s, FhirFormats.Parse(FhirFormats.Utf8(json), FhirFormat.Json), ct);

    public static async Task PutAsync(ResourceWriter writer, IWriteSession s, Fhir.Model.ElementNode node, CancellationToken ct) =>
        await writer.UpdateAsync(s, node, node.Type!, node.Child("id")!.Value!, null, ct);

    public static IEnumerable<string> Resources()
    {
        // Its township (street) code, not just the county's: residents' record numbers start with it.
        yield return """
            {"resourceType":"Organization","id":"bj-chaoyang-hospital","active":true,
             "extension":[{"url":"http://fhirarchive.cn/fhir/StructureDefinition/cn-division-code",
               "valueCoding":{"system":"http://fhirarchive.cn/fhir/CodeSystem/gbt-2260-admin-division","code":"110105001","display":"朝阳区建外街道"}}],
             "identifier":[{"system":"urn:oid:2.16.156.10011.1.5","value":"12110000400688688M"}],
             "name":"北京市朝阳区社区卫生服务中心","alias":["Chaoyang Community Health Center"],
             "address":[{"city":"北京市","district":"朝阳区","country":"CN"}]}
            """;
        yield return """
            {"resourceType":"Practitioner","id":"dr-chen-jing","active":true,
             "identifier":[{"system":"urn:oid:2.16.156.10011.1.4","value":"D110105001"}],
             "name":[{"text":"陈静","family":"陈","given":["静"]}],"gender":"female",
             "qualification":[{"code":{"text":"全科医生 / general practitioner"}}]}
            """;
        yield return """
            {"resourceType":"Practitioner","id":"dr-zhao-lei","active":true,
             "identifier":[{"system":"urn:oid:2.16.156.10011.1.4","value":"D110105002"}],
             "name":[{"text":"赵磊","family":"赵","given":["磊"]}],"gender":"male",
             "qualification":[{"code":{"text":"内科医生 / internist"}}]}
            """;
        // 刘洋's guardian (the demo guardian account's person).
        yield return """
            {"resourceType":"RelatedPerson","id":"liu-qiang","active":true,"patient":{"reference":"Patient/liu-yang"},
             "extension":[{"url":"http://fhirarchive.cn/fhir/StructureDefinition/cn-guardianship",
               "valueCodeableConcept":{"coding":[{"system":"http://fhirarchive.cn/fhir/CodeSystem/guardianship-type","code":"statutory","display":"法定监护"}],"text":"法定监护（父亲）"}}],
             "relationship":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-RoleCode","code":"FTH","display":"father"}]}],
             "name":[{"text":"刘强","family":"刘","given":["强"]}],"gender":"male"}
            """;
        var observationNo = 0;
        foreach (var r in Residents)
        {
            yield return PatientJson(r);
            yield return $$"""
                {"resourceType":"Encounter","id":"enc-{{r.Id}}","meta":{"source":"{{Chaoyang}}"},"status":"finished",
                 "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB","display":"门诊 ambulatory"},
                 "type":[{"text":"健康体检 / health examination"}],
                 "subject":{"reference":"Patient/{{r.Id}}"},
                 "participant":[{"individual":{"reference":"Practitioner/dr-chen-jing"} }],
                 "period":{"start":"2024-05-0{{r.Sequence[2]}}T09:00:00+08:00","end":"2024-05-0{{r.Sequence[2]}}T09:30:00+08:00"},
                 "serviceProvider":{"reference":"Organization/bj-chaoyang-hospital"} }
                """;
            foreach (var (code, display, value, unit, ucum) in new[] { ("8480-6", "收缩压 systolic blood pressure", 118 + observationNo * 7, "mmHg", "mm[Hg]"), ("29463-7", "体重 body weight", 55 + observationNo * 6, "kg", "kg") })
            {
                observationNo++;
                yield return $$"""
                    {"resourceType":"Observation","id":"obs-{{observationNo}}","meta":{"source":"{{Chaoyang}}"},"status":"final",
                     "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],
                     "code":{"coding":[{"system":"http://loinc.org","code":"{{code}}","display":"{{display}}"}],"text":"{{display}}"},
                     "subject":{"reference":"Patient/{{r.Id}}"},"encounter":{"reference":"Encounter/enc-{{r.Id}}"},
                     "effectiveDateTime":"2024-05-0{{r.Sequence[2]}}T09:10:00+08:00",
                     "performer":[{"reference":"Practitioner/dr-chen-jing"}],
                     "valueQuantity":{"value":{{value}},"unit":"{{unit}}","system":"http://unitsofmeasure.org","code":"{{ucum}}"} }
                    """;
            }
        }
    }

    /// <summary>A sample resident under the record profile: ID card number, name, phone, home address with its division, family doctor, holder.</summary>
    public static string PatientJson(Resident r)
    {
        var idNumber = IdCardNumber(r.AddressCode, r.BirthDate, r.Sequence);
        return $$"""
            {"resourceType":"Patient","id":"{{r.Id}}","active":true,
             "identifier":[{"use":"official","type":{"text":"居民身份证"},"system":"{{ResidentIdCard.OidSystem}}","value":"{{idNumber}}"}{{PatientIdentitySampleData.IdentifiersOf(r.Id)}}],
             "name":[{"use":"official","text":"{{r.Family}}{{r.Given}}","family":"{{r.Family}}","given":["{{r.Given}}"]}],
             "telecom":[{"system":"phone","value":"1380000{{r.Sequence}}{{r.Sequence[0]}}","use":"mobile"}],
             "gender":"{{r.Gender}}","birthDate":"{{r.BirthDate}}",
             "address":[{"extension":[{"url":"{{DivisionExtension}}","valueCoding":{"system":"{{DivisionSystem}}","code":"{{r.AddressCode}}"} }],
               "use":"home","city":"{{r.City}}","district":"{{r.District}}","country":"CN"}],
             "generalPractitioner":[{"reference":"Practitioner/dr-chen-jing"}],
             "managingOrganization":{"reference":"Organization/bj-chaoyang-hospital"} }
            """;
    }
}

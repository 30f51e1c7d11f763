using FhirArchive.Archive.PatientIdentity;
using FhirArchive.Rest.Resources;
using FhirArchive.Storage;

namespace FhirArchive.Server.SampleData;

/// <summary>
/// PIXm sample data: 北京安贞医院 (the tier-3 hospital 张伟 authorised, ConsentSampleData) registers its medical record
/// numbers as an identifier domain, and 张伟's record carries his MRN there from its first version, so that
/// <c>Patient/$ihe-pix?sourceIdentifier=http://fhirarchive.cn/fhir/sid/mrn/bj-anzhen-hospital|AZ20240317</c> (as drwu)
/// answers his ID card number and record number.
/// </summary>
public static class PatientIdentitySampleData
{
    public const string AnzhenMrnSystem = "http://fhirarchive.cn/fhir/sid/mrn/bj-anzhen-hospital";
    public const string ZhangWeiMrn = "AZ20240317";

    /// <summary>The hospital identifiers a sample resident's record carries from its first version (JSON to append to its identifiers).</summary>
    public static string IdentifiersOf(string resident) => resident != "zhang-wei" ? "" : $$$"""
        ,{"use":"secondary","type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]},
          "system":"{{{AnzhenMrnSystem}}}","value":"{{{ZhangWeiMrn}}}","assigner":{"reference":"{{{ConsentSampleData.Anzhen}}}"}}
        """;

    /// <summary>The hospital's identifier domain (after ConsentSampleData, which writes the hospital).</summary>
    public static async Task LoadAsync(IServiceProvider services, IWriteSession s, CancellationToken ct)
    {
        // The MRN's institution is the consent sample data's hospital.
        if (await s.ReadAsync("Organization", ConsentSampleData.Anzhen["Organization/".Length..], ct) is not { IsDeleted: false }) return;
        var writer = services.GetRequiredService<ResourceWriter>();
        await SampleDataLoader.PutAsync(writer, s, $$$"""
            {"resourceType":"NamingSystem","id":"mrn-bj-anzhen-hospital","name":"AnzhenMedicalRecordNumber","status":"active","kind":"identifier","date":"2026-12-07",
             "type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR","display":"Medical record number"}]},
             "responsible":"首都医科大学附属北京安贞医院","description":"北京安贞医院病案号 / Beijing Anzhen Hospital medical record number",
             "useContext":[{"code":{"system":"{{{IdentifierDomains.UsageContextSystem}}}","code":"{{{IdentifierDomains.InstitutionContext}}}"},"valueReference":{"reference":"{{{ConsentSampleData.Anzhen}}}"}}],
             "uniqueId":[{"type":"uri","value":"{{{AnzhenMrnSystem}}}","preferred":true}]}
            """, ct);
    }
}

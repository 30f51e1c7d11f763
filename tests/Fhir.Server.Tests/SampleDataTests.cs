using FhirArchive.Profiles;
using FhirArchive.Profiles.Identifiers;
using Xunit;

namespace FhirArchive.Server.Tests;

/// <summary>The host's sample data (src/Fhir.Server/SampleData) and its shipped settings (appsettings.json).</summary>
public sealed class SampleDataTests(SampleDataFixture fx) : IClassFixture<SampleDataFixture>
{
    [FhirFact]
    public async Task Sample_residents_are_loaded_with_valid_resident_id_numbers()
    {
        var b = await (await fx.Client.GetAsync("/Patient?identifier=urn:oid:2.16.156.10011.1.3|&_count=50")).JsonAsync();
        var patients = b.GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("resource")).ToList();
        Assert.True(patients.Count >= 3);
        foreach (var p in patients)
        {
            var number = p.GetProperty("identifier")[0].GetProperty("value").GetString();
            Assert.True(ResidentIdCard.Check(number).IsValid, number);
        }
        var obs = await fx.Client.SearchIdsAsync("/Patient/zhang-wei/Observation");
        Assert.Equal(2, obs.Count);
    }

    /// <summary>张伟's hypertension follow-up from 北京朝阳 (SharedDocumentSampleData): its document holds what it refers to.</summary>
    [FhirFact]
    public async Task The_sample_shared_document_is_assembled_with_everything_it_refers_to()
    {
        var r = await fx.Client.GetAsync("/Composition/zhang-wei-hypertension-followup/$document");
        var body = await r.Content.ReadAsStringAsync();
        Assert.True(r.IsSuccessStatusCode, body);
        var bundle = System.Text.Json.JsonDocument.Parse(body).RootElement;
        Assert.Equal("document", bundle.GetProperty("type").GetString());
        var ids = bundle.GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("resource"))
            .Select(x => $"{x.GetProperty("resourceType").GetString()}/{x.GetProperty("id").GetString()}").ToList();
        Assert.Equal("Composition/zhang-wei-hypertension-followup", ids[0]);
        foreach (var expected in new[] { "Patient/zhang-wei", "Practitioner/dr-zhao-lei", "Organization/bj-chaoyang-hospital", "Observation/obs-1", "Observation/obs-2",
                     "MedicationStatement/zhang-wei-amlodipine", "Appointment/zhang-wei-next-followup", "Encounter/enc-zhang-wei" })
            Assert.Contains(expected, ids);
    }
}

/// <summary>The sample residents meet the record profile: a server that enforces it still loads them all.</summary>
public sealed class SampleDataUnderRecordProfileFixture() : ServerFixtureWith(new Dictionary<string, string>
{
    ["SampleData:Load"] = "true",
    ["Validation:RecordProfiles:Patient"] = CnProfiles.ResidentPatient,
}, null);

public sealed class SampleDataValidationTests(SampleDataUnderRecordProfileFixture fx) : IClassFixture<SampleDataUnderRecordProfileFixture>
{
    [Fact]
    public async Task Every_sample_resident_is_a_valid_record()
    {
        var bundle = await (await fx.Client.GetAsync("/Patient?_summary=count")).JsonAsync();
        // The four sample residents, the six of RecordSampleData and the minor of ConsentSampleData; the classified
        // person of ConsentSampleData is not counted for the suite's (platform) client.
        Assert.Equal(4 + 6 + 1, bundle.GetProperty("total").GetInt32());
    }
}

/// <summary>The server as shipped: appsettings.json holds the record types to their profiles, and the sample data meets them.</summary>
public sealed class ShippedSettingsFixture() : ServerFixtureWith(new Dictionary<string, string> { ["SampleData:Load"] = "true" }, null, shippedRecordProfiles: true);

public sealed class ShippedRecordProfileTests(ShippedSettingsFixture fx) : IClassFixture<ShippedSettingsFixture>
{
    [Fact]
    public async Task The_sample_data_loads_under_the_shipped_record_profiles()
    {
        // As the suite's platform client sees them: not the classified person (周某) with their observation, nor the mental-health follow-up visit;
        // with the off-site visit and its push to the holder (OffSiteSampleData) and 张伟's visits at 安贞 and 枫林 (HomepageSampleData).
        foreach (var (type, count) in new[] { ("Patient", 11), ("Task", 3), ("Organization", 4), ("Practitioner", 5), ("Encounter", 7), ("Observation", 11), ("Communication", 1) })
            Assert.Equal(count, (await (await fx.Client.GetAsync($"/{type}?_summary=count")).JsonAsync()).GetProperty("total").GetInt32());
    }

    [Fact]
    public async Task Zhang_wei_s_hospital_MRN_cross_references_his_ID_card_number()
    {
        var source = Uri.EscapeDataString($"{FhirArchive.Server.SampleData.PatientIdentitySampleData.AnzhenMrnSystem}|{FhirArchive.Server.SampleData.PatientIdentitySampleData.ZhangWeiMrn}");
        var r = await fx.Client.GetAsync($"/Patient/$ihe-pix?sourceIdentifier={source}&targetSystem={Uri.EscapeDataString(ResidentIdCard.OidSystem)}");
        var body = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == System.Net.HttpStatusCode.OK, body);
        var parameters = System.Text.Json.JsonDocument.Parse(body).RootElement.GetProperty("parameter").EnumerateArray().ToList();
        var idCard = Assert.Single(parameters, p => p.GetProperty("name").GetString() == "targetIdentifier").GetProperty("valueIdentifier");
        Assert.Equal(FhirArchive.Server.SampleData.SampleDataLoader.IdCardNumber("110105", "1985-03-12", "031"), idCard.GetProperty("value").GetString());
        Assert.Equal("Patient/zhang-wei", Assert.Single(parameters, p => p.GetProperty("name").GetString() == "targetId").GetProperty("valueReference").GetProperty("reference").GetString());
    }

    [Fact]
    public async Task A_patient_without_the_record_identifiers_is_refused_by_default()
    {
        var r = await fx.Client.PostAsync("/Patient", Http.Body("""{"resourceType":"Patient","name":[{"family":"Smith"}]}"""));
        Assert.Equal(422, (int)r.StatusCode);
        Http.AssertOutcome(await r.JsonAsync());
    }
}

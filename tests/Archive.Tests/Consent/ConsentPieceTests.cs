using FhirArchive.Archive.Consent;
using FhirArchive.Rest.Infrastructure;
using Xunit;

namespace FhirArchive.Archive.Tests.Consent;

/// <summary>The small pure pieces the decision stands on: which codes are sensitive, dates, Consents as grants, redaction.</summary>
public sealed class ConsentPieceTests
{
    private const string Icd10 = "http://hl7.org/fhir/sid/icd-10";

    [Theory]
    [InlineData(Icd10, "F20.0", "PSY")]
    [InlineData("http://hl7.org/fhir/sid/icd-10-cn", "F31.1", "PSY")]
    [InlineData("urn:oid:2.16.156.10011.2.3.3.11", "F72", "PSY")]
    [InlineData(Icd10, "F32.0", null)] // depression is not one of the six
    [InlineData(Icd10, "B20.1", "HIV")]
    [InlineData(Icd10, "Z21", "HIV")]
    [InlineData(Icd10, "I10", null)]
    [InlineData("http://loinc.org", "F20.0", null)] // only in an ICD-10 system
    [InlineData("http://fhirarchive.cn/fhir/CodeSystem/key-population", "SMD", "PSY")]
    [InlineData("http://fhirarchive.cn/fhir/CodeSystem/key-population", "HTN", null)]
    public void Codes_carry_their_sensitivity(string system, string code, string? label) =>
        Assert.Equal(label, SensitiveCodes.LabelOf(system, code));

    [Fact]
    public void Epilepsy_caused_mental_disorder_needs_both_codes()
    {
        static string Condition(params string[] codes) =>
            """{"resourceType":"Condition","code":{"coding":[""" + string.Join(",", codes.Select(c => $$$"""{"system":"{{{Icd10}}}","code":"{{{c}}}"}""")) + "]}}";
        Assert.Empty(SensitiveCodes.LabelsOf(Parse(Condition("F06.2"))));
        Assert.Empty(SensitiveCodes.LabelsOf(Parse(Condition("G40.9"))));
        Assert.Equal(["PSY"], SensitiveCodes.LabelsOf(Parse(Condition("F06.2", "G40.9"))));
    }

    [Theory]
    [InlineData("2010-05-17", 2010, 5, 17)]
    [InlineData("2010-02", 2010, 2, 28)]
    [InlineData("2012-02", 2012, 2, 29)]
    [InlineData("2010", 2010, 12, 31)]
    public void Partial_birth_dates_are_read_as_their_latest_day(string value, int y, int m, int d) =>
        Assert.Equal(new DateOnly(y, m, d), RecordDirectory.LatestBirthDate(value));

    [Fact]
    public void A_grant_is_an_active_permit_of_a_known_category_and_dates_are_days_in_china()
    {
        var grant = RecordDirectory.Grant(Parse($$$"""
            {"resourceType":"Consent","id":"c1","status":"active","category":[{"coding":[{"system":"{{{ConsentTerms.CategorySystem}}}","code":"record-access"}]}],
             "provision":{"type":"permit","period":{"start":"2026-12-01","end":"2026-12-07"},
               "actor":[{"reference":{"reference":"Organization/o"}}],"purpose":[{"code":"TREAT"}]}}
            """));
        Assert.NotNull(grant);
        Assert.Equal(new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.FromHours(8)), grant!.Start);
        Assert.Equal(new DateTimeOffset(2026, 12, 8, 0, 0, 0, TimeSpan.FromHours(8)), grant.End);
        Assert.True(grant.InForce(new DateTimeOffset(2026, 12, 7, 23, 0, 0, TimeSpan.FromHours(8))));
        Assert.False(grant.InForce(new DateTimeOffset(2026, 12, 8, 0, 0, 1, TimeSpan.FromHours(8))));
        Assert.Equal(["Organization/o"], grant.Actors);
        Assert.Null(RecordDirectory.Grant(Parse("""{"resourceType":"Consent","status":"inactive","category":[{"coding":[{"system":"http://fhirarchive.cn/fhir/CodeSystem/consent-category","code":"record-access"}]}]}""")));
        Assert.Null(RecordDirectory.Grant(Parse("""{"resourceType":"Consent","status":"active","category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}]}""")));
        Assert.Null(RecordDirectory.Grant(Parse($$$"""{"resourceType":"Consent","status":"active","category":[{"coding":[{"system":"{{{ConsentTerms.CategorySystem}}}","code":"record-access"}]}],"provision":{"type":"deny"}}""")));
        // An unreadable period is never in force.
        var broken = RecordDirectory.Grant(Parse($$$"""{"resourceType":"Consent","status":"active","category":[{"coding":[{"system":"{{{ConsentTerms.CategorySystem}}}","code":"record-access"}]}],"provision":{"period":{"start":"soon"} } }"""));
        Assert.False(broken!.InForce(DateTimeOffset.UtcNow));
    }

    [Fact]
    public void Redaction_cuts_the_parts_holding_closed_codes_and_labels_the_resource()
    {
        var home = Parse("""
            {"resourceType":"Composition","status":"final","type":{"text":"档案首页"},"date":"2026-11-01","title":"t","author":[{"display":"a"}],
             "section":[{"title":"基本信息","section":[{"title":"慢病","code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10","code":"I10"}]}},
                                                   {"title":"精神","code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10","code":"F20.0"}]}}]},
                        {"title":"HIV","code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10","code":"B20"}]}}]}
            """);
        Assert.True(ConsentAccessPolicy.Redact(home, new HashSet<string> { "PSY" }));
        var json = System.Text.Encoding.UTF8.GetString(Fhir.Serialization.Json.FhirJsonSerializer.SerializeToUtf8Bytes(home));
        Assert.Contains("慢病", json);
        Assert.Contains("基本信息", json);
        Assert.DoesNotContain("F20.0", json);
        Assert.Contains("B20", json); // HIV is not closed here
        Assert.Contains("REDACTED", json);
        Assert.False(ConsentAccessPolicy.Redact(Parse("""{"resourceType":"Patient","gender":"male"}"""), new HashSet<string> { "PSY" }));
    }

    private static Fhir.Model.ElementNode Parse(string json) => FhirFormats.ParseStored(System.Text.Encoding.UTF8.GetBytes(json));
}

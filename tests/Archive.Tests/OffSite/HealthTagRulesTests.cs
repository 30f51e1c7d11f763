using FhirArchive.Archive.Consent;
using FhirArchive.Archive.HealthTags;
using FhirArchive.Archive.OffSite;
using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Terminology;
using Xunit;

namespace FhirArchive.Archive.Tests.OffSite;

/// <summary>The health-tag rules as data (checked when loaded) and their derivation, and the consent decision's off-site view, cell by cell.</summary>
public sealed class HealthTagRulesTests
{
    private static readonly HealthTagRules Rules = new(TerminologyService.Default);
    private static readonly DateTimeOffset Now = new(2026, 6, 15, 2, 0, 0, TimeSpan.Zero); // 10:00 on 15 June in China

    private static ElementNode Parse(string json) => FhirFormats.Parse(FhirFormats.Utf8(json), FhirFormat.Json);

    private static ElementNode Patient(string birthDate, string extra = "") =>
        Parse($$"""{"resourceType":"Patient","id":"p","birthDate":"{{birthDate}}"{{extra}}}""");

    private static ElementNode Condition(string id, string system, string code, string clinical = "active", string? verification = null)
    {
        var ver = verification is null ? "" : $$"""
            "verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"{{verification}}"}]},
            """;
        return Parse($$$"""
            {"resourceType":"Condition","id":"{{{id}}}","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"{{{clinical}}}"}]},
             {{{ver}}}"code":{"coding":[{"system":"{{{system}}}","code":"{{{code}}}"}]},"subject":{"reference":"Patient/p"}}
            """);
    }

    private static Dictionary<string, IReadOnlyList<string>> Tags(ElementNode patient, params ElementNode[] data) =>
        Rules.Derive(patient, data, Now).ToDictionary(t => t.Code, t => t.Evidence);

    [Fact]
    public void Every_rule_names_a_health_tag_code_with_Chinese_and_English_displays()
    {
        Assert.Equal(["elderly", "child-0-6", "pregnant", "hypertension", "diabetes-t2"], Rules.Tags);
        var tag = Assert.Single(Rules.Derive(Patient("1950-01-01"), [], Now));
        Assert.Equal(("elderly", "老年人群", "Elderly (65+)"), (tag.Code, tag.Display, tag.DisplayEn));
        Assert.Equal(new HashSet<string> { "Condition", "Observation" }, Rules.RecordTypes);
    }

    [Theory]
    [InlineData("""{"rules":[{"tag":"no-such-tag","criteria":[{"resource":"Patient","where":"true"}]}]}""", "no-such-tag")]
    [InlineData("""{"rules":[{"tag":"elderly","criteria":[{"resource":"Patient","where":"birthDate <="}]}]}""", null)]
    [InlineData("""{"rules":[{"tag":"elderly","criteria":[{"resource":"MedicationRequest","where":"true"}]}]}""", "MedicationRequest")]
    [InlineData("""{"rules":[{"tag":"elderly","criteria":[]}]}""", "no criteria")]
    public void A_broken_rule_file_fails_when_loaded_not_when_a_record_is_read(string json, string? named)
    {
        var e = Assert.ThrowsAny<Exception>(() => new HealthTagRules(TerminologyService.Default, json));
        if (named is not null) Assert.Contains(named, e.Message);
    }

    [Theory]
    [InlineData("1961-06-15", true)]   // 65 today (China)
    [InlineData("1961-06-16", false)]  // 65 tomorrow
    [InlineData("1930", true)]         // a year alone decides when it can
    [InlineData("1961", false)]        // ...and gives no tag when it cannot (the year one turns 65): no guess
    public void Elderly_from_the_65th_birthday_in_China(string birthDate, bool elderly) =>
        Assert.Equal(elderly, Tags(Patient(birthDate)).ContainsKey("elderly"));

    [Theory]
    [InlineData("2019-06-16", true)]   // 6 years and 364 days
    [InlineData("2019-06-15", false)]  // the 7th birthday
    [InlineData("2026-06-15", true)]   // born today
    public void Children_until_their_7th_birthday(string birthDate, bool child) =>
        Assert.Equal(child, Tags(Patient(birthDate)).ContainsKey("child-0-6"));

    [Fact]
    public void Diseases_come_from_active_conditions_by_ICD_10_prefix_or_SNOMED_CT_each_naming_its_evidence()
    {
        var tags = Tags(Patient("1980-01-01"),
            Condition("htn", "http://hl7.org/fhir/sid/icd-10", "I10.x00"),
            Condition("dm", "http://snomed.info/sct", "44054006"),
            Condition("htn-cn", "urn:oid:2.16.156.10011.2.3.3.11", "I11.9"),
            Condition("resolved", "http://hl7.org/fhir/sid/icd-10", "E11.9", clinical: "resolved"),
            Condition("refuted", "http://hl7.org/fhir/sid/icd-10", "O80", verification: "refuted"));
        Assert.Equal(["Condition/htn", "Condition/htn-cn"], tags["hypertension"]);
        Assert.Equal(["Condition/dm"], tags["diabetes-t2"]);
        Assert.False(tags.ContainsKey("pregnant"));
        Assert.False(tags.ContainsKey("elderly"));
    }

    [Fact]
    public void Pregnancy_from_a_pregnancy_status_observation_and_populations_from_the_programme_s_own_mark()
    {
        var status = Parse("""
            {"resourceType":"Observation","id":"preg","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"82810-3"}]},
             "subject":{"reference":"Patient/p"},"valueCodeableConcept":{"coding":[{"system":"http://snomed.info/sct","code":"77386006"}]}}
            """);
        var notPregnant = Parse("""
            {"resourceType":"Observation","id":"np","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"82810-3"}]},
             "subject":{"reference":"Patient/p"},"valueCodeableConcept":{"coding":[{"system":"http://snomed.info/sct","code":"60001007"}]}}
            """);
        Assert.Equal(["Observation/preg"], Tags(Patient("1995-01-01"), status, notPregnant)["pregnant"]);
        var marked = Patient("1980-01-01", ""","extension":[{"url":"http://fhirarchive.cn/fhir/StructureDefinition/cn-key-population","valueCoding":{"system":"http://fhirarchive.cn/fhir/CodeSystem/key-population","code":"T2DM"}}]""");
        Assert.Equal(["Patient/p"], Tags(marked)["diabetes-t2"]);
    }

    private static RecordContext Record(bool classified = false, bool exists = true) =>
        new(new RecordFacts("p", exists, "Organization/holder", [], classified, null), [], null);

    private static Caller Person(string role, string? org) =>
        new(CallerKind.Person, "u", null, new HashSet<string> { role }, [], org, "Practitioner/x");

    [Theory]
    [InlineData(Roles.Clinician, "Organization/elsewhere", false, true, true)]
    [InlineData(Roles.FamilyDoctor, "Organization/elsewhere", false, true, true)]
    [InlineData(Roles.Clinician, "Organization/elsewhere", false, false, false)]  // not in a key population
    [InlineData(Roles.Clinician, "Organization/elsewhere", true, true, false)]    // a classified person
    [InlineData(Roles.Clinician, "Organization/holder", true, false, true)]       // the holder sees its own record
    [InlineData(Roles.Clinician, null, false, true, false)]                       // no institution
    [InlineData(Roles.Resident, "Organization/elsewhere", false, true, false)]
    [InlineData(Roles.Researcher, "Organization/elsewhere", false, true, false)]
    [InlineData(Roles.PublicHealthOfficer, "Organization/elsewhere", false, true, false)]
    public void The_off_site_view_is_for_another_institution_s_staff_serving_a_key_population_resident(string role, string? org, bool classified, bool keyPopulation, bool permit)
    {
        var d = ConsentDecision.OffSiteView(Person(role, org), Record(classified), keyPopulation);
        Assert.Equal(permit, d.Permit);
        if (permit && org != "Organization/holder")
        {
            Assert.Equal(ConsentDecision.OffSiteReason, d.Reason);
            Assert.Empty(d.Cleared); // nothing sensitive is ever cleared for it
        }
        Assert.False(ConsentDecision.OffSiteView(Person(role, org), Record(exists: false), keyPopulation).Permit);
    }

    [Theory]
    [InlineData("2026-12-31T23:30:00+08:00", 2026)]
    [InlineData("2026-12-31T16:30:00Z", 2027)] // already 1 January in China
    [InlineData("2026-03-01", 2026)]
    [InlineData("20", null)]
    public void A_service_s_year_is_the_calendar_year_in_China(string time, int? year) => Assert.Equal(year, OffSiteTerms.Year(time));
}

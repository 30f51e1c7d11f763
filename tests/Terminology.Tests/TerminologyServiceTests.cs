using FhirArchive.Fhir.Serialization;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Terminology.Sources;
using Xunit;

namespace FhirArchive.Terminology.Tests;

public class TerminologyServiceTests
{
    private static readonly TerminologyService Tx = TerminologyService.Default;
    private const string Vs = CnTerminology.Canonical + "/ValueSet/";

    [Fact]
    public void Looks_up_national_codes_with_chinese_and_english_displays()
    {
        var male = Tx.Lookup(CnTerminology.Sex, "1")!;
        Assert.Equal("男性", male.DisplayFor("zh-CN"));
        Assert.Equal("Male", male.DisplayFor("en"));
        var han = Tx.Lookup(CnTerminology.Ethnicity, "01")!;
        Assert.Equal("汉族", han.Concept.Display);
        Assert.Equal("HA", han.Concept.Properties["letter-code"]);
        Assert.Equal(58, Tx.GetCodeSystem(CnTerminology.Ethnicity)!.Count); // 56 groups + 97, 98
        Assert.Null(Tx.Lookup(CnTerminology.Sex, "3"));
    }

    [Fact]
    public void Admin_divisions_form_a_hierarchy_down_to_townships_and_keep_retired_counties()
    {
        var cs = Tx.GetCodeSystem(CnTerminology.AdminDivision)!;
        var wanzhou = cs.Find("500101")!;
        Assert.Equal("万州区", wanzhou.Display);
        Assert.Equal("500100", wanzhou.Parent!.Code);
        Assert.Equal("500000", wanzhou.Parent!.Parent!.Code);
        Assert.Equal("重庆市", wanzhou.Parent!.Parent!.Display);
        Assert.Equal("高笋塘街道", cs.Find("500101001")!.Display);
        Assert.Equal(SubsumptionOutcome.Subsumes, Tx.Subsumes(CnTerminology.AdminDivision, "500000", "500101001"));
        Assert.Equal(SubsumptionOutcome.SubsumedBy, Tx.Subsumes(CnTerminology.AdminDivision, "500101", "500000"));
        Assert.Equal(SubsumptionOutcome.NotSubsumed, Tx.Subsumes(CnTerminology.AdminDivision, "110000", "500101"));

        var jiangjin = cs.Find("500181")!; // 江津市, retired in 2006 — still on older ID cards
        Assert.True(jiangjin.Inactive);
        Assert.Equal(SubsumptionOutcome.Subsumes, Tx.Subsumes(CnTerminology.AdminDivision, "500000", "500181"));
        Assert.True(cs.Count > 40_000);
    }

    [Fact]
    public void Validates_codes_against_value_sets()
    {
        Assert.True(Tx.ValidateCode(Vs + "gbt-2260-county", CnTerminology.AdminDivision, "500101").Result);
        Assert.False(Tx.ValidateCode(Vs + "gbt-2260-county", CnTerminology.AdminDivision, "500000").Result); // a province
        Assert.False(Tx.ValidateCode(Vs + "gbt-2261-1-sex", CnTerminology.Sex, "7").Result);
        var wrongDisplay = Tx.ValidateCode(Vs + "gbt-2261-1-sex", CnTerminology.Sex, "1", "女性");
        Assert.False(wrongDisplay.Result);
        Assert.Equal("男性", wrongDisplay.Display);
        Assert.True(Tx.ValidateCode(Vs + "gbt-2261-1-sex", "urn:oid:2.16.156.10011.2.3.3.4", "2", "Female").Result);
        Assert.True(Tx.ValidateCode(Vs + "wst-483-document-type", CnTerminology.DocumentType, "B0001").Result);
        Assert.False(Tx.ValidateCode(Vs + "wst-483-document-type", CnTerminology.DocumentType, "C0001").Result);
    }

    [Fact]
    public void Validates_fhir_base_value_sets_including_is_a_filters()
    {
        const string gender = "http://hl7.org/fhir/ValueSet/administrative-gender";
        Assert.True(Tx.ValidateCode(gender, "http://hl7.org/fhir/administrative-gender", "male").Result);
        Assert.False(Tx.ValidateCode(gender, "http://hl7.org/fhir/administrative-gender", "man").Result);
        Assert.False(Tx.ValidateCode(gender, CnTerminology.Sex, "1").Result);
        Assert.Equal(4, Tx.Expand(gender + "|4.0.1").Total);

        const string parent = "http://hl7.org/fhir/ValueSet/parent-relationship-codes";
        const string roleCode = "http://terminology.hl7.org/CodeSystem/v3-RoleCode";
        Assert.True(Tx.ValidateCode(parent, roleCode, "MTH").Result); // mother is-a parent
        Assert.False(Tx.ValidateCode(parent, roleCode, "FRND").Result);
    }

    [Fact]
    public void Unknown_code_systems_give_no_verdict_rather_than_a_false_one()
    {
        var r = Tx.ValidateCode("http://hl7.org/fhir/ValueSet/clinical-findings", "http://snomed.info/sct", "38341003");
        Assert.Null(r.Result);
        Assert.NotNull(Tx.Expand("http://hl7.org/fhir/ValueSet/clinical-findings").Error);
    }

    [Fact]
    public void Expands_with_filter_paging_and_language()
    {
        var provinces = Tx.Expand(Vs + "gbt-2260-province");
        Assert.True(provinces.Total >= 31);
        var chongqing = Tx.Expand(Vs + "gbt-2260-province", filter: "重庆");
        Assert.Equal("500000", Assert.Single(chongqing.Items).Code);

        var all = Tx.Expand(Vs + "gb-3304-ethnicity");
        var page = Tx.Expand(Vs + "gb-3304-ethnicity", offset: 10, count: 5);
        Assert.Equal(all.Total, page.Total);
        Assert.Equal(all.Items.Skip(10).Take(5).Select(i => i.Code), page.Items.Select(i => i.Code));

        var en = Tx.Expand(Vs + "gbt-2261-1-sex", language: "en");
        Assert.Contains(en.Items, i => i.Code == "2" && i.Display == "Female");
        Assert.DoesNotContain(Tx.Expand(Vs + "gbt-2260-county").Items, i => i.Code == "500181"); // retired: not offered
    }

    [Fact]
    public void Family_relationship_categories_subsume_their_members()
    {
        Assert.Equal(SubsumptionOutcome.Subsumes, Tx.Subsumes(CnTerminology.FamilyRelationship, "10", "12"));
        Assert.Equal(SubsumptionOutcome.Equivalent, Tx.Subsumes(CnTerminology.FamilyRelationship, "12", "12"));
        Assert.Null(Tx.Subsumes(CnTerminology.FamilyRelationship, "10", "nope"));
    }

    [Fact]
    public void Translates_national_sex_to_fhir_gender()
    {
        var m = Assert.Single(Tx.Translate(CnTerminology.Sex, "2"));
        Assert.Equal("female", m.TargetCode);
        Assert.Equal("equivalent", m.Equivalence);
        Assert.Equal("unknown", Assert.Single(Tx.Translate("urn:oid:2.16.156.10011.2.3.3.4", "9", CnTerminology.SexToGenderMap)).TargetCode);
        Assert.Empty(Tx.Translate(CnTerminology.Sex, "5"));
    }

    [Fact]
    public void Transfer_reasons_and_confirmation_methods_follow_the_chongqing_rules()
    {
        Assert.Equal(7, Tx.GetCodeSystem(CnTerminology.TransferReason)!.Count);
        Assert.Equal(4, Tx.GetCodeSystem(CnTerminology.ConfirmationMethod)!.Count);
        Assert.Equal("外嫁", Tx.Lookup(CnTerminology.TransferReason, "3")!.Concept.Display);
        Assert.Equal(20, Tx.Expand(Vs + "wst-483-document-type").Total);
    }

    [Fact]
    public void Published_resources_are_valid_fhir()
    {
        var parser = new FhirJsonParser(ParserOptions.Strict);
        var resources = Tx.ChineseCodeSystems.Select(TerminologyResources.ToCodeSystem)
            .Concat(Tx.ChineseValueSets.Select(TerminologyResources.ToValueSet))
            .Concat(Tx.ChineseConceptMaps.Select(TerminologyResources.ToConceptMap));
        var count = 0;
        foreach (var r in resources)
        {
            var json = FhirJsonSerializer.Serialize(r);
            var back = parser.Parse(json);
            Assert.True(back.Success, $"{r.ResourceId}: {string.Join("; ", back.Issues)}");
            count++;
        }
        Assert.True(count > 30);
        var sex = FhirJsonSerializer.Serialize(TerminologyResources.ToCodeSystem(Tx.GetCodeSystem(CnTerminology.Sex)!));
        Assert.Contains("\"display\":\"男性\"", sex);
        Assert.Contains("\"designation\":[{\"language\":\"en\",\"value\":\"Male\"}]", sex);
    }
}

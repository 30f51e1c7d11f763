using System.Text;
using FhirArchive.Archive.Consent;
using FhirArchive.Archive.Masking;
using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using Xunit;

namespace FhirArchive.Archive.Tests.Masking;

/// <summary>The masking functions on their own: each kind of value, short values, non-ASCII, empty.</summary>
public sealed class MasksTests
{
    [Theory]
    [InlineData("110105198006153710", "110105********3710")]
    [InlineData("11010519800615371X", "110105********371X")]
    [InlineData("1101051234", "11****1234")]   // too short for 6+4: the head is given up first, 4 always hidden
    [InlineData("12345", "****5")]
    [InlineData("1234", "****")]
    [InlineData("", "")]
    public void An_id_card_keeps_its_division_code_and_last_four(string value, string masked) => Assert.Equal(masked, Masks.IdCard(value));

    [Theory]
    [InlineData("13812341234", "138****1234")]
    [InlineData("010-65123456", "010*****3456")]
    [InlineData("+8613812341234", "+86*******1234")]
    [InlineData("123456", "****56")]
    [InlineData("12", "**")]
    [InlineData("", "")]
    public void A_phone_keeps_its_first_three_and_last_four(string value, string masked) => Assert.Equal(masked, Masks.Phone(value));

    [Theory]
    [InlineData("AZ20240317", "******0317")]
    [InlineData("50010120261200001", "*************0001")]
    [InlineData("病案号甲乙丙丁戊", "****乙丙丁戊")]
    [InlineData("丁戊", "**")]
    [InlineData("𠀀𠀁𠀂𠀃𠀄", "****𠀄")] // surrogate pairs count as one character each, never split
    [InlineData(null, "")]
    public void Another_identifier_keeps_its_last_four(string? value, string masked) => Assert.Equal(masked, Masks.Identifier(value));

    [Theory]
    [InlineData("张伟", "张*")]
    [InlineData("欧阳娜娜", "欧***")]
    [InlineData("李", "*")]
    [InlineData("Zhang Wei", "Z********")]
    [InlineData("", "")]
    public void A_name_keeps_its_first_character(string value, string masked) => Assert.Equal(masked, Masks.Name(value));

    [Fact]
    public void An_address_line_is_hidden_without_its_length()
    {
        Assert.Equal("***", Masks.AddressLine("建国路88号院3号楼2单元501"));
        Assert.Equal("***", Masks.AddressLine("1"));
        Assert.Equal("", Masks.AddressLine(""));
    }

    [Fact]
    public void Free_text_masks_the_id_card_and_mobile_numbers_written_in_it_and_keeps_the_rest()
    {
        Assert.Equal("居民110105********3710，电话138****1234，血压128/80。",
            Masks.FreeText("居民110105198006153710，电话13812341234，血压128/80。"));
        // Longer digit runs are no phone or ID card; a 17-digit record number is no ID card either.
        Assert.Equal("No. 50010120261200001 and 123456789012345678901", Masks.FreeText("No. 50010120261200001 and 123456789012345678901"));
        Assert.Equal("", Masks.FreeText(""));
    }
}

/// <summary>Who sees full values (<see cref="MaskingRule"/>), role by role and relationship by relationship.</summary>
public sealed class MaskingRuleTests
{
    private const string Holder = "Organization/holder";
    private const string Other = "Organization/other";
    private static readonly RecordFacts Record = new("p", true, Holder, ["Practitioner/fd"], false, new DateOnly(1950, 3, 4));
    private static readonly MaskingRule Rule = new(new ConsentDecision(new ConsentOptions { PlatformClients = ["platform"] }));

    private static Caller Person(string role, string? org = null, string? practitioner = null, string? patient = null) =>
        new(CallerKind.Person, "u", null, new HashSet<string> { role }, [], org, practitioner, patient);

    public static TheoryData<string, Caller, MaskView> Callers => new()
    {
        { "the server", Caller.Server, MaskView.Full },
        { "holder clinician", Person(Roles.Clinician, Holder, "Practitioner/c"), MaskView.Full },
        { "holder family doctor", Person(Roles.FamilyDoctor, Holder, "Practitioner/x"), MaskView.Full },
        { "holder system client", new Caller(CallerKind.System, "his", null, new HashSet<string> { Roles.SystemClient }, [], Holder, ClientId: "his"), MaskView.Full },
        { "signed family doctor elsewhere", Person(Roles.FamilyDoctor, Other, "Practitioner/fd"), MaskView.Full },
        { "holder record administrator", Person(Roles.RecordAdministrator, Holder), MaskView.Full },
        { "record administrator elsewhere", Person(Roles.RecordAdministrator, Other), MaskView.Masked },
        { "record administrator of no institution", Person(Roles.RecordAdministrator), MaskView.MaskedBirthYear },
        { "the resident", Person(Roles.Resident, patient: "Patient/p"), MaskView.Full },
        { "the guardian", Person(Roles.Guardian, patient: "Patient/p", practitioner: "RelatedPerson/g"), MaskView.Full },
        { "the platform's client", new Caller(CallerKind.System, "platform", null, new HashSet<string> { Roles.SystemClient }, [], ClientId: "platform"), MaskView.Full },
        { "another resident", Person(Roles.Resident, patient: "Patient/q"), MaskView.MaskedBirthYear },
        { "clinician elsewhere (authorised or off-site)", Person(Roles.Clinician, Other, "Practitioner/o"), MaskView.Masked },
        { "other system client", new Caller(CallerKind.System, "his2", null, new HashSet<string> { Roles.SystemClient }, [], Other, ClientId: "his2"), MaskView.Masked },
        { "public-health officer", Person(Roles.PublicHealthOfficer), MaskView.MaskedBirthYear },
        { "health-administration officer", Person(Roles.HealthAdministrationOfficer), MaskView.Deidentified },
        { "mental-health staff", Person(Roles.MentalHealthStaff), MaskView.MaskedBirthYear },
        { "auditor", Person(Roles.Auditor), MaskView.MaskedBirthYear },
        { "researcher", Person(Roles.Researcher), MaskView.Deidentified },
    };

    [Theory]
    [MemberData(nameof(Callers))]
    public void Each_role_sees_the_record_s_values_as_the_rule_says(string who, Caller caller, MaskView view) =>
        Assert.True(view == Rule.ViewOf(caller, [Record], null), who);

    [Fact]
    public void A_resource_of_several_records_is_full_only_when_every_record_is()
    {
        var elsewhere = Record with { PatientId = "q", ManagingOrganization = Other, FamilyDoctors = [] };
        Assert.Equal(MaskView.Masked, Rule.ViewOf(Person(Roles.Clinician, Holder, "Practitioner/c"), [Record, elsewhere], null));
        Assert.Equal(MaskView.Full, Rule.ViewOf(Person(Roles.Clinician, Holder, "Practitioner/c"), [Record, Record], null));
    }

    [Fact]
    public void Data_of_no_record_is_full_only_for_the_institution_that_wrote_it()
    {
        Assert.Equal(MaskView.Full, Rule.ViewOf(Person(Roles.Clinician, Other, "Practitioner/o"), [], Other));
        Assert.Equal(MaskView.Masked, Rule.ViewOf(Person(Roles.Clinician, Other, "Practitioner/o"), [], Holder));
        Assert.Equal(MaskView.Masked, Rule.ViewOf(Person(Roles.Clinician, Other, "Practitioner/o"), [RecordFacts.Missing("p")], null));
    }
}

/// <summary>The masker on resources: every identifying element by its data type, nested resources, Binary content.</summary>
public sealed class PersonDataMaskerTests
{
    private static ElementNode Parse(string json) => FhirFormats.ParseStored(Encoding.UTF8.GetBytes(json));

    private const string Patient = """
        {"resourceType":"Patient","id":"p","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">张伟 110105198006153710 13812341234</div>"},
         "identifier":[{"system":"urn:oid:2.16.156.10011.1.3","value":"110105198006153710"},{"system":"http://fhirarchive.cn/fhir/sid/mrn/x","value":"AZ20240317"}],
         "name":[{"text":"张伟","family":"张","given":["伟"]}],
         "telecom":[{"system":"phone","value":"13812341234"},{"system":"email","value":"zw@example.cn"}],
         "birthDate":"1980-06-15",
         "address":[{"text":"北京市朝阳区建国路88号","line":["建国路88号"],"city":"北京市","district":"朝阳区","postalCode":"100022",
           "extension":[{"url":"http://fhirarchive.cn/fhir/StructureDefinition/cn-division-code","valueCoding":{"system":"http://fhirarchive.cn/fhir/CodeSystem/gbt-2260-admin-division","code":"110105001","display":"建外街道"}}]}],
         "photo":[{"contentType":"image/png","data":"iVBORw0KGgo="}],
         "contact":[{"name":{"text":"李娜"},"telecom":[{"system":"phone","value":"13900001111"}]}]}
        """;

    [Fact]
    public void A_patient_s_identifiers_phones_address_photo_and_narrative_are_masked_and_names_kept()
    {
        var node = Parse(Patient);
        var r = PersonDataMasker.Mask(node, MaskView.Masked);
        Assert.True(r.Masked);
        Assert.False(r.Withheld);
        var json = Encoding.UTF8.GetString(FhirJsonSerializer.SerializeToUtf8Bytes(node));
        Assert.Equal(["110105********3710", "******0317"], node.ChildrenNamed("identifier").Select(i => i.Child("value")!.Value));
        Assert.Equal(["138****1234", "*********e.cn"], node.ChildrenNamed("telecom").Select(i => i.Child("value")!.Value));
        var address = node.Child("address")!;
        Assert.Equal("***", address.Child("line")!.Value);
        Assert.Equal("北京市朝阳区***", address.Child("text")!.Value);
        Assert.Null(address.Child("postalCode"));
        Assert.Contains("\"code\":\"110105\"", json);
        Assert.DoesNotContain("建外街道", json);
        Assert.Equal("139****1111", node.Child("contact")!.Child("telecom")!.Child("value")!.Value);
        Assert.Null(node.Child("photo"));
        Assert.Null(node.Child("text"));
        Assert.Equal("张伟", node.Child("name")!.Child("text")!.Value);
        Assert.Equal("李娜", node.Child("contact")!.Child("name")!.Child("text")!.Value);
        foreach (var clear in new[] { "110105198006153710", "13812341234", "13900001111", "AZ20240317", "建国路88号", "zw@example.cn" })
            Assert.DoesNotContain(clear, json);
    }

    [Fact]
    public void The_deidentified_view_masks_names_and_the_birth_date_to_its_year_and_the_full_view_changes_nothing()
    {
        var node = Parse(Patient);
        PersonDataMasker.Mask(node, MaskView.Deidentified);
        Assert.Equal("张*", node.Child("name")!.Child("text")!.Value);
        Assert.Equal("*", node.Child("name")!.Child("given")!.Value);
        Assert.Equal("李*", node.Child("contact")!.Child("name")!.Child("text")!.Value);
        Assert.Equal("1980", node.Child("birthDate")!.Value);
        var masked = Parse(Patient);
        PersonDataMasker.Mask(masked, MaskView.Masked);
        Assert.Equal("1980-06-15", masked.Child("birthDate")!.Value);
        var oversight = Parse(Patient);
        PersonDataMasker.Mask(oversight, MaskView.MaskedBirthYear);
        Assert.Equal("1980", oversight.Child("birthDate")!.Value);
        Assert.Equal("张伟", oversight.Child("name")!.Child("text")!.Value);
        var full = Parse(Patient);
        Assert.False(PersonDataMasker.Mask(full, MaskView.Full).Changed);
        Assert.Equal("110105198006153710", full.Child("identifier")!.Child("value")!.Value);
    }

    [Fact]
    public void Nested_patients_references_by_identifier_and_free_text_of_any_resource_are_masked()
    {
        var bundle = Parse($$$"""
            {"resourceType":"Bundle","type":"document","entry":[{"fullUrl":"urn:uuid:1","resource":{{{Patient}}}},
              {"fullUrl":"urn:uuid:2","resource":{"resourceType":"Observation","status":"final","code":{"text":"随访"},
                "contained":[{"resourceType":"RelatedPerson","id":"rp","patient":{"reference":"Patient/p"},"telecom":[{"system":"phone","value":"13700002222"}]}],
                "subject":{"identifier":{"system":"urn:oid:2.16.156.10011.1.3","value":"110105198006153710"},"display":"张伟 13812341234"},
                "note":[{"text":"家属电话13600003333，已随访"}]}}]}
            """);
        Assert.True(PersonDataMasker.Mask(bundle, MaskView.Masked).Masked);
        var json = Encoding.UTF8.GetString(FhirJsonSerializer.SerializeToUtf8Bytes(bundle));
        foreach (var clear in new[] { "110105198006153710", "13812341234", "13700002222", "13600003333" }) Assert.DoesNotContain(clear, json);
        Assert.Contains("家属电话136****3333，已随访", json);
        Assert.Contains("137****2222", json);
        Assert.Contains("\"display\":\"张伟 138****1234\"", json);
    }

    [Fact]
    public void Binary_content_is_masked_when_it_is_fhir_or_text_and_withheld_when_opaque()
    {
        string B64(string s) => Convert.ToBase64String(Encoding.UTF8.GetBytes(s));
        var fhir = Parse($$$"""{"resourceType":"Binary","contentType":"application/fhir+json","data":"{{{B64(Patient)}}}"}""");
        Assert.True(PersonDataMasker.Mask(fhir, MaskView.Masked).Masked);
        var content = Encoding.UTF8.GetString(Convert.FromBase64String(fhir.Child("data")!.Value!));
        Assert.Contains("110105********3710", content);
        Assert.DoesNotContain("110105198006153710", content);

        var text = Parse($$$"""{"resourceType":"Binary","contentType":"text/plain; charset=utf-8","data":"{{{B64("出院小结：电话13812341234")}}}"}""");
        Assert.True(PersonDataMasker.Mask(text, MaskView.Masked).Masked);
        Assert.Equal("出院小结：电话138****1234", Encoding.UTF8.GetString(Convert.FromBase64String(text.Child("data")!.Value!)));

        var pdf = Parse("""{"resourceType":"Binary","contentType":"application/pdf","data":"JVBERi0xLjQ="}""");
        var r = PersonDataMasker.Mask(pdf, MaskView.Masked);
        Assert.True(r.Withheld);
        Assert.Null(pdf.Child("data"));
    }

    [Fact]
    public void Inline_attachment_data_is_masked_when_text_or_fhir_and_withheld_when_opaque()
    {
        string B64(string s) => Convert.ToBase64String(Encoding.UTF8.GetBytes(s));
        var json = $$$"""
            {"resourceType":"DocumentReference","status":"current","content":[
              {"attachment":{"contentType":"text/plain","data":"{{{B64("出院小结：电话13812341234")}}}"}},
              {"attachment":{"contentType":"application/fhir+json","data":"{{{B64(Patient)}}}"}},
              {"attachment":{"contentType":"application/pdf","data":"JVBERi0xLjQ=","title":"scan"}}]}
            """;
        Assert.True(PersonDataMasker.MayHold("DocumentReference", Encoding.UTF8.GetBytes(json)));
        var doc = Parse(json);
        var r = PersonDataMasker.Mask(doc, MaskView.Masked);
        Assert.True(r.Masked);
        Assert.True(r.Withheld);
        var attachments = doc.ChildrenNamed("content").Select(c => c.Child("attachment")!).ToList();
        Assert.Equal("出院小结：电话138****1234", Encoding.UTF8.GetString(Convert.FromBase64String(attachments[0].Child("data")!.Value!)));
        var patient = Encoding.UTF8.GetString(Convert.FromBase64String(attachments[1].Child("data")!.Value!));
        Assert.Contains("110105********3710", patient);
        Assert.DoesNotContain("110105198006153710", patient);
        Assert.Null(attachments[2].Child("data"));
        Assert.Equal("scan", attachments[2].Child("title")!.Value);
    }

    [Fact]
    public void A_choice_typed_attachment_is_masked_or_withheld_as_any_attachment()
    {
        string B64(string s) => Convert.ToBase64String(Encoding.UTF8.GetBytes(s));
        // Observation.valueAttachment (as R5 has it) and in a component, an extension's valueAttachment (on the resource, on
        // a primitive, on a Reference); the JSON in the stored (canonical) order, as ParseStored reads it.
        var json = $$$"""
            {"resourceType":"Observation",
             "extension":[{"url":"http://example.org/x","valueAttachment":{"contentType":"text/plain","data":"{{{B64("家属电话13700002222")}}}"}}],
             "status":"final","_status":{"extension":[{"url":"http://example.org/s","valueAttachment":{"contentType":"application/pdf","data":"JVBERi0xLjQ="}}]},
             "code":{"text":"scan"},
             "subject":{"extension":[{"url":"http://example.org/r","valueAttachment":{"contentType":"image/png","data":"iVBORw0KGgo="}}],"identifier":{"value":"x"}},
             "valueAttachment":{"contentType":"application/pdf","data":"JVBERi0xLjQ=","title":"report 13812341234"},
             "component":[{"code":{"text":"c"},"valueAttachment":{"contentType":"text/plain","data":"{{{B64("身份证110105198006153710")}}}"}}]}
            """;
        Assert.True(PersonDataMasker.MayHold("Observation", Encoding.UTF8.GetBytes(json)));
        var observation = Parse(json);
        var r = PersonDataMasker.Mask(observation, MaskView.Masked);
        Assert.True(r.Masked);
        Assert.True(r.Withheld);
        // R4's Observation.value[x] has no Attachment (R5's has): kept verbatim as unknown content, it is withheld whole.
        Assert.Null(observation.Child("valueAttachment"));
        Assert.Null(observation.Child("component")!.Child("valueAttachment"));
        var shown = Encoding.UTF8.GetString(FhirJsonSerializer.SerializeToUtf8Bytes(observation));
        foreach (var clear in new[] { "JVBERi0xLjQ=", "iVBORw0KGgo=", "13812341234", "13700002222" }) Assert.DoesNotContain(clear, shown);
        var extension = observation.Child("extension")!.Child("value")!;
        Assert.Equal("家属电话137****2222", Encoding.UTF8.GetString(Convert.FromBase64String(extension.Child("data")!.Value!)));
        // On a primitive (_status) and on a Reference: extensions are walked wherever they are.
        Assert.Null(observation.Child("status")!.Child("extension")!.Child("value")!.Child("data"));
        Assert.Null(observation.Child("subject")!.Child("extension")!.Child("value")!.Child("data"));
    }

    [Theory]
    [InlineData("电话138 1234 5678。", "电话138******5678。")]
    [InlineData("电话138-1234-5678。", "电话138******5678。")]
    [InlineData("电话+8613812345678", "电话+86*******5678")]
    [InlineData("电话+86 138 1234 5678", "电话+86**********5678")]
    [InlineData("电话0086-13812345678", "电话008*********5678")]
    [InlineData("座机010-12345678", "座机010*****5678")]
    [InlineData("座机(0571)8765432", "座机(05******5432")]
    [InlineData("座机0571-87654321-123", "座机057**********-123")]
    [InlineData("座机 0571 87654321", "座机 057******4321")]
    [InlineData("座机(0571) 8765432", "座机(05*******5432")]
    [InlineData("旧身份证110105800615371", "旧身份证110105*****5371")]
    [InlineData("身份证11010519800615371X号", "身份证110105********371X号")]
    [InlineData("身份证11010519800615371x", "身份证110105********371x")]
    public void Free_text_masks_separated_prefixed_and_landline_phones_and_old_and_x_id_cards(string text, string masked) =>
        Assert.Equal(masked, Masks.FreeText(text));

    [Theory]
    [InlineData("复查日期2024-01-02 10:30，2024-01-02至2024-03-15")]
    [InlineData("住址邮编100020，血压128/80 mmHg，体重70.5 kg")]
    [InlineData("LOINC 8302-2 与 29463-7，8480-6")]
    [InlineData("血糖 5.6 mmol/L，计数 1234567 次，金额 12,345,678.90 元")]
    [InlineData("记录号 50010120261200001，订单 123456789012345")] // 15 digits that are no date of birth: no old ID card
    public void Free_text_leaves_dates_postal_codes_codes_and_quantities_alone(string text) => Assert.Equal(text, Masks.FreeText(text));

    [Fact]
    public void A_separated_phone_in_stored_bytes_is_worth_parsing()
    {
        Assert.True(PersonDataMasker.MayHold("Observation", """{"resourceType":"Observation","note":[{"text":"电话138 1234 5678"}]}"""u8));
        Assert.True(PersonDataMasker.MayHold("Observation", """{"resourceType":"Observation","note":[{"text":"座机(0571)8765432"}]}"""u8));
        Assert.False(PersonDataMasker.MayHold("Observation", """{"resourceType":"Observation","effectiveDateTime":"2026-11-01T09:00:00+08:00","valueQuantity":{"value":128}}"""u8));
    }

    [Fact]
    public void A_resource_with_nothing_to_mask_is_told_from_its_bytes()
    {
        Assert.False(PersonDataMasker.MayHold("Observation", """{"resourceType":"Observation","valueQuantity":{"value":128}}"""u8));
        Assert.True(PersonDataMasker.MayHold("Observation", """{"resourceType":"Observation","note":[{"text":"13812341234"}]}"""u8));
        Assert.True(PersonDataMasker.MayHold("Patient", """{"resourceType":"Patient"}"""u8));
    }
}

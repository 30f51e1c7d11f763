using System.Text.Json.Nodes;
using FhirArchive.Fhir.Outcomes;
using FhirArchive.Fhir.Serialization;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Fhir.Validation;
using Xunit;

namespace FhirArchive.Fhir.Tests.Validation;

/// <summary>
/// The profile rules behind the HL7 validator cases that agree since the validation work of issue 5: each with a
/// minimal profile (a differential, its snapshot generated) and an instance that meets it and one that does not.
/// </summary>
public class ProfileRuleTests
{
    private static readonly FhirJsonParser Json = new(ParserOptions.Strict);
    private const string Base = "http://example.cn/fhir/StructureDefinition/";

    /// <summary>Profiles from differentials: (url tail, type, differential elements as JSON); each may build on the others.</summary>
    private static Dictionary<string, StructureProfile> Profiles(params (string Name, string Type, string Elements)[] defs)
    {
        var sources = defs.ToDictionary(d => Base + d.Name, d => (JsonObject)JsonNode.Parse($$"""
            {"resourceType":"StructureDefinition","url":"{{Base + d.Name}}","name":"{{d.Name}}","status":"draft","kind":"resource","abstract":false,
             "type":"{{d.Type}}","derivation":"constraint","baseDefinition":"http://hl7.org/fhir/StructureDefinition/{{d.Type}}",
             "differential":{"element":[{{d.Elements}}]} }
            """)!);
        SnapshotGenerator? generator = null;
        generator = new SnapshotGenerator(url => sources.TryGetValue(url, out var sd) ? generator!.Generate(sd) : OfficialProfiles.Json(url));
        return sources.ToDictionary(s => s.Key, s => StructureProfile.Load(new FhirJsonParser(ParserOptions.Lenient).Parse(generator.Generate(s.Value).ToJsonString()).Resource!));
    }

    private static ValidationSettings Settings(Dictionary<string, StructureProfile> profiles) => new()
    {
        ResolveProfile = url => profiles.GetValueOrDefault(url.Split('|')[0]) ?? OfficialProfiles.Find(url),
        CodeInValueSet = (vs, system, code) => vs == "http://example.cn/fhir/ValueSet/age-units" ? system == "http://unitsofmeasure.org" && code is "a" or "mo" : null,
    };

    /// <summary>The errors of an instance claiming profile <paramref name="name"/> (the walk the server runs).</summary>
    private static List<FhirIssue> Errors(Dictionary<string, StructureProfile> profiles, string name, string resourceJson)
    {
        var node = JsonNode.Parse(resourceJson)!.AsObject();
        node["meta"] = new JsonObject { ["profile"] = new JsonArray(Base + name) };
        return new InstanceValidator(Settings(profiles)).Validate(Json.Parse(node.ToJsonString()).GetResourceOrThrow()).Where(i => i.IsError).ToList();
    }

    private static List<FhirIssue> Errors(string resourceJson, ValidationSettings? settings = null) =>
        new InstanceValidator(settings).Validate(Json.Parse(resourceJson).GetResourceOrThrow()).Where(i => i.IsError).ToList();

    [Fact]
    public void A_profile_invariant_is_evaluated()
    {
        var p = Profiles(("named", "Patient", """
            {"id":"Patient.name","path":"Patient.name","constraint":[{"key":"cn-name-1","severity":"error","human":"a family name","expression":"family.exists()"}]}
            """));
        Assert.Empty(Errors(p, "named", """{"resourceType":"Patient","name":[{"family":"张"}]}"""));
        Assert.Contains(Errors(p, "named", """{"resourceType":"Patient","name":[{"given":["伟"]}]}"""), i => i.Message.StartsWith("cn-name-1") && i.Location == "Patient.name[0]");
    }

    [Fact]
    public void An_invariant_on_a_resource_inside_the_profiled_one_sees_the_profiled_one_as_resource()
    {
        var p = Profiles(("bundle", "Bundle", """
            {"id":"Bundle.entry.resource","path":"Bundle.entry.resource","constraint":[{"key":"b-1","severity":"error","human":"context","expression":"%resource.type().name = 'Bundle' and %context.type().name = 'Patient'"}]}
            """));
        const string bundle = """{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0","resource":{"resourceType":"Patient"}}]}""";
        Assert.Empty(Errors(p, "bundle", bundle));
        Assert.NotEmpty(Errors(p, "bundle", bundle.Replace("Patient", "Basic").Replace("\"Basic\"}", "\"Basic\",\"code\":{\"text\":\"x\"}}")));
    }

    [Fact]
    public void Several_profiles_of_one_type_are_alternatives()
    {
        var p = Profiles(
            ("address-use", "Address", """{"id":"Address.use","path":"Address.use","min":1}"""),
            ("address-type", "Address", """{"id":"Address.type","path":"Address.type","min":1}"""),
            ("either", "Patient", $$"""{"id":"Patient.address","path":"Patient.address","type":[{"code":"Address","profile":["{{Base}}address-use","{{Base}}address-type"]}]}"""));
        Assert.Empty(Errors(p, "either", """{"resourceType":"Patient","address":[{"use":"home","city":"重庆"}]}"""));
        Assert.Empty(Errors(p, "either", """{"resourceType":"Patient","address":[{"type":"postal","city":"重庆"}]}"""));
        Assert.Contains(Errors(p, "either", """{"resourceType":"Patient","address":[{"city":"重庆"}]}"""), i => i.Message.Contains("none of the profiles"));
    }

    [Fact]
    public void Min_and_max_values_hold_numbers_and_quantities_after_unit_conversion()
    {
        var p = Profiles(("weight", "Observation", """
            {"id":"Observation.value[x]","path":"Observation.value[x]","type":[{"code":"Quantity"}]},
            {"id":"Observation.valueQuantity","path":"Observation.valueQuantity","minValueQuantity":{"value":0,"system":"http://unitsofmeasure.org","code":"kg"},
             "maxValueQuantity":{"value":200,"system":"http://unitsofmeasure.org","code":"kg"}}
            """), ("births", "Patient", """{"id":"Patient.multipleBirth[x]","path":"Patient.multipleBirth[x]","maxValueInteger":9}"""));
        string Weight(string value, string code) => $$"""{"resourceType":"Observation","status":"final","code":{"text":"体重"},"valueQuantity":{"value":{{value}},"system":"http://unitsofmeasure.org","code":"{{code}}"} }""";
        Assert.Empty(Errors(p, "weight", Weight("150000", "g")));
        Assert.Contains(Errors(p, "weight", Weight("-1", "g")), i => i.Message.Contains("less than"));
        Assert.Contains(Errors(p, "weight", Weight("250", "kg")), i => i.Message.Contains("greater than"));
        Assert.Empty(Errors(p, "births", """{"resourceType":"Patient","multipleBirthInteger":2}"""));
        Assert.Contains(Errors(p, "births", """{"resourceType":"Patient","multipleBirthInteger":12}"""), i => i.Message.Contains("greater than"));
    }

    [Fact]
    public void String_lengths_hold_maxLength_and_the_minLength_extension()
    {
        var p = Profiles(("short-family", "Patient", """
            {"id":"Patient.name.family","path":"Patient.name.family","maxLength":4,
             "extension":[{"url":"http://hl7.org/fhir/StructureDefinition/minLength","valueInteger":2}]}
            """));
        string Family(string f) => $$"""{"resourceType":"Patient","name":[{"family":"{{f}}"}]}""";
        Assert.Empty(Errors(p, "short-family", Family("欧阳")));
        Assert.Contains(Errors(p, "short-family", Family("Zhang")), i => i.Message.Contains("maximum length of 4"));
        Assert.Contains(Errors(p, "short-family", Family("Z")), i => i.Message.Contains("minimum length of 2"));
    }

    [Fact]
    public void A_value_the_profile_requires_cannot_be_replaced_by_extensions_it_does_not_allow()
    {
        var p = Profiles(
            ("active-value", "Patient", """{"id":"Patient.active","path":"Patient.active","min":1,"extension":[{"url":"http://hl7.org/fhir/5.0/StructureDefinition/extension-ElementDefinition.mustHaveValue","valueBoolean":true}]}"""),
            ("active-or-absent", "Patient", """{"id":"Patient.active","path":"Patient.active","min":1,"extension":[{"url":"http://hl7.org/fhir/5.0/StructureDefinition/extension-ElementDefinition.valueAlternatives","valueCanonical":"http://hl7.org/fhir/StructureDefinition/data-absent-reason"}]}"""));
        const string absent = """{"resourceType":"Patient","_active":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason","valueCode":"unknown"}]}}""";
        const string masked = """{"resourceType":"Patient","_active":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/iso21090-nullFlavor","valueCode":"MSK"}]}}""";
        Assert.Empty(Errors(p, "active-value", """{"resourceType":"Patient","active":true}"""));
        Assert.Contains(Errors(p, "active-value", absent), i => i.Message.Contains("must have a value"));
        Assert.Empty(Errors(p, "active-or-absent", absent));
        Assert.Contains(Errors(p, "active-or-absent", masked), i => i.Message.Contains("must stand in"));
    }

    [Fact]
    public void A_slice_can_take_its_rules_from_an_element_of_another_profile()
    {
        var p = Profiles(
            ("sections", "Composition", """
                {"id":"Composition.section","path":"Composition.section","slicing":{"discriminator":[{"type":"pattern","path":"code"}],"rules":"open"}},
                {"id":"Composition.section:vitals","path":"Composition.section","sliceName":"vitals"},
                {"id":"Composition.section:vitals.code","path":"Composition.section.code","min":1,"patternCodeableConcept":{"coding":[{"system":"http://loinc.org","code":"8716-3"}]}}
                """),
            ("document", "Composition", $$"""
                {"id":"Composition.section","path":"Composition.section","slicing":{"discriminator":[{"type":"pattern","path":"code"}],"rules":"open"} },
                {"id":"Composition.section:v","path":"Composition.section","sliceName":"v","min":1,"type":[{"code":"BackboneElement","profile":["{{Base}}sections"],
                 "_profile":[{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/elementdefinition-profile-element","valueString":"Composition.section:vitals"}]}]}]}
                """));
        string Doc(string code) => $$"""
            {"resourceType":"Composition","status":"final","type":{"text":"t"},"date":"2026-12-01","author":[{"display":"a"}],"title":"t",
             "section":[{"title":"s","code":{"coding":[{"system":"http://loinc.org","code":"{{code}}"}]},"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"} }]}
            """;
        Assert.Empty(Errors(p, "document", Doc("8716-3")));
        Assert.Contains(Errors(p, "document", Doc("11369-6")), i => i.Location == "Composition.section:v" && i.Code == "required");
    }

    [Fact]
    public void A_bound_quantity_is_bound_by_its_unit()
    {
        var p = Profiles(("age", "Observation", """
            {"id":"Observation.value[x]","path":"Observation.value[x]","type":[{"code":"Quantity"}]},
            {"id":"Observation.valueQuantity","path":"Observation.valueQuantity","binding":{"strength":"required","valueSet":"http://example.cn/fhir/ValueSet/age-units"}}
            """));
        string Age(string code) => $$"""{"resourceType":"Observation","status":"final","code":{"text":"年龄"},"valueQuantity":{"value":3,"system":"http://unitsofmeasure.org","code":"{{code}}"} }""";
        Assert.Empty(Errors(p, "age", Age("a")));
        Assert.Contains(Errors(p, "age", Age("m")), i => i.Code == "code-invalid");
    }

    [Fact]
    public void A_coding_system_is_an_absolute_uri()
    {
        string Obs(string system) => $$"""{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"{{system}}","code":"x"}]} }""";
        Assert.Empty(Errors(Obs("http://loinc.org")));
        Assert.Contains(Errors(Obs("Location1")), i => i.Location == "Observation.code.coding[0].system");
    }

    [Fact]
    public void Uuid_uris_are_lowercase_and_well_formed()
    {
        string Patient(string uri) => $$"""{"resourceType":"Patient","identifier":[{"system":"{{uri}}","value":"1"}]}""";
        Assert.Empty(Errors(Patient("urn:uuid:68d043b5-9ecf-4559-a57a-396e0d452311")));
        Assert.NotEmpty(Errors(Patient("urn:uuid:68D043B5-9ECF-4559-A57A-396E0D452311")));
        Assert.NotEmpty(Errors(Patient("urn:uuid:68d043b5-9ecf-4559-a57a-396e0d452311x")));
    }

    [Fact]
    public void Strings_are_capped_at_one_megabyte_but_binary_data_is_not()
    {
        var big = new string('a', 1024 * 1024 + 1);
        Assert.Contains(Errors($$"""{"resourceType":"Patient","name":[{"text":"{{big}}"}]}"""), i => i.Code == "too-long");
        var data = Convert.ToBase64String(new byte[800_000]);
        Assert.DoesNotContain(Errors($$"""{"resourceType":"Patient","photo":[{"contentType":"image/png","data":"{{data}}"}]}"""), i => i.Code == "too-long");
    }

    [Fact]
    public void A_complex_extension_takes_only_the_parts_it_defines()
    {
        string Animal(string part) => $$"""{"resourceType":"Patient","extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-animal","extension":[{"url":"{{part}}","valueCodeableConcept":{"text":"狗"} }]}]}""";
        Assert.Empty(Errors(Animal("species")));
        Assert.Contains(Errors(Animal("species-x")), i => i.Message.Contains("no part 'species-x'"));
    }

    [Fact]
    public void A_differential_id_that_disagrees_with_its_path_gives_way_to_the_path()
    {
        // The id says "a slice of effective[x]", the path says "the extensions of effective[x]" (a choice of several types).
        var p = Profiles(("statement", "MedicationStatement", """
            {"id":"MedicationStatement.effective[x]","path":"MedicationStatement.effective[x]","min":1},
            {"id":"MedicationStatement.effective[x]:absent","path":"MedicationStatement.effective[x].extension","max":"1",
             "type":[{"code":"Extension","profile":["http://hl7.org/fhir/StructureDefinition/data-absent-reason"]}]}
            """));
        var effective = p[Base + "statement"].Element("MedicationStatement.effective[x]")!;
        Assert.Empty(effective.Slices);
        Assert.Contains(effective.Children, c => c.Id == "MedicationStatement.effective[x].extension" && c.Max == 1);
        Assert.Empty(Errors(p, "statement", """{"resourceType":"MedicationStatement","status":"active","medicationCodeableConcept":{"text":"m"},"subject":{"reference":"Patient/1"},"effectivePeriod":{"start":"2014"}}"""));
    }

    [Fact]
    public void Elements_inside_a_profiled_type_come_from_that_profile()
    {
        var p = Profiles(
            ("address-cn", "Address", """
                {"id":"Address.line.extension","path":"Address.line.extension","slicing":{"discriminator":[{"type":"value","path":"url"}],"rules":"open"}},
                {"id":"Address.line.extension:house","path":"Address.line.extension","sliceName":"house","type":[{"code":"Extension","profile":["http://hl7.org/fhir/StructureDefinition/iso21090-ADXP-houseNumber"]}]}
                """),
            ("org", "Organization", $$"""
                {"id":"Organization.address","path":"Organization.address","type":[{"code":"Address","profile":["{{Base}}address-cn"]}]},
                {"id":"Organization.address.line.extension:house","path":"Organization.address.line.extension","sliceName":"house","min":1}
                """));
        var house = p[Base + "org"].Element("Organization.address.line.extension:house")!;
        Assert.Equal(["http://hl7.org/fhir/StructureDefinition/iso21090-ADXP-houseNumber"], house.TypeProfiles);
        const string org = """{"resourceType":"Organization","name":"o","address":[{"line":["1号"],"_line":[{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/iso21090-ADXP-houseNumber","valueString":"1"}]}]}]}""";
        Assert.Empty(Errors(p, "org", org));
        Assert.Contains(Errors(p, "org", org.Replace("houseNumber", "streetName")), i => i.Code == "required");
    }

    [Fact]
    public void A_type_profile_that_is_not_known_is_an_error_outside_the_specifications_namespace()
    {
        var p = Profiles(
            ("unknown-address", "Patient", """{"id":"Patient.address","path":"Patient.address","type":[{"code":"Address","profile":["http://nobody.cn/StructureDefinition/address"]}]}"""),
            ("simple-quantity", "Observation", """{"id":"Observation.referenceRange.low","path":"Observation.referenceRange.low","type":[{"code":"Quantity","profile":["http://hl7.org/fhir/StructureDefinition/SimpleQuantity"]}]}"""));
        Assert.Contains(Errors(p, "unknown-address", """{"resourceType":"Patient","address":[{"city":"重庆"}]}"""), i => i.Message.Contains("is not known"));
        Assert.Empty(Errors(p, "simple-quantity", """{"resourceType":"Observation","status":"final","code":{"text":"x"},"referenceRange":[{"low":{"value":1}}]}"""));
    }

    [Fact]
    public void A_canonical_url_of_restful_form_names_an_allowed_type()
    {
        string Response(string q) => $$"""{"resourceType":"QuestionnaireResponse","questionnaire":"{{q}}","status":"in-progress"}""";
        Assert.Empty(Errors(Response("http://example.cn/fhir/Questionnaire/phq9")));
        Assert.Contains(Errors(Response("http://hl7.org/fhir/ValueSet/example-extensional")), i => i.Location == "QuestionnaireResponse.questionnaire");
    }

    [Fact]
    public void Narrative_language_sections_follow_the_profiles_control()
    {
        var p = Profiles(
            ("no-sections", "Patient", """{"id":"Patient.text","path":"Patient.text","extension":[{"url":"http://hl7.org/fhir/StructureDefinition/narrative-language-control","valueCode":"_no"}]}"""),
            ("resource-language", "Patient", """{"id":"Patient.text","path":"Patient.text","extension":[{"url":"http://hl7.org/fhir/StructureDefinition/narrative-language-control","valueCode":"_resource"}]}"""));
        string Patient(params string[] langs)
        {
            var sections = string.Concat(langs.Select(l => $"<div lang='{l}' xml:lang='{l}'>x</div>"));
            return $$"""{"resourceType":"Patient","language":"zh-CN","text":{"status":"generated","div":"<div xmlns='http://www.w3.org/1999/xhtml'>{{sections}}<p>x</p></div>"} }""";
        }
        Assert.Empty(Errors(p, "no-sections", Patient()));
        Assert.Contains(Errors(p, "no-sections", Patient("zh-CN", "en")), i => i.Message.Contains("prohibits"));
        Assert.Empty(Errors(p, "resource-language", Patient("zh-CN", "en")));
        Assert.Contains(Errors(p, "resource-language", Patient("en")), i => i.Message.Contains("(zh-CN)"));
    }

    [Fact]
    public void Example_domains_and_allowed_extension_domains()
    {
        string Patient(string url) => $$"""{"resourceType":"Patient","extension":[{"url":"{{url}}","valueString":"x"}]}""";
        var strict = new ValidationSettings { UnknownExtensions = IssueSeverity.Error };
        Assert.Empty(Errors(Patient("http://example.org/StructureDefinition/x"), strict));
        Assert.NotEmpty(Errors(Patient("https://example.com/StructureDefinition/x"), strict));
        Assert.Empty(Errors(Patient("https://partner.cn/fhir/StructureDefinition/x"), strict with { AllowedExtensionDomains = ["https://partner.cn/fhir/"] }));
        const string document = """{"resourceType":"DocumentReference","status":"current","content":[{"attachment":{"url":"http://repository.example.org/fhir/Binary/1"}}]}""";
        Assert.Empty(Errors(document));
        Assert.Contains(Errors(document, new ValidationSettings { RejectExampleUrls = true }), i => i.Message.Contains("Example URLs"));
    }

    [Fact]
    public void An_extension_in_a_profile_slice_is_checked_against_its_definition_once()
    {
        var p = Profiles(("born", "Patient", """
            {"id":"Patient.extension","path":"Patient.extension","slicing":{"discriminator":[{"type":"value","path":"url"}],"rules":"open"}},
            {"id":"Patient.extension:birthPlace","path":"Patient.extension","sliceName":"birthPlace","min":1,"type":[{"code":"Extension","profile":["http://hl7.org/fhir/StructureDefinition/patient-birthPlace"]}]}
            """));
        string Patient(string value) => $$"""{"resourceType":"Patient","extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthPlace",{{value}}}]}""";
        Assert.Empty(Errors(p, "born", Patient("\"valueAddress\":{\"city\":\"重庆\"}")));
        var errors = Errors(p, "born", Patient("\"valueString\":\"重庆\""));
        Assert.Single(errors, i => i.Location!.StartsWith("Patient.extension[0].value", StringComparison.Ordinal) && i.Message.Contains("not allowed"));
        // Outside the walk the profile check still looks at the extension's content itself.
        var resource = Json.Parse(Patient("\"valueString\":\"重庆\"")).GetResourceOrThrow();
        Assert.Contains(ProfileValidator.Validate(resource, p[Base + "born"], Settings(p)), i => i.Message.Contains("not allowed"));
    }

    [Fact]
    public void A_global_profile_holds_every_resource_of_its_type()
    {
        var p = Profiles(("named", "Patient", """{"id":"Patient.name","path":"Patient.name","min":1}"""));
        var settings = Settings(p) with { GlobalProfiles = new Dictionary<string, IReadOnlyList<string>> { ["Patient"] = [Base + "named"] } };
        Assert.Empty(Errors("""{"resourceType":"Patient","name":[{"family":"张"}]}""", settings));
        Assert.Contains(Errors("""{"resourceType":"Patient"}""", settings), i => i.Code == "required" && i.Location == "Patient.name");
        Assert.Empty(Errors("""{"resourceType":"Patient"}""", Settings(p)));
    }
}

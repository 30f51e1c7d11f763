using FhirArchive.Conformance;
using FhirArchive.Fhir.Outcomes;
using FhirArchive.Fhir.Serialization;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Fhir.Tests.Support;
using FhirArchive.Fhir.Validation;
using FhirArchive.Terminology;
using Xunit;

namespace FhirArchive.Fhir.Tests.Validation;

public class InstanceValidatorTests
{
    private static readonly FhirJsonParser Json = new(ParserOptions.Strict);

    // Structure and terminology in isolation; invariants have their own tests below.
    private static readonly InstanceValidator Validator = new(new ValidationSettings
    {
        CodeInValueSet = TerminologyService.Default.CodeInValueSet,
        EvaluateInvariants = false,
    });

    private static readonly InstanceValidator FullValidator = new(new ValidationSettings { CodeInValueSet = TerminologyService.Default.CodeInValueSet });

    private static IReadOnlyList<FhirIssue> Validate(string json) => Validator.Validate(Json.Parse(json).GetResourceOrThrow());

    [Fact]
    public void A_valid_resource_has_no_issues()
    {
        var issues = Validate("""
            {"resourceType":"Observation","status":"final","code":{"text":"体重"},"subject":{"reference":"Patient/1"},
             "valueQuantity":{"value":65.5,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}}
            """);
        Assert.Empty(issues);
    }

    [Fact]
    public void Missing_required_elements_are_errors_at_their_path()
    {
        var issues = Validate("""{"resourceType":"Observation","code":{"text":"t"},"component":[{"valueString":"x"}]}""");
        Assert.Contains(issues, i => i.IsError && i.Code == "required" && i.Location == "Observation.status");
        Assert.Contains(issues, i => i.IsError && i.Code == "required" && i.Location == "Observation.component[0].code");
    }

    [Fact]
    public void Required_bindings_reject_codes_outside_the_value_set()
    {
        var issues = Validate("""{"resourceType":"Patient","gender":"man","contact":[{"gender":"female"}]}""");
        var issue = Assert.Single(issues);
        Assert.Equal(("code-invalid", "Patient.gender"), (issue.Code, issue.Location));
        Assert.True(issue.IsError);
    }

    [Fact]
    public void Required_codeable_concepts_need_a_coding_from_the_value_set()
    {
        // AllergyIntolerance.clinicalStatus is bound (required) to allergyintolerance-clinical.
        const string cs = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical";
        static IReadOnlyList<FhirIssue> WithStatus(string status) =>
            Validate("""{"resourceType":"AllergyIntolerance","clinicalStatus":""" + status + ""","patient":{"reference":"Patient/1"}}""");
        Assert.Contains(WithStatus("""{"text":"活动"}"""), i => i.IsError && i.Location == "AllergyIntolerance.clinicalStatus");
        Assert.Contains(WithStatus($$"""{"coding":[{"system":"{{cs}}","code":"nope"}]}"""), i => i.IsError && i.Location == "AllergyIntolerance.clinicalStatus");
        Assert.Empty(WithStatus($$"""{"coding":[{"system":"http://example.org/local","code":"x"},{"system":"{{cs}}","code":"active"}]}"""));
    }

    [Fact]
    public void Extensible_bindings_warn_and_allow_text_alone()
    {
        // Consent.scope is bound (extensible) to consent-scope.
        static IReadOnlyList<FhirIssue> WithScope(string scope) =>
            Validate("""{"resourceType":"Consent","status":"active","category":[{"text":"c"}],"scope":""" + scope + "}");
        Assert.Empty(WithScope("""{"text":"治疗"}"""));
        var issue = Assert.Single(WithScope("""{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"nope"}]}"""));
        Assert.Equal((IssueSeverity.Warning, "Consent.scope"), (issue.Severity, issue.Location));
    }

    [Fact]
    public void References_must_point_to_an_allowed_type()
    {
        var issues = Validate("""{"resourceType":"Observation","status":"final","code":{"text":"t"},"subject":{"reference":"Medication/m1"}}""");
        var issue = Assert.Single(issues);
        Assert.Equal("Observation.subject.reference", issue.Location);
        Assert.Contains("Medication", issue.Message);

        // A full URL with a version, and a contained target, are typed as well.
        Assert.Empty(Validate("""{"resourceType":"Observation","status":"final","code":{"text":"t"},"subject":{"reference":"http://example.org/fhir/Patient/1/_history/2"}}"""));
        Assert.Single(Validate("""
            {"resourceType":"Patient","contained":[{"resourceType":"Practitioner","id":"d"}],"managingOrganization":{"reference":"#d"}}
            """), i => i.Location == "Patient.managingOrganization.reference");
        Assert.Empty(Validate("""
            {"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o"}],"managingOrganization":{"reference":"#o"}}
            """));
    }

    [Fact]
    public void Contained_resources_and_bundle_entries_are_validated_too()
    {
        var issues = Validate("""
            {"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Observation","code":{"text":"t"}}}]}
            """);
        Assert.Contains(issues, i => i.Location == "Bundle.entry[0].resource.status" && i.Code == "required");
    }

    [Fact]
    public void Invariants_go_through_the_callback_with_their_key_and_severity()
    {
        var seen = new List<string>();
        var validator = new InstanceValidator(new ValidationSettings
        {
            CheckInvariant = (node, c) =>
            {
                seen.Add($"{node.Location}:{c.Key}");
                return c.Key != "pat-1";
            },
        });
        var issues = validator.Validate(Json.Parse("""{"resourceType":"Patient","contact":[{"gender":"male"}]}""").GetResourceOrThrow());
        var issue = Assert.Single(issues);
        Assert.Equal(("invariant", "Patient.contact[0]", IssueSeverity.Error), (issue.Code, issue.Location, issue.Severity));
        Assert.StartsWith("pat-1:", issue.Message);
        Assert.Single(seen, s => s == "Patient:dom-2"); // each key once per node, type-level ones on the root
        Assert.Single(seen, s => s == "Patient.contact[0]:ele-1");
    }

    [Fact]
    public void Invariants_are_evaluated_with_fhirpath_by_default()
    {
        var issues = FullValidator.Validate(Json.Parse("""{"resourceType":"Patient","contact":[{"gender":"male"}]}""").GetResourceOrThrow());
        Assert.Contains(issues, i => i.IsError && i.Location == "Patient.contact[0]" && i.Message.StartsWith("pat-1:"));
        Assert.Contains(issues, i => i.Severity == IssueSeverity.Warning && i.Location == "Patient" && i.Message.StartsWith("dom-6:"));
        var fine = FullValidator.Validate(Json.Parse("""
            {"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">张三</div>"},
             "contact":[{"name":{"text":"李四"}}]}
            """).GetResourceOrThrow());
        Assert.Empty(fine);
    }

    /// <summary>
    /// Official examples that break the base rules checked here (bindings, cardinality, reference types),
    /// with the first error each gives. Found by this validator; each was checked against the specification.
    /// </summary>
    private static readonly Dictionary<string, string> KnownInvalidExamples = new()
    {
        ["DeviceMetric-example.json"] = "parent points to a DeviceDefinition; R4 allows Device only",
        ["DeviceUseStatement-example.json"] = "reasonReference points to a Procedure; R4 allows Condition, Observation, DiagnosticReport, DocumentReference, Media",
        ["ImplementationGuide-fhir.json"] = "no name (1..1)",
        ["ig-r4.json"] = "no name (1..1)",
        ["MedicationRequest-medrx0301.json"] = "dispenseRequest.performer points to a Practitioner; R4 allows Organization only",
        ["Observation-clinical-gender.json"] = "performer points to an Encounter",
        ["Questionnaire-qs1.json"] = "a nested item without linkId (1..1)",
        ["Questionnaire-bb.json"] = "que-7: enableWhen with operator 'exists' and a non-boolean answer",
        ["ActivityDefinition-blood-tubes-supply.json"] = "empty narrative (txt-1/txt-2 both evaluate htmlChecks())",
        ["ActivityDefinition-heart-valve-replacement.json"] = "empty narrative (htmlChecks())",
        ["EventDefinition-example.json"] = "empty narrative (htmlChecks())",
        ["Questionnaire-zika-virus-exposure-assessment.json"] = "narrative holds only an empty <pre> (htmlChecks())",
        ["Bundle-dataelements.json"] = "bdl-7: the same fullUrl twice",
        ["Bundle-10bb101f-a121-4264-a920-67be9cb82c74.json"] = "fullUrl .../Patient/pat12 on the resource Patient/pat2",
        ["Bundle-3a0707d3-549e-4467-b8b8-5a2ab3800efe.json"] = "fullUrl .../Patient/pat12 on the resource Patient/pat2",
        ["Bundle-lri-example.json"] = "fullUrl .../Observation/lri-gramstain1 on the resource Observation/gramstain1",
        ["StructureDefinition-Definition.json"] = "sdf-4: not abstract and no baseDefinition (a logical pattern)",
        ["StructureDefinition-Event.json"] = "sdf-4: not abstract and no baseDefinition (a logical pattern)",
        ["StructureDefinition-FiveWs.json"] = "sdf-4: not abstract and no baseDefinition (a logical pattern)",
        ["StructureDefinition-Request.json"] = "sdf-4: not abstract and no baseDefinition (a logical pattern)",
        ["SearchParameter-codesystem-extensions-CodeSystem-author.json"] = "no base (1..*)",
        ["SearchParameter-codesystem-extensions-CodeSystem-effective.json"] = "no base (1..*)",
        ["SearchParameter-codesystem-extensions-CodeSystem-end.json"] = "no base (1..*)",
        ["SearchParameter-codesystem-extensions-CodeSystem-keyword.json"] = "no base (1..*)",
        ["SearchParameter-codesystem-extensions-CodeSystem-workflow.json"] = "no base (1..*)",
        ["SearchParameter-valueset-extensions-ValueSet-author.json"] = "no base (1..*)",
        ["SearchParameter-valueset-extensions-ValueSet-effective.json"] = "no base (1..*)",
        ["SearchParameter-valueset-extensions-ValueSet-end.json"] = "no base (1..*)",
        ["SearchParameter-valueset-extensions-ValueSet-keyword.json"] = "no base (1..*)",
        ["SearchParameter-valueset-extensions-ValueSet-workflow.json"] = "no base (1..*)",
        ["Bundle-hla-1.json"] = "a part 'uri' in hla-genotyping-results-glstring, which defines 'url' and 'text'",
        ["CapabilityStatement-example.json"] = "url urn:uuid:68D043B5-... in uppercase (UUID URIs are lowercase)",
        ["TerminologyCapabilities-example.json"] = "url urn:uuid:68D043B5-... in uppercase (UUID URIs are lowercase)",
        ["Bundle-resources.json"] = "ExplanationOfBenefit.priority binds to http://terminology.hl7.org/CodeSystem/processpriority, a CodeSystem, as its valueSet",
        ["StructureDefinition-ExplanationOfBenefit.json"] = "ExplanationOfBenefit.priority binds to a CodeSystem URL as its valueSet",
    };

    [Fact]
    public void Official_examples_are_valid_apart_from_known_defects()
    {
        var found = new Dictionary<string, string>();
        var count = 0;
        foreach (var (name, content) in ExampleSource.Read(OfficialExamples.PackagePath))
        {
            var parsed = new FhirJsonParser(ParserOptions.Lenient).Parse(content);
            if (parsed.Resource is null) continue;
            count++;
            var error = FullValidator.Validate(parsed.Resource).FirstOrDefault(i => i.IsError);
            if (error is not null) found[name] = error.ToString();
        }
        Assert.True(count > 5000);
        var unexpected = found.Where(f => !KnownInvalidExamples.ContainsKey(f.Key)).Select(f => $"[\"{f.Key}\"] = \"{f.Value}\",");
        Assert.True(!unexpected.Any(), $"{found.Count} of {count} examples have errors:\n" + string.Join("\n", unexpected.Take(400)));
        Assert.Empty(KnownInvalidExamples.Keys.Except(found.Keys));
    }
}

using System.Text.Json.Nodes;
using FhirArchive.Fhir.Outcomes;
using FhirArchive.Fhir.Serialization;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Profiles.Validation;
using Xunit;

namespace FhirArchive.Profiles.Tests;

/// <summary>
/// Every local profile has a valid example (src/Profiles/Examples) that passes, and invalid variants of it that
/// fail with the expected issue at the expected place.
/// </summary>
public class CnProfileTests
{
    private static readonly RecordValidator Validator = new();
    private static readonly string ExamplesFolder = Path.Combine(AppContext.BaseDirectory, "Examples");

    private static JsonObject Example(string name) => (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(ExamplesFolder, name + ".json")))!;

    private static IReadOnlyList<FhirIssue> Errors(JsonObject resource) =>
        Validator.Validate(new FhirJsonParser(ParserOptions.Strict).Parse(resource.ToJsonString()).GetResourceOrThrow())
            .Where(i => i.IsError).ToList();

    public static TheoryData<string> ExampleNames() => new(Directory.EnumerateFiles(ExamplesFolder, "*.json").Select(Path.GetFileNameWithoutExtension).Order()!);

    /// <summary>The local profile an example claims (null: none — a resource a shared document's example refers to).</summary>
    private static string? Claimed(JsonObject example) => example["meta"]?["profile"]?[0]?.GetValue<string>();

    [Theory]
    [MemberData(nameof(ExampleNames))]
    public void Each_valid_example_passes_its_profile(string name)
    {
        var example = Example(name);
        if (Claimed(example) is { } profile) Assert.StartsWith(CnProfiles.Canonical, profile);
        else
        {
            // A resource without a local profile is there because a profiled example refers to it.
            var key = $"{example["resourceType"]}/{example["id"]}";
            Assert.Contains(Directory.EnumerateFiles(ExamplesFolder, "*.json").Select(File.ReadAllText), text => text.Contains($"\"{key}\""));
        }
        var errors = Errors(example);
        Assert.True(errors.Count == 0, string.Join("\n", errors));
    }

    /// <summary>Every reference in the examples names another example: each shared document comes with what it refers to.</summary>
    [Fact]
    public void The_examples_references_resolve_among_the_examples()
    {
        var names = Directory.EnumerateFiles(ExamplesFolder, "*.json").Select(f => Path.GetFileNameWithoutExtension(f)).Select(n => n[..n.IndexOf('-')] + "/" + n[(n.IndexOf('-') + 1)..]).ToHashSet();
        foreach (var file in Directory.EnumerateFiles(ExamplesFolder, "Composition-*.json"))
            foreach (var reference in System.Text.RegularExpressions.Regex.Matches(File.ReadAllText(file), "\"reference\": \"([A-Za-z]+/[A-Za-z0-9.-]+)\"").Select(m => m.Groups[1].Value))
                Assert.True(names.Contains(reference), $"{Path.GetFileName(file)}: {reference} is not an example");
    }

    [Fact]
    public void Every_profile_has_a_valid_example()
    {
        var claimed = Directory.EnumerateFiles(ExamplesFolder, "*.json")
            .Select(f => Claimed(Example(Path.GetFileNameWithoutExtension(f)))).OfType<string>().ToHashSet();
        var resourceProfiles = CnProfiles.Urls.Where(u => CnProfiles.WithSnapshot(u)!["type"]!.GetValue<string>() != "Extension");
        Assert.Empty(resourceProfiles.Except(claimed));
    }

    /// <summary>An invalid variant: the example, a change, and the issue it must give.</summary>
    public static TheoryData<string, string, string, string> InvalidVariants() => new()
    {
        // example, JSON pointer-ish change ("remove a.b" / "set a.b=json"), expected code, expected location
        { "Patient-zhang-wei", "set identifier=[{\"system\":\"urn:oid:2.16.156.10011.1.3\",\"value\":\"500101198001010014\"}]", "value", "Patient.identifier[0].value" },
        { "Patient-zhang-wei", "set birthDate=\"1980-02-01\"", "business-rule", "Patient.birthDate" },
        { "Patient-zhang-wei", "set gender=\"female\"", "business-rule", "Patient.gender" },
        { "Patient-zhang-wei", "remove managingOrganization", "required", "Patient.managingOrganization" },
        { "Patient-zhang-wei", "remove birthDate", "required", "Patient.birthDate" },
        { "Patient-zhang-wei", "set identifier=[{\"system\":\"urn:oid:2.16.156.10011.1.3\",\"value\":\"500101198001010013\"},{\"system\":\"urn:oid:2.16.156.10011.1.3\",\"value\":\"500101195603150028\"}]", "structure", "Patient.identifier:idCard" },
        { "Patient-zhang-wei", "set identifier=[{\"system\":\"urn:oid:2.16.156.10011.1.2\",\"value\":\"50010100120000001\"}]", "value", "Patient.identifier[0].value" },
        { "Patient-zhang-wei", "set extension=[{\"url\":\"http://fhirarchive.cn/fhir/StructureDefinition/cn-ethnicity\",\"valueCoding\":{\"system\":\"urn:oid:2.16.156.10011.2.3.3.3\",\"code\":\"99\"}}]", "code-invalid", "Patient.extension[0].value.ofType(Coding)" },
        { "Patient-zhang-wei", "set extension=[{\"url\":\"http://fhirarchive.cn/fhir/StructureDefinition/cn-ethnicity\",\"valueString\":\"汉族\"}]", "structure", "Patient.extension[0].value.ofType(string)" },
        // household-registration vs current address: one of each, a GB/T 2260 code of county level at least
        { "Patient-zhang-wei", "set address=[{\"extension\":[{\"url\":\"http://fhirarchive.cn/fhir/StructureDefinition/cn-household-division\",\"valueCode\":\"500101001\"}],\"text\":\"x\"},{\"extension\":[{\"url\":\"http://fhirarchive.cn/fhir/StructureDefinition/cn-household-division\",\"valueCode\":\"500103\"}],\"text\":\"x\"}]", "structure", "Patient.address:householdRegistration" },
        { "Patient-zhang-wei", "set address=[{\"extension\":[{\"url\":\"http://fhirarchive.cn/fhir/StructureDefinition/cn-household-division\",\"valueCode\":\"999999\"}],\"text\":\"x\"}]", "code-invalid", "Patient.address[0].extension[0].value.ofType(code)" },
        { "Patient-zhang-wei", "set address=[{\"extension\":[{\"url\":\"http://fhirarchive.cn/fhir/StructureDefinition/cn-residence-division\",\"valueCode\":\"500100\"}],\"text\":\"x\"}]", "code-invalid", "Patient.address[0].extension[0].value.ofType(code)" },
        { "Patient-zhang-wei", "set address=[{\"extension\":[{\"url\":\"http://fhirarchive.cn/fhir/StructureDefinition/cn-household-division\",\"valueCode\":\"500000\"}],\"text\":\"x\"}]", "code-invalid", "Patient.address[0].extension[0].value.ofType(code)" },
        { "Patient-zhang-wei", "set address=[{\"extension\":[{\"url\":\"http://fhirarchive.cn/fhir/StructureDefinition/cn-residence-division\",\"valueString\":\"渝中区\"}],\"text\":\"x\"}]", "structure", "Patient.address[0].extension[0].value.ofType(string)" },
        // the family-doctor contract: on a Practitioner, with its signing date
        { "Patient-zhang-wei", "set generalPractitioner=[{\"extension\":[{\"url\":\"http://fhirarchive.cn/fhir/StructureDefinition/cn-family-doctor-contract\",\"valuePeriod\":{\"start\":\"2026-01-05\"}}],\"reference\":\"Organization/wz-gst-chc\"}]", "invariant", "Patient.generalPractitioner[0].extension[0]" },
        { "Patient-zhang-wei", "set generalPractitioner=[{\"extension\":[{\"url\":\"http://fhirarchive.cn/fhir/StructureDefinition/cn-family-doctor-contract\",\"valuePeriod\":{\"end\":\"2027-01-04\"}}],\"reference\":\"Practitioner/li-na\"}]", "required", "Patient.generalPractitioner[0].extension[0].value.ofType(Period).start" },
        { "Patient-zhang-wei", "set generalPractitioner=[{\"extension\":[{\"url\":\"http://fhirarchive.cn/fhir/StructureDefinition/cn-family-doctor-contract\",\"valueDate\":\"2026-01-05\"}],\"reference\":\"Practitioner/li-na\"}]", "structure", "Patient.generalPractitioner[0].extension[0].value.ofType(date)" },
        { "Organization-wz-gst-chc", "remove extension", "required", "Organization.extension:divisionCode" },
        { "Organization-wz-gst-chc", "set identifier=[{\"system\":\"http://example.org\",\"value\":\"1\"}]", "required", "Organization.identifier:institutionCode" },
        { "Practitioner-li-na", "remove name", "required", "Practitioner.name" },
        { "RelatedPerson-wang-fang", "remove extension", "required", "RelatedPerson.extension:guardianship" },
        { "RelatedPerson-wang-fang", "remove relationship", "required", "RelatedPerson.relationship" },
        { "Encounter-zhang-wei-followup", "remove serviceProvider", "required", "Encounter.serviceProvider" },
        { "Encounter-zhang-wei-followup", "set period={\"end\":\"2026-11-02\"}", "required", "Encounter.period.start" },
        { "Observation-zhang-wei-sbp", "remove performer", "required", "Observation.performer" },
        { "Observation-zhang-wei-sbp", "remove effectiveDateTime", "required", "Observation.effective" },
        { "Consent-zhang-wei-share", "remove performer", "required", "Consent.performer" },
        { "Consent-zhang-wei-share", "set provision={\"type\":\"permit\"}", "required", "Consent.provision.period" },
        // the verification method of a record-opening Consent: a code of consent-verification-method, as a Coding
        { "Consent-zhang-wei-record-access", "set verification=[{\"extension\":[{\"url\":\"http://fhirarchive.cn/fhir/StructureDefinition/cn-consent-verification-method\",\"valueCoding\":{\"system\":\"http://fhirarchive.cn/fhir/CodeSystem/consent-verification-method\",\"code\":\"fingerprint\"}}],\"verified\":true}]", "code-invalid", "Consent.verification[0].extension[0].value.ofType(Coding)" },
        { "Consent-zhang-wei-record-access", "set verification=[{\"extension\":[{\"url\":\"http://fhirarchive.cn/fhir/StructureDefinition/cn-consent-verification-method\",\"valueString\":\"sms\"}],\"verified\":true}]", "structure", "Consent.verification[0].extension[0].value.ofType(string)" },
        { "Consent-zhang-wei-record-access", "set extension=[{\"url\":\"http://fhirarchive.cn/fhir/StructureDefinition/cn-consent-evidence\",\"valueReference\":{\"reference\":\"Patient/zhang-wei\"}}]", "structure", "Consent.extension[0].value.ofType(Reference)" },
        { "Composition-zhang-wei-homepage", "set type={\"text\":\"首页\"}", "value", "Composition.type" },
        { "Composition-zhang-wei-homepage", "remove section", "required", "Composition.section" },
        { "Composition-zhang-wei-registration", "set type={\"coding\":[{\"system\":\"urn:oid:2.16.156.10011.2.4\",\"code\":\"C0032\"}]}", "code-invalid", "Composition.type" },
        // the WS/T 483 shared documents: the document type, the required sections, the entry types each section takes
        { "Composition-zhang-wei-hypertension-followup", "set type={\"coding\":[{\"system\":\"urn:oid:2.16.156.10011.2.4\",\"code\":\"B0013\"}]}", "value", "Composition.type" },
        { "Composition-zhang-wei-hypertension-followup", "set section=[{\"title\":\"体征\",\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8716-3\"}]},\"entry\":[{\"reference\":\"Observation/zhang-wei-sbp\"}]},{\"title\":\"下次随访\",\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"18776-5\"}]},\"entry\":[{\"reference\":\"Appointment/zhang-wei-next-followup\"}]}]", "required", "Composition.section:medications" },
        { "Composition-zhang-wei-hypertension-followup", "set section=[{\"title\":\"体征\",\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8716-3\"}]},\"entry\":[{\"reference\":\"MedicationStatement/zhang-wei-nifedipine\"}]},{\"title\":\"用药\",\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"10160-0\"}]},\"entry\":[{\"reference\":\"MedicationStatement/zhang-wei-nifedipine\"}]},{\"title\":\"下次随访\",\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"18776-5\"}]},\"entry\":[{\"reference\":\"Appointment/zhang-wei-next-followup\"}]}]", "structure", "Composition.section[0].entry[0]" },
        { "Composition-zhang-wei-hypertension-followup", "set subject={\"reference\":\"Group/x\"}", "structure", "Composition.subject" },
        { "Composition-zhang-wei-basic-information", "remove section", "required", "Composition.section" },
        { "Composition-zhang-wei-health-checkup", "set type={\"coding\":[{\"system\":\"urn:oid:2.16.156.10011.2.4\",\"code\":\"B0016\"}]}", "value", "Composition.type" },
        { "Composition-zhang-wei-diabetes-followup", "set section=[{\"title\":\"体征\",\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8716-3\"}]},\"entry\":[{\"reference\":\"Observation/zhang-wei-sbp\"}]}]", "required", "Composition.section:labResults" },
        { "Composition-li-xiu-prenatal-followup", "set type={\"coding\":[{\"system\":\"urn:oid:2.16.156.10011.2.4\",\"code\":\"B0005\"}]}", "value", "Composition.type" },
        { "Composition-zhang-xiaoyu-child-health-check", "remove section", "required", "Composition.section:growth" },
        { "Composition-zhang-xiaoyu-vaccination", "set section=[{\"title\":\"预防接种\",\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"11369-6\"}]},\"entry\":[{\"reference\":\"Observation/zhang-xiaoyu-weight\"}]}]", "structure", "Composition.section[0].entry[0]" },
        { "Task-zhang-wei-transfer", "set code={\"coding\":[{\"system\":\"http://fhirarchive.cn/fhir/CodeSystem/record-task-type\",\"code\":\"delete\"}]}", "code-invalid", "Task.code" },
        { "Task-zhang-wei-transfer", "remove owner", "required", "Task.owner" },
        { "Provenance-zhang-wei-sbp", "set agent=[{\"who\":{\"reference\":\"Practitioner/li-na\"}}]", "required", "Provenance.agent[0].onBehalfOf" },
        { "Provenance-zhang-wei-sbp", "remove occurredDateTime", "required", "Provenance.occurred" },
    };

    [Theory]
    [MemberData(nameof(InvalidVariants))]
    public void Each_invalid_variant_fails_with_its_issue(string example, string change, string code, string location)
    {
        var resource = Example(example);
        var parts = change.Split(' ', 2);
        if (parts[0] == "remove") Assert.True(resource.Remove(parts[1]), $"no {parts[1]} to remove");
        else
        {
            var eq = parts[1].IndexOf('=');
            resource[parts[1][..eq]] = JsonNode.Parse(parts[1][(eq + 1)..]);
        }
        var errors = Errors(resource);
        Assert.True(errors.Any(i => i.Code == code && i.Location == location),
            $"expected [{code}] at {location}; got:\n{string.Join("\n", errors)}");
    }

    [Fact]
    public void A_profile_asked_for_by_the_caller_is_checked_even_when_not_claimed()
    {
        var plain = new FhirJsonParser(ParserOptions.Strict).Parse("""{"resourceType":"Patient","gender":"male"}""").GetResourceOrThrow();
        Assert.DoesNotContain(Validator.Validate(plain), i => i.IsError);
        var issues = Validator.Validate(plain, CnProfiles.ResidentPatient);
        Assert.Contains(issues, i => i.IsError && i.Location == "Patient.identifier");
        Assert.Contains(Validator.Validate(plain, "http://example.org/unknown"), i => i.IsError && i.Code == "not-found");
    }
}

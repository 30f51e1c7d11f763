using FhirArchive.Conformance;
using FhirArchive.Fhir.Outcomes;
using FhirArchive.Fhir.Serialization;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Fhir.Tests.Support;
using FhirArchive.Fhir.Validation;
using Xunit;

namespace FhirArchive.Fhir.Tests.Validation;

public class ProfileValidatorTests
{
    private const string BodyWeight = "http://hl7.org/fhir/StructureDefinition/bodyweight";
    private static readonly FhirJsonParser Json = new(ParserOptions.Strict);
    private static readonly InstanceValidator Validator = new(new ValidationSettings { ResolveProfile = OfficialProfiles.Find, EvaluateInvariants = false });

    private static string Weight(string category = Category, string code = "29463-7", string value = Quantity) => $$"""
        {"resourceType":"Observation","meta":{"profile":["{{BodyWeight}}"]},"status":"final",
         {{category}}
         "code":{"coding":[{"system":"http://example.org/local","code":"w"},{"system":"http://loinc.org","code":"{{code}}"}],"text":"体重"},
         "subject":{"reference":"Patient/1"},"effectiveDateTime":"2026-11-01",{{value}}}
        """;

    private const string Category = """ "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],""";
    private const string Quantity = """ "valueQuantity":{"value":65.5,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}""";

    private static IReadOnlyList<FhirIssue> Errors(string json) =>
        Validator.Validate(Json.Parse(json).GetResourceOrThrow()).Where(i => i.IsError).ToList();

    [Fact]
    public void A_body_weight_that_follows_the_profile_passes()
    {
        Assert.Empty(Errors(Weight()));
    }

    [Fact]
    public void A_missing_required_slice_is_reported_with_its_name()
    {
        var noCategory = Errors(Weight(category: ""));
        Assert.Contains(noCategory, i => i.Code == "required" && i.Location == "Observation.category");
        var wrongCode = Errors(Weight(code: "3141-9"));
        Assert.Contains(wrongCode, i => i.Code == "required" && i.Location == "Observation.code.coding:BodyWeightCode");
    }

    [Fact]
    public void Fixed_values_and_closed_type_slicing_are_enforced()
    {
        var wrongSystem = Errors(Weight(value: """ "valueQuantity":{"value":65.5,"unit":"kg","system":"http://example.org/units","code":"kg"}"""));
        Assert.Contains(wrongSystem, i => i.Code == "value" && i.Location == "Observation.value.ofType(Quantity).system");
        var text = Errors(Weight(value: """ "valueString":"65 kg" """));
        Assert.Contains(text, i => i.Location == "Observation.value.ofType(string)");
    }

    [Fact]
    public void An_unknown_profile_is_a_warning_not_an_error()
    {
        var issues = Validator.Validate(Json.Parse("""{"resourceType":"Patient","meta":{"profile":["http://example.org/p"]}}""").GetResourceOrThrow());
        var issue = Assert.Single(issues);
        Assert.Equal((IssueSeverity.Warning, "not-found"), (issue.Severity, issue.Code));
    }

    [Fact]
    public void Official_examples_conform_to_the_official_profiles_they_claim()
    {
        var checkedCount = 0;
        var failures = new List<string>();
        var known = OfficialProfiles.Urls.ToHashSet();
        foreach (var (name, content) in ExampleSource.Read(OfficialExamples.PackagePath))
        {
            var r = new FhirJsonParser(ParserOptions.Lenient).Parse(content).Resource;
            var claims = r?.Child("meta")?.ChildrenNamed("profile").Select(p => p.Value).Where(u => u is not null && known.Contains(u)).ToList();
            if (r is null || claims is not { Count: > 0 }) continue;
            checkedCount++;
            var error = Validator.Validate(r).FirstOrDefault(i => i.IsError);
            if (error is not null) failures.Add($"{name}: {error}");
        }
        Assert.True(checkedCount >= 20, $"only {checkedCount} examples claim an official profile");
        Assert.True(failures.Count == 0, $"{failures.Count} of {checkedCount}:\n" + string.Join("\n", failures));
    }
}

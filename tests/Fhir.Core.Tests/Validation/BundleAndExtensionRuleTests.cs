using FhirArchive.Fhir.Outcomes;
using FhirArchive.Fhir.Serialization;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Fhir.Validation;
using Xunit;

namespace FhirArchive.Fhir.Tests.Validation;

/// <summary>The Bundle fullUrl rules and the extension checks (definition, context, modifier) of the instance validator.</summary>
public class BundleAndExtensionRuleTests
{
    private static readonly FhirJsonParser Json = new(ParserOptions.Strict);

    private static List<FhirIssue> Errors(string json, ValidationSettings? settings = null) =>
        new InstanceValidator(settings).Validate(Json.Parse(json).GetResourceOrThrow()).Where(i => i.IsError).ToList();

    [Theory]
    [InlineData("""{"fullUrl":"Patient/1","resource":{"resourceType":"Patient","id":"1"}}""", "absolute URL")]
    [InlineData("""{"resource":{"resourceType":"Patient","id":"1"}}""", "must have a fullUrl")]
    [InlineData("""{"fullUrl":"http://x.org/fhir/Patient/2","resource":{"resourceType":"Patient","id":"1"}}""", "/Patient/1")]
    public void Collection_entries_need_a_fullUrl_that_names_them(string entry, string message) =>
        Assert.Contains(Errors($$"""{"resourceType":"Bundle","type":"collection","entry":[{{entry}}]}"""), i => i.Message.Contains(message));

    [Fact]
    public void Good_fullUrls_and_transactions_without_them_pass()
    {
        Assert.Empty(Errors("""{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"http://x.org/fhir/Patient/1","resource":{"resourceType":"Patient","id":"1"}},{"fullUrl":"urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0","resource":{"resourceType":"Patient"}}]}"""));
        Assert.Empty(Errors("""{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}}]}"""));
    }

    [Fact]
    public void A_core_extension_is_checked_against_its_definition()
    {
        // patient-birthPlace takes an Address, not a string
        Assert.NotEmpty(Errors("""{"resourceType":"Patient","extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthPlace","valueString":"Beijing"}]}"""));
        Assert.Empty(Errors("""{"resourceType":"Patient","extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthPlace","valueAddress":{"city":"Beijing"}}]}"""));
    }

    [Fact]
    public void A_modifier_extension_must_be_used_as_one() =>
        Assert.Contains(Errors("""{"resourceType":"CarePlan","status":"active","intent":"plan","subject":{"reference":"Patient/1"},"activity":[{"detail":{"status":"scheduled","extension":[{"url":"http://hl7.org/fhir/StructureDefinition/request-doNotPerform","valueBoolean":true}]}}]}"""),
            i => i.Message.Contains("modifier"));

    [Fact]
    public void Unknown_extensions_and_relative_urls()
    {
        const string unknown = """{"resourceType":"Patient","extension":[{"url":"http://nobody.cn/ext","valueString":"x"}]}""";
        Assert.Empty(Errors(unknown));
        Assert.NotEmpty(Errors(unknown, new ValidationSettings { UnknownExtensions = IssueSeverity.Error }));
        Assert.Contains(Errors("""{"resourceType":"Patient","extension":[{"url":"relative","valueString":"x"}]}"""), i => i.Message.Contains("absolute"));
    }
}

using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Outcomes;
using FhirArchive.Fhir.Serialization;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Fhir.Validation;
using Xunit;

namespace FhirArchive.Fhir.Tests.Validation;

/// <summary>A QuestionnaireResponse checked against its Questionnaire (found through ResolveResource).</summary>
public class QuestionnaireResponseTests
{
    private static readonly FhirJsonParser Json = new(ParserOptions.Strict);

    private static readonly ElementNode Questionnaire = Json.Parse("""
        {"resourceType":"Questionnaire","url":"http://example.org/Questionnaire/q","status":"active","item":[
          {"linkId":"smoker","type":"boolean","required":true},
          {"linkId":"per-day","type":"integer","enableWhen":[{"question":"smoker","operator":"=","answerBoolean":true}],
           "extension":[{"url":"http://hl7.org/fhir/StructureDefinition/maxValue","valueInteger":100}]},
          {"linkId":"colour","type":"choice","answerOption":[{"valueCoding":{"system":"http://example.org/c","code":"red"}}]}]}
        """).GetResourceOrThrow();

    private static List<FhirIssue> Errors(string items, string status = "completed")
    {
        var response = Json.Parse($$"""
            {"resourceType":"QuestionnaireResponse","questionnaire":"http://example.org/Questionnaire/q|1","status":"{{status}}","item":[{{items}}]}
            """).GetResourceOrThrow();
        var validator = new InstanceValidator(new ValidationSettings { ResolveResource = url => url == "http://example.org/Questionnaire/q" ? Questionnaire : null });
        return validator.Validate(response).Where(i => i.IsError).ToList();
    }

    [Fact]
    public void A_complete_response_passes() =>
        Assert.Empty(Errors("""{"linkId":"smoker","answer":[{"valueBoolean":true}]},{"linkId":"per-day","answer":[{"valueInteger":10}]}"""));

    [Fact]
    public void An_unknown_link_id_is_an_error() =>
        Assert.Contains(Errors("""{"linkId":"smoker","answer":[{"valueBoolean":false}]},{"linkId":"nope"}"""), i => i.Message.Contains("'nope' not found"));

    [Fact]
    public void An_answer_of_the_wrong_type_is_an_error() =>
        Assert.Contains(Errors("""{"linkId":"smoker","answer":[{"valueString":"yes"}]}"""), i => i.Location == "QuestionnaireResponse.item[0].answer[0].value.ofType(string)");

    [Fact]
    public void A_required_item_must_be_answered_once_the_response_is_complete()
    {
        Assert.Contains(Errors("""{"linkId":"colour","answer":[{"valueCoding":{"system":"http://example.org/c","code":"red"}}]}"""), i => i.Code == "required");
        Assert.Empty(Errors("""{"linkId":"colour","answer":[{"valueCoding":{"system":"http://example.org/c","code":"red"}}]}""", "in-progress"));
    }

    [Fact]
    public void A_disabled_item_cannot_be_answered() =>
        Assert.Contains(Errors("""{"linkId":"smoker","answer":[{"valueBoolean":false}]},{"linkId":"per-day","answer":[{"valueInteger":10}]}"""),
            i => i.Message.Contains("not enabled"));

    [Fact]
    public void Value_limits_and_options_are_enforced()
    {
        Assert.Contains(Errors("""{"linkId":"smoker","answer":[{"valueBoolean":true}]},{"linkId":"per-day","answer":[{"valueInteger":101}]}"""), i => i.Message.Contains("maximum"));
        Assert.Contains(Errors("""{"linkId":"smoker","answer":[{"valueBoolean":true}]},{"linkId":"colour","answer":[{"valueCoding":{"system":"http://example.org/c","code":"blue"}}]}"""),
            i => i.Code == "code-invalid");
    }

    [Fact]
    public void Two_answers_to_an_item_that_does_not_repeat_are_an_error() =>
        Assert.Contains(Errors("""{"linkId":"smoker","answer":[{"valueBoolean":true},{"valueBoolean":false}]}"""), i => i.Message.Contains("does not repeat"));
}

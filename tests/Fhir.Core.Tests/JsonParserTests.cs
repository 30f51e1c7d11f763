using FhirArchive.Conformance;
using FhirArchive.Fhir.Serialization;
using FhirArchive.Fhir.Serialization.Json;
using Xunit;

namespace FhirArchive.Fhir.Tests;

public class JsonParserTests
{
    private static readonly FhirJsonParser Strict = new(ParserOptions.Strict);
    private static readonly FhirJsonParser Lenient = new(ParserOptions.Lenient);

    private static string RoundTrip(string json)
    {
        var r = Strict.Parse(json);
        Assert.True(r.Success, string.Join("\n", r.Issues));
        return FhirJsonSerializer.Serialize(r.Resource!);
    }

    private static void AssertError(string json, string code, string? location, string? messagePart = null)
    {
        var r = Strict.Parse(json);
        Assert.False(r.Success);
        Assert.Contains(r.Issues, i => i.IsError && i.Code == code
                                       && (location is null || i.Location == location)
                                       && (messagePart is null || i.Message.Contains(messagePart)));
    }

    [Fact]
    public void Decimals_keep_their_digits()
    {
        var json = """{"resourceType":"Observation","status":"final","code":{"text":"t"},"valueQuantity":{"value":1.50,"unit":"mmol/L"}}""";
        var r = Strict.Parse(json);
        var value = r.Resource!.Child("value")!;
        Assert.Equal("Quantity", value.Type);
        Assert.Equal("1.50", value.Child("value")!.Value);
        Assert.Contains("\"value\":1.50", RoundTrip(json));
    }

    [Fact]
    public void Output_follows_definition_order_with_resourceType_first()
    {
        var json = """{"gender":"male","id":"p1","resourceType":"Patient","birthDate":"1980-02-29","active":true}""";
        Assert.Equal("""{"resourceType":"Patient","id":"p1","active":true,"gender":"male","birthDate":"1980-02-29"}""", RoundTrip(json));
    }

    [Fact]
    public void Primitive_extensions_merge_with_values_in_arrays()
    {
        var json = """
            {"resourceType":"Patient","name":[{"given":["张",null,"三"],
             "_given":[null,{"id":"g2","extension":[{"url":"http://example.org/x","valueString":"隐"}]},null]}]}
            """;
        var r = Strict.Parse(json);
        Assert.True(r.Success, string.Join("\n", r.Issues));
        var given = r.Resource!.Child("name")!.ChildrenNamed("given").ToList();
        Assert.Equal(3, given.Count);
        Assert.Null(given[1].Value);
        Assert.Equal("g2", given[1].Child("id")!.Value);
        Assert.Equal("Patient.name[0].given[1]", given[1].Location);
        Assert.Null(JsonCanonical.FirstDifference(System.Text.Encoding.UTF8.GetBytes(json), System.Text.Encoding.UTF8.GetBytes(RoundTrip(json))));
    }

    [Fact]
    public void Extension_object_may_come_before_its_value()
    {
        var json = """{"resourceType":"Patient","_birthDate":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthTime","valueDateTime":"1974-12-25T14:35:45-05:00"}]},"birthDate":"1974-12-25"}""";
        var r = Strict.Parse(json);
        Assert.True(r.Success, string.Join("\n", r.Issues));
        var bd = r.Resource!.Child("birthDate")!;
        Assert.Equal("1974-12-25", bd.Value);
        Assert.Equal("dateTime", bd.Child("extension")!.Child("value")!.Type);
    }

    [Fact]
    public void Contained_resources_and_bundle_entries_are_typed_resources()
    {
        var json = """
            {"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a",
              "resource":{"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o","name":"卫生院"},{"resourceType":"Practitioner","id":"d"}],
              "managingOrganization":{"reference":"#o"}}}]}
            """;
        var r = Strict.Parse(json);
        Assert.True(r.Success, string.Join("\n", r.Issues));
        var patient = r.Resource!.Child("entry")!.Child("resource")!;
        Assert.True(patient.IsResource);
        Assert.Equal("Patient", patient.Type);
        var contained = patient.ChildrenNamed("contained").ToList();
        Assert.Equal(["Organization", "Practitioner"], contained.Select(c => c.Type));
        Assert.Equal("Bundle.entry[0].resource.contained[1]", contained[1].Location);
        Assert.Contains("\"name\":\"卫生院\"", RoundTrip(json)); // Chinese is not \u-escaped
    }

    [Theory]
    [InlineData("""{"resourceType":"Patient","foo":1}""", "structure", "Patient.foo", "Unknown element")]
    [InlineData("""{"resourceType":"Patient","active":"true"}""", "structure", "Patient.active", "must be a JSON boolean")]
    [InlineData("""{"resourceType":"Patient","gender":1}""", "structure", "Patient.gender", "must be a JSON string")]
    [InlineData("""{"resourceType":"Patient","name":{"family":"王"}}""", "structure", "Patient.name", "must be a JSON array")]
    [InlineData("""{"resourceType":"Patient","gender":["male"]}""", "structure", "Patient.gender", "not an array")]
    [InlineData("""{"resourceType":"Patient","gender":""}""", "value", "Patient.gender", "empty")]
    [InlineData("""{"resourceType":"Patient","name":[{}]}""", "structure", "Patient.name[0]", "empty object")]
    [InlineData("""{"resourceType":"Patient","name":[]}""", "structure", "Patient.name", "empty array")]
    [InlineData("""{"resourceType":"Patient","birthDate":null}""", "structure", "Patient.birthDate", "null")]
    [InlineData("""{"resourceType":"Patient","birthDate":"1980-13-01"}""", "value", "Patient.birthDate", "not a valid date")]
    [InlineData("""{"resourceType":"Patient","birthDate":"1981-02-29"}""", "value", "Patient.birthDate", "calendar")]
    [InlineData("""{"resourceType":"Patient","id":"a b"}""", "value", "Patient.id", "not a valid id")]
    [InlineData("""{"resourceType":"Patient","multipleBirthInteger":2147483648}""", "value", "Patient.multipleBirth.ofType(integer)", "32-bit")]
    [InlineData("""{"resourceType":"Patient","active":true,"active":false}""", "structure", "Patient", "Duplicate JSON property 'active'")]
    [InlineData("""{"resourceType":"Patient","deceasedBoolean":true,"deceasedDateTime":"2020"}""", "structure", "Patient", "Only one type")]
    [InlineData("""{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueDecimal":1}""", "structure", "Observation.valueDecimal", "Unknown element")]
    [InlineData("""{"resourceType":"Patient","contained":[{"id":"x"}]}""", "structure", "Patient.contained", "no resourceType")]
    public void Strict_mode_reports_format_errors_with_locations(string json, string code, string location, string message) =>
        AssertError(json, code, location, message);

    [Theory]
    [InlineData("""{"id":"x"}""", "no resourceType")]
    [InlineData("""{"resourceType":"Banana"}""", "Unknown resource type")]
    [InlineData("""{"resourceType":"DomainResource"}""", "Unknown resource type")]
    [InlineData("""[1,2]""", "must be a JSON object")]
    [InlineData("""{"resourceType":"Patient",""", "Invalid JSON")]
    [InlineData("""{"resourceType":"Patient"} x""", "Invalid JSON")]
    [InlineData("", "empty")]
    public void Unusable_documents_are_fatal(string json, string message)
    {
        var r = Strict.Parse(json);
        Assert.Null(r.Resource);
        Assert.Contains(r.Issues, i => i.Severity == Outcomes.IssueSeverity.Fatal && i.Message.Contains(message));
    }

    [Fact]
    public void Lenient_mode_keeps_unknown_elements_and_warns()
    {
        var json = """{"resourceType":"Patient","gender":"male","nickname":{"a":[1,2]},"active":"true"}""";
        var r = Lenient.Parse(json);
        Assert.True(r.Success);
        Assert.All(r.Issues, i => Assert.Equal(Outcomes.IssueSeverity.Warning, i.Severity));
        Assert.Equal(2, r.Issues.Count);
        var output = FhirJsonSerializer.Serialize(r.Resource!);
        Assert.Contains("\"nickname\":{\"a\":[1,2]}", output);
        Assert.Contains("\"active\":true", output); // the value was kept and written as the boolean it is
    }

    [Fact]
    public void Deep_nesting_is_refused_quickly()
    {
        var deep = """{"resourceType":"Patient","extension":""" + string.Concat(Enumerable.Repeat("[{\"extension\":", 5000)) + "1" + new string(']', 0);
        var r = Strict.Parse(deep);
        Assert.Null(r.Resource);
        Assert.Contains(r.Issues, i => i.Message.Contains("depth", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void Invalid_utf8_is_refused()
    {
        var bytes = "{\"resourceType\":\"Patient\",\"gender\":\"m\xC3\"}"u8.ToArray();
        bytes[^3] = 0xC3; // a lead byte followed by '"'
        var r = Strict.Parse(bytes);
        Assert.Null(r.Resource);
        Assert.Contains(r.Issues, i => i.Message.Contains("UTF-8"));
    }

    [Fact]
    public void Oversized_documents_are_refused_before_parsing()
    {
        var parser = new FhirJsonParser(ParserOptions.Strict with { MaxBytes = 1000 });
        var r = parser.Parse(new MemoryStream(new byte[5000]));
        Assert.Null(r.Resource);
        Assert.Contains(r.Issues, i => i.Code == "too-costly");
    }

    [Fact]
    public void Operation_outcome_is_itself_valid_fhir()
    {
        var r = Strict.Parse("""{"resourceType":"Patient","foo":1}""");
        var oo = FhirJsonSerializer.Serialize(r.ToOperationOutcome());
        var back = Strict.Parse(oo);
        Assert.True(back.Success, oo);
        Assert.Contains("\"expression\":[\"Patient.foo\"]", oo);
        Assert.Contains("\"severity\":\"error\"", oo);
    }
}

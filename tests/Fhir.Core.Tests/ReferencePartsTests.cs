using FhirArchive.Fhir.Model;
using Xunit;

namespace FhirArchive.Fhir.Tests;

public class ReferencePartsTests
{
    [Theory]
    [InlineData("Patient/1", "Patient", "1", null)]
    [InlineData("Patient/1/_history/2", "Patient", "1", "2")]
    [InlineData("http://example.org/fhir/Observation/o-1/_history/7", "Observation", "o-1", "7")]
    [InlineData("https://example.org/fhir/Patient/1?_format=json", "Patient", "1", null)]
    public void Literal_references_give_type_id_and_version(string reference, string type, string id, string? version)
    {
        Assert.True(ReferenceParts.TryParse(reference, out var t, out var i, out var v));
        Assert.Equal((type, id, version), (t, i, v));
    }

    [Theory]
    [InlineData("#contained")]
    [InlineData("urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a")]
    [InlineData("Unknown/1")]
    [InlineData("Patient")]
    [InlineData("Patient/1/extra")]
    public void Anything_else_names_no_resource(string reference) =>
        Assert.False(ReferenceParts.TryParse(reference, out _, out _, out _));

    [Theory]
    [InlineData("Patient/1", "Patient", "1", null)]
    [InlineData("http://fhir.example.cn/base/Patient/1/_history/2", "Patient", "1", "2")]
    [InlineData("http://fhir.example.cn/base/DocumentReference/d-1", "DocumentReference", "d-1", null)]
    [InlineData("Patient/adult/_history/3", "Patient", "adult", "3")]
    [InlineData("Observation/A.b-1", "Observation", "A.b-1", null)]
    public void Local_names_this_server_s_resources_relative_or_under_its_base(string reference, string type, string id, string? version) =>
        Assert.Equal((type, id, version), ReferenceParts.Local(reference, "http://fhir.example.cn/base"));

    [Theory]
    [InlineData("http://elsewhere.example.cn/fhir/Patient/1")]
    [InlineData("http://fhir.example.cn/base2/Patient/1")]
    [InlineData("http://fhir.example.cn/Patient/1")]
    [InlineData("urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a")]
    [InlineData("#p1")]
    [InlineData("Unknown/1")]
    [InlineData("//other.example/fhir/Patient/adult")]
    [InlineData("other.example/fhir/Patient/adult")]
    [InlineData("/Patient/adult")]
    [InlineData("fhir/Patient/adult/_history/1")]
    [InlineData("Patient/adult/extra")]
    [InlineData("Patient/adult?x=1")]
    [InlineData("Patient/bad id")]
    [InlineData("Patient/1/_history")]
    [InlineData("Patient/1/history/2")]
    [InlineData("Patient//1")]
    [InlineData("http://fhir.example.cn/base//Patient/1")]
    [InlineData("http://fhir.example.cn/base/x/Patient/1")]
    public void Local_is_null_for_other_servers_logical_and_contained_references(string reference) =>
        Assert.Null(ReferenceParts.Local(reference, "http://fhir.example.cn/base"));
}

using System.Text;
using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Outcomes;
using FhirArchive.Fhir.Serialization;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Fhir.Serialization.Xml;
using Xunit;

namespace FhirArchive.Fhir.Tests;

/// <summary>The XML reader is as strict as the JSON one, and what either accepts can be written in both formats.</summary>
public class XmlStrictnessTests
{
    private static readonly FhirJsonParser Json = new(ParserOptions.Strict);
    private static readonly FhirXmlParser Xml = new(ParserOptions.Strict);

    [Fact]
    public void Noncharacters_that_XML_cannot_hold_are_refused_in_both_formats()
    {
        Assert.False(Json.Parse("{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"a\uFFFEb\"}]}").Success);
        Assert.False(Json.Parse("{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"a\\uffffb\"}]}").Success);
        Assert.False(Xml.Parse("<Patient xmlns=\"http://hl7.org/fhir\"><name><family value=\"a\uFFFEb\"/></name></Patient>").Success);
    }

    [Fact]
    public void An_outcome_quoting_a_noncharacter_is_still_written_as_XML()
    {
        var oo = OperationOutcomes.Create(IssueSeverity.Error, "invalid", "bad name 'x\uFFFE'");
        var xml = FhirXmlSerializer.Serialize(oo);
        Assert.Contains("x\uFFFD", xml);
    }

    [Fact]
    public void An_XML_document_declaring_another_encoding_is_refused()
    {
        var r = Xml.Parse(Encoding.UTF8.GetBytes("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><Patient xmlns=\"http://hl7.org/fhir\"><active value=\"true\"/></Patient>"));
        Assert.False(r.Success);
        Assert.Contains(r.Issues, i => i.Message.Contains("UTF-8"));
        Assert.True(Xml.Parse(Encoding.UTF8.GetBytes("<?xml version=\"1.0\" encoding=\"utf-8\"?><Patient xmlns=\"http://hl7.org/fhir\"><active value=\"true\"/></Patient>")).Success);
    }

    [Fact]
    public void XML_nesting_is_bounded_as_its_JSON_form_would_be()
    {
        // 200 nested extensions are 400 JSON levels (array and object each): past the JSON limit of 256, so past XML's too.
        var xml = new StringBuilder("<Patient xmlns=\"http://hl7.org/fhir\">");
        for (var i = 0; i < 200; i++) xml.Append("<extension url=\"urn:x\">");
        xml.Append("<valueString value=\"deep\"/>");
        for (var i = 0; i < 200; i++) xml.Append("</extension>");
        xml.Append("</Patient>");
        var r = Xml.Parse(xml.ToString());
        Assert.False(r.Success);
        Assert.Contains(r.Issues, i => i.Code == "too-costly");
    }
}

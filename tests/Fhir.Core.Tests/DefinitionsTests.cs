using FhirArchive.Fhir.Definitions;
using Xunit;

namespace FhirArchive.Fhir.Tests;

public class DefinitionsTests
{
    private static readonly FhirDefinitions R4 = FhirDefinitions.R4;

    [Fact]
    public void Knows_all_R4_resource_types()
    {
        // 4.0.1 defines 146 concrete resource types (the often-quoted 145 leaves out Parameters).
        Assert.Equal(146, R4.ResourceTypes.Count);
        Assert.Contains("Parameters", R4.ResourceTypes);
        Assert.Contains("Patient", R4.ResourceTypes);
        Assert.Contains("MedicinalProductUndesirableEffect", R4.ResourceTypes);
        Assert.DoesNotContain("DomainResource", R4.ResourceTypes); // abstract
        Assert.False(R4.IsResourceType("Quantity"));
    }

    [Fact]
    public void Patient_elements_follow_the_snapshot_in_order()
    {
        var patient = R4.GetType("Patient")!;
        var names = patient.Elements.Select(e => e.Name).ToList();
        Assert.Equal(["id", "meta", "implicitRules", "language", "text", "contained", "extension", "modifierExtension", "identifier"], names.Take(9));
        var birthDate = patient.GetElement("birthDate")!;
        Assert.Equal("date", birthDate.SingleType);
        Assert.False(birthDate.IsCollection);
        Assert.True(patient.GetElement("name")!.IsCollection);
        Assert.Equal("id", patient.GetElement("id")!.SingleType);
    }

    [Fact]
    public void Choice_elements_answer_to_their_typed_names()
    {
        var obs = R4.GetType("Observation")!;
        Assert.True(obs.TryGetBySerialName("valueQuantity", out var def, out var type));
        Assert.Equal("value", def.Name);
        Assert.Equal("Quantity", type);
        Assert.True(obs.TryGetBySerialName("effectiveDateTime", out _, out type));
        Assert.Equal("dateTime", type);
        Assert.False(obs.TryGetBySerialName("value", out _, out _));
        Assert.False(obs.TryGetBySerialName("valueHumanName", out _, out _));
    }

    [Fact]
    public void Backbone_elements_and_content_references_have_children()
    {
        var contact = R4.GetType("Patient")!.GetElement("contact")!;
        Assert.NotNull(contact.Backbone);
        Assert.NotNull(contact.Backbone!.GetElement("relationship"));
        var item = R4.GetType("Questionnaire")!.GetElement("item")!;
        var nested = item.Backbone!.GetElement("item")!;
        Assert.Equal("#Questionnaire.item", nested.ContentReference);
        Assert.Same(item.Backbone, nested.Backbone);
    }

    [Fact]
    public void Primitives_know_their_json_kind_and_regex()
    {
        Assert.Equal(JsonPrimitiveKind.Number, R4.GetType("decimal")!.JsonKind);
        Assert.Equal(JsonPrimitiveKind.Number, R4.GetType("positiveInt")!.JsonKind);
        Assert.Equal(JsonPrimitiveKind.Boolean, R4.GetType("boolean")!.JsonKind);
        Assert.Equal(JsonPrimitiveKind.String, R4.GetType("code")!.JsonKind);
        Assert.Equal("System.Decimal", R4.GetType("decimal")!.SystemType);
        Assert.NotNull(R4.GetType("date")!.Regex);
        Assert.True(R4.IsSubtypeOf("code", "string"));
        Assert.True(R4.IsSubtypeOf("Patient", "Resource"));
        Assert.True(R4.IsSubtypeOf("Age", "Quantity"));
    }

    [Fact]
    public void Element_id_and_extension_url_are_xml_attributes()
    {
        Assert.True(R4.GetType("Extension")!.GetElement("url")!.IsXmlAttribute);
        Assert.True(R4.GetType("Coding")!.GetElement("id")!.IsXmlAttribute);
        Assert.False(R4.GetType("Coding")!.GetElement("code")!.IsXmlAttribute);
    }

    [Fact]
    public void Invariants_and_bindings_are_read()
    {
        var root = R4.GetType("Patient")!.Root!;
        Assert.Contains(root.Constraints, c => c.Key == "dom-2" && c.Expression is not null);
        var gender = R4.GetType("Patient")!.GetElement("gender")!;
        Assert.Equal("required", gender.Binding!.Strength);
        Assert.StartsWith("http://hl7.org/fhir/ValueSet/administrative-gender", gender.Binding.ValueSet);
    }

    [Fact]
    public void Embedded_definition_files_are_all_present()
    {
        var names = FhirDefinitions.DefinitionFileNames.ToList();
        foreach (var f in new[] { "Bundle-resources.json", "Bundle-types.json", "Bundle-searchParams.json", "Bundle-valuesets.json", "CompartmentDefinition-patient.json" })
            Assert.Contains(f, names);
        Assert.Equal(1375, FhirDefinitions.DefinitionResources("Bundle-searchParams.json").Count());
    }
}

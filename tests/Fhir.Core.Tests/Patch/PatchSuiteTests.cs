using System.Text.Json.Nodes;
using System.Xml.Linq;
using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Patch;
using FhirArchive.Fhir.Serialization;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Fhir.Serialization.Xml;
using Xunit;

namespace FhirArchive.Fhir.Tests.Patch;

/// <summary>
/// The official FHIR patch test cases (FHIR/fhir-test-cases r4/patch, copied in Patch/cases with their SOURCE.md):
/// every FHIRPath Patch case and every JSON Patch case, applied forwards.
/// </summary>
public class PatchSuiteTests
{
    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "Patch", "cases");
    private static readonly XNamespace Fhir = "http://hl7.org/fhir";

    private static XDocument FhirPathCases() => XDocument.Load(Path.Combine(Folder, "fhir-patch-tests.xml"));

    public static TheoryData<string> FhirPathCaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var c in FhirPathCases().Root!.Elements("case")) data.Add((string)c.Attribute("name")!);
        return data;
    }

    [Theory]
    [MemberData(nameof(FhirPathCaseNames))]
    public void FhirPathPatchCase(string name)
    {
        var c = FhirPathCases().Root!.Elements("case").Single(x => (string)x.Attribute("name")! == name);
        var input = ParseXml(c.Element("input")!);
        var diff = ParseXml(c.Element("diff")!);
        if (c.Element("error") is { } error)
        {
            var e = Assert.Throws<PatchException>(() => FhirPathPatch.Apply(input, diff));
            Assert.Contains((string)error.Attribute("msg")!, e.Message);
            return;
        }
        var before = FhirJsonSerializer.Serialize(input);
        var output = FhirPathPatch.Apply(input, diff);
        AssertSameJson(FhirJsonSerializer.Serialize(ParseXml(c.Element("output")!)), FhirJsonSerializer.Serialize(output));
        Assert.Equal(before, FhirJsonSerializer.Serialize(input)); // the input is left alone
    }

    public static TheoryData<int, string> JsonPatchCases()
    {
        var data = new TheoryData<int, string>();
        var all = JsonNode.Parse(File.ReadAllText(Path.Combine(Folder, "json-patch-tests.json")))!.AsArray();
        for (var i = 0; i < all.Count; i++) data.Add(i, (string)all[i]!["comment"]!);
        return data;
    }

    [Theory]
    [MemberData(nameof(JsonPatchCases))]
    public void JsonPatchCase(int index, string comment)
    {
        var c = JsonNode.Parse(File.ReadAllText(Path.Combine(Folder, "json-patch-tests.json")))!.AsArray()[index]!;
        Assert.Equal(comment, (string)c["comment"]!);
        var doc = c["doc"]!;
        var before = doc.ToJsonString();
        if (c["error"] is not null)
        {
            Assert.Throws<PatchException>(() => JsonPatch.Apply(doc, c["patch"]));
            return;
        }
        var result = JsonPatch.Apply(doc, c["patch"]);
        Assert.True(JsonNode.DeepEquals(c["expected"], result), $"expected {c["expected"]!.ToJsonString()}, got {result?.ToJsonString()}");
        Assert.Equal(before, doc.ToJsonString());
    }

    private static ElementNode ParseXml(XElement holder)
    {
        var resource = holder.Elements().Single(e => e.Name.Namespace == Fhir);
        return new FhirXmlParser(ParserOptions.Strict).Parse(resource.ToString()).GetResourceOrThrow();
    }

    /// <summary>
    /// Equal as JSON, with the narrative's layout whitespace between tags ignored: the "Full Resource" case's
    /// expected output was re-indented by the tool that wrote it, though no operation touches the narrative.
    /// </summary>
    private static void AssertSameJson(string expected, string actual)
    {
        JsonNode? Normalised(string json)
        {
            var node = JsonNode.Parse(json)!;
            if (node["text"]?["div"] is JsonValue div)
                node["text"]!["div"] = System.Text.RegularExpressions.Regex.Replace((string)div!, @">\s+<", "><").Trim();
            return node;
        }
        Assert.True(JsonNode.DeepEquals(Normalised(expected), Normalised(actual)), $"expected {expected}\n     got {actual}");
    }
}

using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json.Nodes;
using FhirArchive.Fhir.Serialization;
using FhirArchive.Fhir.Serialization.Json;
using Xunit;

namespace FhirArchive.Profiles.Tests;

public class PackageTests
{
    private static Dictionary<string, string> Unpack()
    {
        using var ms = new MemoryStream();
        ImplementationGuidePackage.Write(ms);
        ms.Position = 0;
        using var gzip = new GZipStream(ms, CompressionMode.Decompress);
        using var tar = new TarReader(gzip);
        var files = new Dictionary<string, string>();
        while (tar.GetNextEntry() is { } entry)
        {
            using var reader = new StreamReader(entry.DataStream!);
            files.Add(entry.Name, reader.ReadToEnd());
        }
        return files;
    }

    [Fact]
    public void The_package_holds_a_manifest_an_index_and_valid_resources()
    {
        var files = Unpack();
        var manifest = JsonNode.Parse(files["package/package.json"])!;
        Assert.Equal(ImplementationGuidePackage.Name, manifest["name"]!.GetValue<string>());
        Assert.Equal("4.0.1", manifest["fhirVersions"]![0]!.GetValue<string>());

        var index = (JsonArray)JsonNode.Parse(files["package/.index.json"])!["files"]!;
        Assert.All(index, f => Assert.True(files.ContainsKey("package/" + f!["filename"]!.GetValue<string>())));

        var parser = new FhirJsonParser(ParserOptions.Strict);
        foreach (var (name, json) in files.Where(f => f.Key != "package/package.json" && f.Key != "package/.index.json"))
        {
            var r = parser.Parse(json);
            Assert.True(r.Success, $"{name}: {string.Join("; ", r.Issues)}");
        }

        var types = index.GroupBy(f => f!["resourceType"]!.GetValue<string>()).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(CnProfiles.Urls.Count, types["StructureDefinition"]);
        Assert.True(types["CodeSystem"] >= 15 && types["ValueSet"] >= 15, string.Join(", ", types));
        Assert.Equal(NamingSystems.All.Count, types["NamingSystem"]);
        Assert.All(index.Where(f => f!["resourceType"]!.GetValue<string>() == "StructureDefinition"),
            f => Assert.NotNull(JsonNode.Parse(files["package/" + f!["filename"]!.GetValue<string>()])!["snapshot"]));
        Assert.Contains(files.Keys, k => k == "package/example/Patient-zhang-wei.json");

        // The package's own search parameters: the record status on Patient, on the profile's extension.
        Assert.Equal(CnSearchParameters.All.Count, types["SearchParameter"]);
        var status = JsonNode.Parse(files["package/SearchParameter-Patient-record-status.json"])!;
        Assert.Equal(CnSearchParameters.RecordStatus, status["url"]!.GetValue<string>());
        Assert.Equal("record-status", status["code"]!.GetValue<string>());
        Assert.Equal("token", status["type"]!.GetValue<string>());
        Assert.Equal(["Patient"], status["base"]!.AsArray().Select(b => b!.GetValue<string>()));
        Assert.Contains("http://fhirarchive.cn/fhir/StructureDefinition/cn-record-status", status["expression"]!.GetValue<string>());
    }

    [Fact]
    public void Naming_systems_make_the_national_and_hl7_china_uris_aliases()
    {
        var aliases = NamingSystems.Aliases("urn:oid:2.16.840.1.113883.2.23.1.19.1");
        Assert.Equal(["urn:oid:2.16.156.10011.1.3", "urn:oid:2.16.840.1.113883.2.23.1.19.1"], aliases);
        Assert.Equal(["http://example.org/x"], NamingSystems.Aliases("http://example.org/x"));
    }
}

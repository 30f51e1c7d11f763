using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json.Nodes;
using FhirArchive.Fhir.Serialization.Json;
using Xunit;

namespace FhirArchive.Profiles.Tests;

/// <summary>The FHIR package the build writes (conformance/Fhir.Conformance, target WriteFhirPackage).</summary>
public class BuiltPackageTests
{
    private static readonly Lazy<Dictionary<string, string>> Files = new(Read);

    private static string PackagePath()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "FhirArchive.sln")))
                return Path.Combine(dir.FullName, "artifacts", "package", "fhirarchive.cn.record.tgz");
        throw new InvalidOperationException("repository root not found");
    }

    private static Dictionary<string, string> Read()
    {
        using var file = File.OpenRead(PackagePath());
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var tar = new TarReader(gzip);
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        while (tar.GetNextEntry() is { } entry)
        {
            using var reader = new StreamReader(entry.DataStream!);
            files[entry.Name] = reader.ReadToEnd();
        }
        return files;
    }

    [Fact]
    public void The_manifest_names_the_package_and_its_fhir_version()
    {
        var manifest = JsonNode.Parse(Files.Value["package/package.json"])!;
        Assert.Equal(ImplementationGuidePackage.Name, manifest["name"]!.GetValue<string>());
        Assert.Equal(ImplementationGuidePackage.Version, manifest["version"]!.GetValue<string>());
        Assert.Contains("4.0.1", manifest["fhirVersions"]!.AsArray().Select(v => v!.GetValue<string>()));
        Assert.Equal("4.0.1", manifest["dependencies"]!["hl7.fhir.r4.core"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(manifest["canonical"]?.GetValue<string>()));
    }

    [Fact]
    public void Every_profile_is_shipped_with_a_snapshot()
    {
        var sds = Resources().Where(r => r["resourceType"]!.GetValue<string>() == "StructureDefinition").ToList();
        Assert.Equal(CnProfiles.Urls.Count, sds.Count);
        Assert.All(sds, sd => Assert.True(sd["snapshot"]?["element"]?.AsArray().Count > 0, $"{sd["url"]} has no snapshot"));
        Assert.Equal(CnProfiles.Urls.Order(), sds.Select(sd => sd["url"]!.GetValue<string>()).Order());
    }

    [Fact]
    public void Every_resource_parses_strictly_and_is_in_the_index()
    {
        var index = JsonNode.Parse(Files.Value["package/.index.json"])!["files"]!.AsArray()
            .Select(f => "package/" + f!["filename"]!.GetValue<string>()).ToHashSet();
        var resourceFiles = Files.Value.Keys.Where(k => k.EndsWith(".json", StringComparison.Ordinal) && !k.EndsWith("package.json") && !k.EndsWith(".index.json")).ToList();
        Assert.True(resourceFiles.Count > 20);
        foreach (var name in resourceFiles)
        {
            var parsed = new FhirJsonParser().Parse(System.Text.Encoding.UTF8.GetBytes(Files.Value[name]));
            Assert.True(parsed.Resource is not null && !parsed.Issues.Any(i => i.IsError), $"{name}: {string.Join("; ", parsed.Issues)}");
            if (!name.StartsWith("package/example/", StringComparison.Ordinal)) Assert.Contains(name, index);
        }
        var types = Resources().Select(r => r["resourceType"]!.GetValue<string>()).ToHashSet();
        Assert.Superset(new HashSet<string> { "StructureDefinition", "CodeSystem", "ValueSet", "ConceptMap", "NamingSystem" }, types);
    }

    private static IEnumerable<JsonNode> Resources() =>
        Files.Value.Where(f => f.Key.EndsWith(".json", StringComparison.Ordinal) && !f.Key.StartsWith("package/example/", StringComparison.Ordinal)
                               && !f.Key.EndsWith("package.json") && !f.Key.EndsWith(".index.json"))
            .Select(f => JsonNode.Parse(f.Value)!);
}

using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Terminology;

namespace FhirArchive.Profiles;

/// <summary>
/// FhirArchive's conformance resources as an npm-style FHIR package (what an implementation guide ships):
/// package/package.json, package/.index.json and one JSON file per resource — profiles and extensions with
/// their snapshots, the Chinese code systems, value sets and concept maps, the naming systems, the search
/// parameters and the examples.
/// </summary>
public static class ImplementationGuidePackage
{
    public const string Name = "fhirarchive.cn.record";
    public const string Version = "0.1.0";

    /// <summary>Every resource of the package as (file name, JSON).</summary>
    public static IEnumerable<(string File, string Json)> Resources()
    {
        foreach (var url in CnProfiles.Urls.Order())
        {
            var sd = CnProfiles.WithSnapshot(url)!;
            yield return ($"StructureDefinition-{sd["id"]}.json", sd.ToJsonString());
        }
        var t = TerminologyService.Default;
        foreach (var cs in t.ChineseCodeSystems) yield return File(TerminologyResources.ToCodeSystem(cs));
        foreach (var vs in t.ChineseValueSets) yield return File(TerminologyResources.ToValueSet(vs));
        foreach (var map in t.ChineseConceptMaps) yield return File(TerminologyResources.ToConceptMap(map));
        foreach (var ns in NamingSystems.All) yield return File(NamingSystems.ToResource(ns));
        foreach (var sp in CnSearchParameters.All)
            yield return ($"SearchParameter-{JsonNode.Parse(sp)!["id"]}.json", sp);
        var asm = typeof(ImplementationGuidePackage).Assembly;
        foreach (var name in asm.GetManifestResourceNames().Where(n => n.StartsWith("Examples/", StringComparison.Ordinal)).Order())
        {
            using var reader = new StreamReader(asm.GetManifestResourceStream(name)!);
            yield return ("example/" + name["Examples/".Length..], reader.ReadToEnd());
        }
    }

    private static (string, string) File(ElementNode resource) =>
        ($"{resource.Type}-{resource.ResourceId}.json", FhirJsonSerializer.Serialize(resource));

    /// <summary>Writes the package as a gzip-compressed tar (the .tgz that FHIR package tools read).</summary>
    public static void Write(Stream output)
    {
        using var gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true);
        using var tar = new TarWriter(gzip, TarEntryFormat.Pax, leaveOpen: true);
        var resources = Resources().ToList();
        var index = new JsonArray();
        foreach (var (file, json) in resources.Where(r => !r.File.StartsWith("example/", StringComparison.Ordinal)))
        {
            var r = JsonNode.Parse(json)!;
            index.Add(new JsonObject
            {
                ["filename"] = file,
                ["resourceType"] = r["resourceType"]!.GetValue<string>(),
                ["id"] = r["id"]?.GetValue<string>(),
                ["url"] = r["url"]?.GetValue<string>(),
            });
        }
        var manifest = new JsonObject
        {
            ["name"] = Name,
            ["version"] = Version,
            ["description"] = "居民电子健康档案 FHIR 本地化规范 / Chinese resident health record profiles (FhirArchive)",
            ["fhirVersions"] = new JsonArray("4.0.1"),
            ["dependencies"] = new JsonObject { ["hl7.fhir.r4.core"] = "4.0.1" },
            ["license"] = "Apache-2.0",
            ["canonical"] = "http://fhirarchive.cn/fhir",
        };
        Add(tar, "package/package.json", manifest.ToJsonString());
        Add(tar, "package/.index.json", new JsonObject { ["index-version"] = 1, ["files"] = index }.ToJsonString());
        foreach (var (file, json) in resources) Add(tar, "package/" + file, json);
    }

    private static void Add(TarWriter tar, string name, string content)
    {
        var entry = new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)) };
        tar.WriteEntry(entry);
    }
}

using System.Net;
using FhirArchive.Profiles;
using FhirArchive.Rest.ConformanceResources;
using FhirArchive.Terminology;
using Xunit;

namespace FhirArchive.Rest.Tests;

public sealed class ConformanceFixture() : ServerFixtureWith(new Dictionary<string, string> { ["ConformanceResources:Load"] = "true" }, null);

public sealed class PostgresConformanceFixture() : ServerFixtureWith(PostgresCluster.Settings(new Dictionary<string, string> { ["ConformanceResources:Load"] = "true" }), null);

/// <summary>The package's conformance resources are the server's own: readable and searchable, loaded once.</summary>
public abstract class ConformanceResourceTestsBase<TFixture>(TFixture fx) where TFixture : ServerFixture
{
    [FhirFact]
    public async Task Profiles_are_found_by_url_with_their_snapshot()
    {
        var b = await (await fx.Client.GetAsync("/StructureDefinition?url=" + Uri.EscapeDataString(CnProfiles.ResidentPatient))).JsonAsync();
        var entries = b.GetProperty("entry").EnumerateArray().ToList();
        Assert.Single(entries);
        var sd = entries[0].GetProperty("resource");
        Assert.Equal(CnProfiles.ResidentPatient, sd.GetProperty("url").GetString());
        Assert.True(sd.GetProperty("snapshot").GetProperty("element").GetArrayLength() > 10);
    }

    [FhirFact]
    public async Task Every_profile_and_extension_of_the_package_is_stored()
    {
        var ids = await fx.Client.SearchIdsAsync("/StructureDefinition?_count=500");
        foreach (var url in CnProfiles.Urls) Assert.Contains(url[(url.LastIndexOf('/') + 1)..], ids);
        var extensions = await fx.Client.SearchIdsAsync("/StructureDefinition?type=Extension&_count=500");
        Assert.NotEmpty(extensions);
        Assert.All(extensions, id => Assert.Contains(id, ids));
        Assert.True(extensions.Count < ids.Count);
    }

    [FhirFact]
    public async Task Code_systems_and_value_sets_are_read_and_searched()
    {
        var cs = TerminologyService.Default.ChineseCodeSystems[0];
        var found = await (await fx.Client.GetAsync("/CodeSystem?url=" + Uri.EscapeDataString(cs.Url))).JsonAsync();
        var resource = found.GetProperty("entry")[0].GetProperty("resource");
        Assert.Equal(cs.Url, resource.GetProperty("url").GetString());
        var id = resource.GetProperty("id").GetString();
        var read = await fx.Client.GetAsync($"/CodeSystem/{id}");
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.NotEmpty(await fx.Client.SearchIdsAsync("/ValueSet?_count=500"));
        Assert.NotEmpty(await fx.Client.SearchIdsAsync("/ConceptMap"));
    }

    [FhirFact]
    public async Task Naming_systems_resolve_by_either_identifier_uri()
    {
        var entry = NamingSystems.All.First(e => e.Oid.Length > 0 && e.Hl7China is not null);
        // uniqueId of type oid holds the bare OID (the national one, and HL7 China's)
        var byOid = await fx.Client.SearchIdsAsync("/NamingSystem?value=" + entry.Oid);
        var byHl7 = await fx.Client.SearchIdsAsync("/NamingSystem?value=" + entry.Hl7China);
        Assert.Equal([entry.Id], byOid);
        Assert.Equal(byOid, byHl7);
    }

    [FhirFact]
    public async Task Loading_again_writes_nothing_and_a_changed_resource_is_put_back()
    {
        Assert.Equal(0, await ConformanceResourceLoader.LoadAsync(fx.Factory.Services));
        var url = "/StructureDefinition/" + CnProfiles.ResidentPatient[(CnProfiles.ResidentPatient.LastIndexOf('/') + 1)..];
        var before = await (await fx.Client.GetAsync(url)).JsonAsync();
        var changed = before.GetRawText().Replace(before.GetProperty("title").GetString()!, "changed by hand");
        await fx.Client.PutAsync(changed);
        Assert.Equal(1, await ConformanceResourceLoader.LoadAsync(fx.Factory.Services));
        var after = await (await fx.Client.GetAsync(url)).JsonAsync();
        Assert.Equal(before.GetProperty("title").GetString(), after.GetProperty("title").GetString());
    }
}

public sealed class ConformanceResourceTests(ConformanceFixture fx) : ConformanceResourceTestsBase<ConformanceFixture>(fx), IClassFixture<ConformanceFixture>;

public sealed class PostgresConformanceResourceTests(PostgresConformanceFixture fx) : ConformanceResourceTestsBase<PostgresConformanceFixture>(fx), IClassFixture<PostgresConformanceFixture>;

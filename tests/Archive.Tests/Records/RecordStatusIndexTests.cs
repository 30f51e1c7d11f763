using System.Net;
using FhirArchive.Rest.ConformanceResources;
using FhirArchive.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace FhirArchive.Archive.Tests.Records;

/// <summary>
/// The package's record-status parameter on records stored before it existed: the start-up indexer rebuilds their
/// index rows once (no new versions), and leaves them alone on later starts.
/// </summary>
public abstract class RecordStatusIndexTestsBase<TFixture>(TFixture fx) : RecordTestsBase<TFixture>(fx) where TFixture : ServerFixture
{
    private readonly IServiceProvider _services = fx.Factory.Services;

    /// <summary>The database as a server before the parameter left it: no record-status rows, no note that it was indexed.</summary>
    private async Task ForgetTheParameterAsync()
    {
        await using var db = await _services.GetRequiredService<IDbContextFactory<FhirDbContext>>().CreateDbContextAsync();
        await db.Database.ExecuteSqlRawAsync("""DELETE FROM "TokenIndex" WHERE "Param" = 'record-status'""");
        await db.Database.ExecuteSqlRawAsync($"""DELETE FROM "UniqueKey" WHERE "Scope" = '{SearchParameterIndexer.KeyScope}'""");
    }

    [FhirFact]
    public async Task Records_stored_before_the_parameter_are_indexed_once_without_new_versions()
    {
        await EnsureInstitutionAsync();
        var (json, card) = Residents.New();
        var active = await CreateRecordAsync(json);
        var lost = await CreateRecordAsync(Residents.New().Json);
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Post, $"/Patient/{lost}/$close", Close("inactive-lost"), Doctor)).StatusCode);
        // Written with the parameter in force, a later start has nothing to do.
        Assert.Equal(0, await SearchParameterIndexer.RunAsync(_services));

        await ForgetTheParameterAsync();
        Assert.Empty(await C.SearchIdsAsync($"/Patient?record-status=active&_id={active}"));
        Assert.Empty(await C.SearchIdsAsync($"/Patient?record-status=inactive-lost&_id={lost}"));

        Assert.True(await SearchParameterIndexer.RunAsync(_services) >= 2);
        Assert.Contains(active, await C.SearchIdsAsync($"/Patient?record-status=active&_id={active}"));
        Assert.Contains(lost, await C.SearchIdsAsync($"/Patient?record-status={StatusTag}|inactive-lost&_id={lost}"));
        Assert.Empty(await C.SearchIdsAsync($"/Patient?record-status=active&_id={lost}"));
        // The other rows were rebuilt alike, and no version was added.
        Assert.Contains(active, await C.SearchIdsAsync($"/Patient?identifier=urn:oid:2.16.156.10011.1.3|{card}&gender=male"));
        Assert.Equal("1", (await ReadAsync($"/Patient/{active}")).GetProperty("meta").GetProperty("versionId").GetString());
        Assert.Equal(0, await SearchParameterIndexer.RunAsync(_services));
    }
}

public sealed class RecordStatusIndexTests(RecordFixture fx) : RecordStatusIndexTestsBase<RecordFixture>(fx), IClassFixture<RecordFixture>;
public sealed class PostgresRecordStatusIndexTests(PostgresRecordFixture fx) : RecordStatusIndexTestsBase<PostgresRecordFixture>(fx), IClassFixture<PostgresRecordFixture>;

using FhirArchive.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Storage.Tests;

public abstract class StorageTestsBase<TFixture>(TFixture fx, string provider) where TFixture : ServerFixture
{
    private FhirDbContext Db() => fx.Factory.Services.GetRequiredService<IDbContextFactory<FhirDbContext>>().CreateDbContext();

    [FhirFact]
    public void Runs_on_the_expected_provider_with_the_latest_schema()
    {
        using var db = Db();
        Assert.Equal(provider, db.Database.ProviderName);
        Assert.Equal(db.Schema.LatestVersion, db.SchemaVersions.Max(v => v.Version));
    }

    [FhirFact]
    public async Task Migrating_again_is_a_no_op()
    {
        int before;
        using (var db0 = Db()) before = db0.SchemaVersions.Count();
        await fx.Factory.Services.GetRequiredService<IResourceStore>().InitializeAsync();
        using var db = Db();
        Assert.Equal(before, db.SchemaVersions.Count());
        Assert.Equal(db.Schema.LatestVersion, db.SchemaVersions.Max(v => v.Version));
    }

    [FhirFact]
    public async Task Every_version_is_a_compressed_row_and_only_the_current_one_is_indexed()
    {
        var id = await fx.Client.CreateAsync("""{"resourceType":"Patient","name":[{"family":"存储"}],"gender":"male"}""");
        await fx.Client.PutAsync($$"""{"resourceType":"Patient","id":"{{id}}","name":[{"family":"存储二"}],"gender":"male"}""");
        await fx.Client.DeleteAsync($"/Patient/{id}");
        using var db = Db();
        var rows = db.Resources.Where(r => r.ResourceType == "Patient" && r.ResourceId == id).OrderBy(r => r.Version).ToList();
        Assert.Equal([1, 2, 3], rows.Select(r => r.Version));
        Assert.Equal([false, false, true], rows.Select(r => r.IsCurrent));
        Assert.Equal([false, false, true], rows.Select(r => r.IsDeleted));
        Assert.Null(rows[2].Data);
        var json = System.Text.Encoding.UTF8.GetString(Compression.Decompress(rows[1].Data!));
        Assert.Contains("存储二", json);
        var rowIds = rows.Select(r => r.Id).ToList();
        Assert.Equal(0, db.Strings.Count(s => rowIds.Contains(s.ResourceRowId)));
        Assert.Equal(0, db.Tokens.Count(s => rowIds.Contains(s.ResourceRowId)));
    }
}

public sealed class SqliteStorageTests(ServerFixture fx) : StorageTestsBase<ServerFixture>(fx, "Microsoft.EntityFrameworkCore.Sqlite"), IClassFixture<ServerFixture>;

public sealed class PostgresStorageTests(PostgresServerFixture fx) : StorageTestsBase<PostgresServerFixture>(fx, "Npgsql.EntityFrameworkCore.PostgreSQL"), IClassFixture<PostgresServerFixture>;

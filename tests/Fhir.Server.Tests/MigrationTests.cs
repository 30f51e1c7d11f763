using FhirArchive.Storage;
using FhirArchive.Storage.Schema;
using FhirArchive.Storage.Search;
using Microsoft.EntityFrameworkCore;
using Xunit;

namespace FhirArchive.Server.Tests;

/// <summary>A database left at schema version 1 (with data written then) upgrades in place and stays searchable.</summary>
public abstract class MigrationTestsBase
{
    protected abstract SqlDialect Dialect { get; }
    protected abstract DbContextOptions<FhirDbContext> NewDatabase();

    private sealed class Factory(DbContextOptions<FhirDbContext> options) : IDbContextFactory<FhirDbContext>
    {
        public FhirDbContext CreateDbContext() => new(options);
    }

    [FhirFact]
    public async Task A_version_1_database_upgrades_to_the_latest_schema_and_keeps_its_rows_searchable()
    {
        var options = NewDatabase();
        await using (var db = new FhirDbContext(options))
        {
            await SchemaMigrator.MigrateAsync(db, Dialect, upTo: 1);
            Assert.Equal(1, await db.SchemaVersions.MaxAsync(v => v.Version));
            // Rows as version 1 wrote them (no CompositeGroup column yet).
            await db.Database.ExecuteSqlRawAsync("""
                INSERT INTO "ResourceVersion" ("ResourceType", "ResourceId", "Version", "LastUpdated", "IsDeleted", "IsCurrent", "Data")
                VALUES ('Patient', 'old', 1, 0, FALSE, TRUE, NULL)
                """);
            await db.Database.ExecuteSqlRawAsync("""
                INSERT INTO "TokenIndex" ("ResourceRowId", "Param", "System", "Code", "Text")
                SELECT "Id", 'gender', NULL, 'male', NULL FROM "ResourceVersion" WHERE "ResourceId" = 'old'
                """);

            await SchemaMigrator.MigrateAsync(db, Dialect);
            Assert.Equal(SchemaMigrator.Versions, await db.SchemaVersions.OrderBy(v => v.Version).Select(v => v.Version).ToListAsync());
            Assert.Null((await db.Tokens.SingleAsync(t => t.Code == "male")).CompositeGroup);
        }

        var store = new ResourceStore(new Factory(options), new StorageOptions { Provider = Dialect == SqlDialect.Postgres ? "postgres" : "sqlite" });
        var query = new SearchQuery { ResourceType = "Patient" };
        query.Criteria.Add(new SearchCriterion([new TokenPredicate("gender", null, false, "male", true)]));
        var result = await store.SearchAsync(query);
        Assert.Equal("old", Assert.Single(result.Matches).Id);
    }
}

public sealed class SqliteMigrationTests : MigrationTestsBase, IDisposable
{
    private readonly string _file = Path.Combine(Path.GetTempPath(), $"fhirarchive-migration-{Guid.NewGuid():N}.db");
    protected override SqlDialect Dialect => SqlDialect.Sqlite;

    protected override DbContextOptions<FhirDbContext> NewDatabase() =>
        new DbContextOptionsBuilder<FhirDbContext>().UseSqlite($"Data Source={_file}").Options;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        File.Delete(_file);
    }
}

public sealed class PostgresMigrationTests : MigrationTestsBase
{
    protected override SqlDialect Dialect => SqlDialect.Postgres;

    protected override DbContextOptions<FhirDbContext> NewDatabase() =>
        new DbContextOptionsBuilder<FhirDbContext>().UseNpgsql(PostgresCluster.CreateDatabase()).Options;
}

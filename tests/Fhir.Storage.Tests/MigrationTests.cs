using FhirArchive.Archive.Grants;
using FhirArchive.Audit.Store;
using FhirArchive.Rest.Subscriptions;
using FhirArchive.Storage;
using FhirArchive.Storage.AuthState;
using FhirArchive.Storage.Schema;
using FhirArchive.Storage.Search;
using Microsoft.EntityFrameworkCore;
using Xunit;

namespace FhirArchive.Storage.Tests;

/// <summary>A database left at schema version 1 (with data written then) upgrades in place and stays searchable.</summary>
public abstract class MigrationTestsBase
{
    protected abstract SqlDialect Dialect { get; }
    protected abstract DbContextOptions<FhirDbContext> NewDatabase();

    /// <summary>The server's schema parts besides the store's own tables: the latest schema is all of theirs.</summary>
    protected static readonly SchemaPart[] ServerParts = [AuthStateSchema.Part, AuditSchema.Part, AccessRequestSchema.Part, SubscriptionSchema.Part];

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
            Assert.Equal(db.Schema.Versions, await db.SchemaVersions.OrderBy(v => v.Version).Select(v => v.Version).ToListAsync());
            Assert.Null((await db.Tokens.SingleAsync(t => t.Code == "male")).CompositeGroup);
        }

        var store = new ResourceStore(new Factory(options), new StorageOptions { Provider = Dialect == SqlDialect.Postgres ? "postgres" : "sqlite" });
        var query = new SearchQuery { ResourceType = "Patient" };
        query.Criteria.Add(new SearchCriterion([new TokenPredicate("gender", null, false, "male", true)]));
        var result = await store.SearchAsync(query);
        Assert.Equal("old", Assert.Single(result.Matches).Id);
    }

    /// <summary>
    /// Reference index rows written before version 14 (no source type) get their resource's type from the version
    /// rows, so searches and reverse includes narrowed to a type still find them — and only those of the type.
    /// </summary>
    [FhirFact]
    public async Task References_written_before_version_14_get_their_source_type_and_stay_searchable_by_type()
    {
        var options = NewDatabase();
        await using (var db = new FhirDbContext(options))
        {
            await SchemaMigrator.MigrateAsync(db, Dialect, upTo: 13);
            // Literals only, so the statement is built as text.
            var versions = """
                INSERT INTO "ResourceVersion" ("ResourceType", "ResourceId", "Version", "LastUpdated", "IsDeleted", "IsCurrent", "Data")
                VALUES ('Patient', 'p', 1, 0, FALSE, TRUE, NULL), ('Observation', 'o', 1, 0, FALSE, TRUE, NULL), ('Encounter', 'e', 1, 0, FALSE, TRUE, NULL)
                """;
            await db.Database.ExecuteSqlRawAsync(versions);
            await db.Database.ExecuteSqlRawAsync("""
                INSERT INTO "ReferenceIndex" ("ResourceRowId", "Param", "TargetType", "TargetId", "Url")
                SELECT "Id", 'patient', 'Patient', 'p', 'Patient/p' FROM "ResourceVersion" WHERE "ResourceId" IN ('o', 'e')
                """);
            await SchemaMigrator.MigrateAsync(db, Dialect);
            Assert.Equal(["Encounter", "Observation"], (await db.References.Select(r => r.SourceType).ToListAsync()).Order());
        }

        var store = new ResourceStore(new Factory(options), new StorageOptions { Provider = Dialect == SqlDialect.Postgres ? "postgres" : "sqlite" });
        var query = new SearchQuery { ResourceType = "Observation" };
        query.Criteria.Add(new SearchCriterion([new ReferencePredicate("patient", "Patient", "p", null)]));
        Assert.Equal("o", Assert.Single((await store.SearchAsync(query)).Matches).Id);
        Assert.Equal("e", Assert.Single(await store.RevIncludesAsync("Encounter", "patient", "Patient", ["p"])).Id);
        Assert.Equal(["e", "o"], (await store.RevIncludesAsync(null, "patient", "Patient", ["p"])).Select(r => r.Id).Order());
    }

    /// <summary>
    /// Audit rows of version 8 (a row, entity rows, an id of their own or their sequence number) become version 9
    /// rows: their entities a text column, their search keys per bucket; chain columns and ids unchanged.
    /// </summary>
    [FhirFact]
    public async Task Version_8_audit_rows_keep_their_chain_ids_and_searches()
    {
        var options = NewDatabase();
        await using var db = new FhirDbContext(options);
        await SchemaMigrator.MigrateAsync(db, Dialect, upTo: 8);
        var hour = new DateTime(2026, 11, 30, 9, 15, 0, DateTimeKind.Utc).Ticks;
        // Literals only (numbers and hex made here), so the statement is built as text.
        var legacy = $$"""
            INSERT INTO "AuditRecord" ("Seq", "EventId", "Recorded", "Action", "Subtype", "Outcome", "Agent", "Organization", "Data", "Hash")
            VALUES (1, 'legacy-guid', {{hour}}, 'R', 'read', 0, 'dr-wang', 'Organization/h1', {{Bytes("{}")}}, {{Bytes("h1")}}),
                   (2, '2', {{hour + 1}}, 'R', 'search-type', 0, NULL, NULL, {{Bytes("{}")}}, {{Bytes("h2")}})
            """;
        await db.Database.ExecuteSqlRawAsync(legacy);
        await db.Database.ExecuteSqlRawAsync("""
            INSERT INTO "AuditEntity" ("Reference", "Seq", "Role") VALUES
              ('Patient/p1', 1, 'patient'), ('Observation/o1', 1, 'resource'), ('Patient/p1', 2, 'patient')
            """);
        await SchemaMigrator.MigrateAsync(db, Dialect);

        var rows = await db.AuditRecords.OrderBy(r => r.Seq).ToListAsync();
        Assert.Equal(["legacy-guid", "2"], rows.Select(r => r.Id));
        Assert.StartsWith("\n", rows[0].Entities);
        Assert.EndsWith("\n", rows[0].Entities);
        Assert.Equal(["patient Patient/p1", "resource Observation/o1"], rows[0].Entities.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order());
        Assert.Equal("\npatient Patient/p1\n", rows[1].Entities);
        Assert.Equal("h1"u8.ToArray(), rows[0].Hash);
        var keys = await db.AuditKeys.Select(k => k.Key + "@" + k.Bucket).ToListAsync();
        string[] expected = ["a:dr-wang@0", "e:Observation/o1@0", "p:Patient/p1@0", $"t:{hour / TimeSpan.TicksPerHour:D12}@0"];
        Assert.Equal(expected, keys.Order(StringComparer.Ordinal));
        // Still append-only.
        await Assert.ThrowsAnyAsync<Exception>(() => db.Database.ExecuteSqlRawAsync("""DELETE FROM "AuditRecord" """));
    }

    /// <summary>Access requests of version 16: the record found moves to its column; no identifier stays in clear.</summary>
    [FhirFact]
    public async Task Version_16_access_requests_keep_their_record_and_lose_the_clear_identifier()
    {
        var options = NewDatabase();
        await using var db = new FhirDbContext(options);
        await SchemaMigrator.MigrateAsync(db, Dialect, upTo: 16);
        // Literals only, so the statement is built as text.
        var legacy = $$"""
            INSERT INTO "AccessRequest" ("Id", "Subject", "Requester", "Organization", "Purpose", "PeriodStart", "PeriodEnd", "Salt", "CodeHash", "Created", "Expires", "Attempts", "Status")
            VALUES ('r1', 'Patient/p1', 'dr', 'Organization/h', 'TREAT', 0, 0, {{Bytes("")}}, {{Bytes("")}}, 0, 0, 0, 'pending'),
                   ('r2', 'identifier:urn:oid:2.16.156.10011.1.3|110105199003071234', 'dr', 'Organization/h', 'TREAT', 0, 0, {{Bytes("")}}, {{Bytes("")}}, 0, 0, 1, 'void')
            """;
        await db.Database.ExecuteSqlRawAsync(legacy);
        await SchemaMigrator.MigrateAsync(db, Dialect);
        var rows = await db.AccessRequests.OrderBy(r => r.Id).ToListAsync();
        Assert.Equal(("Patient/p1", "Patient/p1"), (rows[0].Subject, rows[0].Patient));
        Assert.Equal(("identifier:row:r2", null), (rows[1].Subject, rows[1].Patient));
    }

    private string Bytes(string text) =>
        Dialect == SqlDialect.Sqlite ? $"X'{Convert.ToHexString(System.Text.Encoding.UTF8.GetBytes(text))}'" : $"'\\x{Convert.ToHexString(System.Text.Encoding.UTF8.GetBytes(text))}'::bytea";
}

public sealed class SqliteMigrationTests : MigrationTestsBase, IDisposable
{
    private readonly string _file = Path.Combine(Path.GetTempPath(), $"fhirarchive-migration-{Guid.NewGuid():N}.db");
    protected override SqlDialect Dialect => SqlDialect.Sqlite;

    protected override DbContextOptions<FhirDbContext> NewDatabase() =>
        new DbContextOptionsBuilder<FhirDbContext>().UseSqlite($"Data Source={_file}").UseSchema(ServerParts).Options;

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
        new DbContextOptionsBuilder<FhirDbContext>().UseNpgsql(PostgresCluster.CreateDatabase()).UseSchema(ServerParts).Options;
}

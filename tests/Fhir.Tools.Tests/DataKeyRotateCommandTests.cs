using System.Text;
using FhirArchive.Fhir.Serialization;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Storage;
using FhirArchive.Storage.Encryption;
using FhirArchive.Storage.Indexing;
using FhirArchive.Storage.Search;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using FhirArchive.Tests.Support;
using Xunit;

namespace FhirArchive.Tools.Tests;

/// <summary>data-key-rotate on a store with field encryption on: residents written by the store, then rotated; on each provider.</summary>
public abstract class DataKeyRotateCommandTests : IDisposable
{
    private const string Kek = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
    private const string IdCardSystem = "urn:oid:2.16.156.10011.1.3";
    protected readonly string _dir = Directory.CreateTempSubdirectory("tools-").FullName;
    protected abstract string Provider { get; }
    protected abstract string Connection { get; }
    private string KeyFile => Path.Combine(_dir, "kek");

    protected DataKeyRotateCommandTests() => File.WriteAllText(KeyFile, Kek);
    public void Dispose()
    {
        Directory.Delete(_dir, recursive: true);
        GC.SuppressFinalize(this);
    }

    protected ServiceProvider Store(string kek = Kek) => new ServiceCollection()
        .AddFhirStorage(new StorageOptions { Provider = Provider, ConnectionString = Connection, FieldEncryption = new FieldEncryptionOptions { KeyEncryptionKey = kek } })
        .BuildServiceProvider();

    private static string Patient(string id, int n) =>
        $$$"""{"resourceType":"Patient","id":"{{{id}}}","identifier":[{"system":"{{{IdCardSystem}}}","value":"11010519900307{{{n:D4}}}"}],"telecom":[{"system":"phone","value":"1391234{{{n:D4}}}"}]}""";

    /// <summary>Residents r0..r(n-1), two versions each, and an Observation (stored in clear).</summary>
    protected async Task SeedAsync(ServiceProvider sp, int residents)
    {
        var store = sp.GetRequiredService<IResourceStore>();
        await store.InitializeAsync();
        var extractor = sp.GetRequiredService<IndexExtractor>();
        await using var s = await store.BeginWriteAsync();
        async Task Put(string type, string id, int version, string json)
        {
            var node = new FhirJsonParser(ParserOptions.Lenient).Parse(Encoding.UTF8.GetBytes(json)).Resource!;
            await s.PutAsync(type, id, version, DateTimeOffset.UtcNow, Encoding.UTF8.GetBytes(json), extractor.Extract(node));
        }
        for (var i = 0; i < residents; i++)
            for (var v = 1; v <= 2; v++) await Put("Patient", $"r{i}", v, Patient($"r{i}", i * 10 + v));
        await Put("Observation", "o1", 1, """{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"}}""");
        await s.CommitAsync();
    }

    private int Rotate(StringWriter output, StringWriter error, params string[] more) =>
        Cli.Run(["data-key-rotate", "--connection", Connection, "--provider", Provider, "--key-file", KeyFile, .. more], output, error);

    private async Task<List<(string Type, int? KeyId)>> KeysAsync()
    {
        await using var sp = Store();
        await using var db = await sp.GetRequiredService<IDbContextFactory<FhirDbContext>>().CreateDbContextAsync();
        return [.. (await db.Resources.Select(r => new { r.ResourceType, r.KeyId }).ToListAsync()).Select(r => (r.ResourceType, r.KeyId))];
    }

    [FhirFact]
    public async Task Every_sealed_version_is_resealed_under_a_new_key_and_stays_readable_and_searchable()
    {
        byte[] indexKey, tokensBefore;
        await using (var sp = Store())
        {
            await SeedAsync(sp, residents: 5);
            await using var db = await sp.GetRequiredService<IDbContextFactory<FhirDbContext>>().CreateDbContextAsync();
            indexKey = (await db.Set<DataKeyRow>().SingleAsync(k => k.Id == 0)).WrappedKey;
            tokensBefore = Encoding.UTF8.GetBytes(string.Join(",", await db.Tokens.OrderBy(t => t.Id).Select(t => t.Code).ToListAsync()));
        }
        Assert.All((await KeysAsync()).Where(r => r.Type == "Patient"), r => Assert.Equal(1, r.KeyId));

        var (output, error) = (new StringWriter(), new StringWriter());
        Assert.True(Rotate(output, error, "--batch", "3") == 0, error.ToString());
        Assert.Contains("新数据密钥: 2", output.ToString());
        Assert.Contains("re-sealed 10 versions under key 2; 0 left", output.ToString());
        Assert.Equal(4, output.ToString().Split("已重新加密:").Length - 1); // batches of 3: 3, 6, 9, 10

        var keys = await KeysAsync();
        Assert.All(keys.Where(r => r.Type == "Patient"), r => Assert.Equal(2, r.KeyId));
        Assert.Null(Assert.Single(keys, r => r.Type == "Observation").KeyId);
        await using (var sp = Store())
        {
            var store = sp.GetRequiredService<IResourceStore>();
            await store.InitializeAsync();
            for (var i = 0; i < 5; i++)
                for (var v = 1; v <= 2; v++)
                    Assert.Contains($"11010519900307{i * 10 + v:D4}", Encoding.UTF8.GetString((await store.ReadVersionAsync("Patient", $"r{i}", v))!.Json!));
            // The blind index key and the index rows are as they were: the current phone is still found by one exact search.
            var query = new SearchQuery { ResourceType = "Patient" };
            query.Criteria.Add(new SearchCriterion([new TokenPredicate("phone", null, false, "13912340032", true)]));
            Assert.Equal("r3", Assert.Single((await store.SearchAsync(query)).Matches).Id);
            await using var db = await sp.GetRequiredService<IDbContextFactory<FhirDbContext>>().CreateDbContextAsync();
            Assert.Equal(indexKey, (await db.Set<DataKeyRow>().SingleAsync(k => k.Id == 0)).WrappedKey);
            Assert.Equal(tokensBefore, Encoding.UTF8.GetBytes(string.Join(",", await db.Tokens.OrderBy(t => t.Id).Select(t => t.Code).ToListAsync())));
            Assert.Equal([0, 1, 2], await db.Set<DataKeyRow>().OrderBy(k => k.Id).Select(k => k.Id).ToListAsync());
        }
    }

    [FhirFact]
    public async Task A_rotation_cut_short_is_resumed_under_the_newest_key_without_another()
    {
        await using (var sp = Store())
        {
            await SeedAsync(sp, residents: 2);
            // A rotation that stopped after adding its key: nothing re-sealed yet.
            Assert.Equal(2, await sp.GetRequiredService<FieldEncryption>().RotateAsync());
        }
        var (output, error) = (new StringWriter(), new StringWriter());
        Assert.True(Rotate(output, error, "--resume") == 0, error.ToString());
        Assert.Contains("re-sealed 4 versions under key 2; 0 left", output.ToString());
        Assert.All((await KeysAsync()).Where(r => r.Type == "Patient"), r => Assert.Equal(2, r.KeyId));
        // Again: nothing is left to do.
        output = new StringWriter();
        Assert.Equal(0, Rotate(output, error, "--resume"));
        Assert.Contains("re-sealed 0 versions under key 2; 0 left", output.ToString());
    }

    [FhirFact]
    public async Task A_wrong_key_encryption_key_changes_nothing_and_exits_1()
    {
        await using (var sp = Store()) await SeedAsync(sp, residents: 1);
        File.WriteAllText(KeyFile, "00112233445566778899aabbccddeeff");
        var error = new StringWriter();
        Assert.Equal(1, Rotate(new StringWriter(), error));
        Assert.Contains("does not open", error.ToString());
        Assert.All((await KeysAsync()).Where(r => r.Type == "Patient"), r => Assert.Equal(1, r.KeyId));
    }
}

public sealed class SqliteDataKeyRotateCommandTests : DataKeyRotateCommandTests
{
    protected override string Provider => "sqlite";
    protected override string Connection => $"Data Source={Path.Combine(_dir, "fhirarchive.db")};Pooling=False";

    [Fact]
    public async Task The_store_finds_sealed_versions_by_the_key_id_index()
    {
        await using var sp = Store();
        await SeedAsync(sp, residents: 1);
        await using var db = await sp.GetRequiredService<IDbContextFactory<FhirDbContext>>().CreateDbContextAsync();
        await db.Database.OpenConnectionAsync();
        await using var cmd = db.Database.GetDbConnection().CreateCommand();
        // The re-seal pass's batch query (FieldEncryption.ResealAsync).
        cmd.CommandText = """EXPLAIN QUERY PLAN SELECT "Id" FROM "ResourceVersion" WHERE "KeyId" IS NOT NULL AND "KeyId" < 2 AND "Data" IS NOT NULL ORDER BY "KeyId", "Id" LIMIT 500""";
        var lines = new List<string>();
        await using (var reader = await cmd.ExecuteReaderAsync())
            while (await reader.ReadAsync()) lines.Add(reader.GetString(3));
        var plan = string.Join("\n", lines);
        Assert.True(plan.Contains("IX_ResourceVersion_KeyId") && !plan.Contains("TEMP B-TREE"), plan);
    }

    [Theory]
    [InlineData("data-key-rotate")]
    [InlineData("data-key-rotate", "--connection", "Data Source=x.db")]
    [InlineData("data-key-rotate", "--connection", "Data Source=x.db", "--key-file", "k", "--batch", "0")]
    public void Bad_usage_exits_2(params string[] args)
    {
        var error = new StringWriter();
        Assert.Equal(2, Cli.Run(args, new StringWriter(), error));
        Assert.Contains("usage: data-key-rotate", error.ToString());
    }
}

/// <summary>The same rotation on PostgreSQL (skipped with the reason when its binaries are not installed).</summary>
public sealed class PostgresDataKeyRotateCommandTests : DataKeyRotateCommandTests
{
    private readonly string _connection = PostgresCluster.MissingReason is null ? PostgresCluster.CreateDatabase() : "";
    protected override string Provider => "postgres";
    protected override string Connection => _connection;
}

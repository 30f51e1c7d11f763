using System.Text;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Storage.Indexing;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace FhirArchive.Storage.Tests;

/// <summary>A start that would mix clear and encrypted data is refused (SQLite store, no server).</summary>
public sealed class FieldEncryptionStartTests : IDisposable
{
    private const string Kek = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "fhirarchive-fieldenc-start-" + Guid.NewGuid().ToString("N"));

    /// <summary>Starts a store on the folder (encrypted or not), optionally writes a Patient, and stops it.</summary>
    private async Task StartAsync(bool encrypted, string? patientId = null)
    {
        var options = new StorageOptions { DataFolder = _folder };
        if (encrypted) options.FieldEncryption.KeyEncryptionKey = Kek;
        await using var services = new ServiceCollection().AddFhirStorage(options).BuildServiceProvider();
        var store = services.GetRequiredService<IResourceStore>();
        await store.InitializeAsync();
        if (patientId is null) return;
        var json = $$"""{"resourceType":"Patient","id":"{{patientId}}","identifier":[{"system":"urn:oid:2.16.156.10011.1.3","value":"110105199003071234"}]}""";
        var node = new FhirJsonParser().Parse(json).GetResourceOrThrow();
        var session = await store.BeginWriteAsync();
        await session.PutAsync("Patient", patientId, 1, DateTimeOffset.UtcNow, Encoding.UTF8.GetBytes(json), services.GetRequiredService<IndexExtractor>().Extract(node));
        await session.CommitAsync();
        await session.DisposeAsync();
    }

    [Fact]
    public async Task Without_the_key_a_database_with_encrypted_data_does_not_start()
    {
        await StartAsync(encrypted: true, "p1");
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => StartAsync(encrypted: false));
        Assert.Contains("no key-encryption key is configured", e.Message);
        await StartAsync(encrypted: true); // with the key it starts again
    }

    [Fact]
    public async Task Without_data_keys_a_database_with_sealed_versions_does_not_start()
    {
        await StartAsync(encrypted: true, "p1");
        using (var db = Db()) { db.Set<Encryption.DataKeyRow>().RemoveRange(db.Set<Encryption.DataKeyRow>().ToList()); db.SaveChanges(); }
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => StartAsync(encrypted: true));
        Assert.Contains("no data keys", e.Message);
    }

    [Fact]
    public async Task Encryption_is_not_turned_on_over_clear_residents()
    {
        await StartAsync(encrypted: false, "p1");
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => StartAsync(encrypted: true));
        Assert.Contains("stored in clear", e.Message);
        using var db = Db();
        Assert.Empty(db.Set<Encryption.DataKeyRow>()); // refused before any key was made
    }

    [Fact]
    public async Task Encryption_turned_on_over_an_empty_database_starts_and_restarts()
    {
        await StartAsync(encrypted: false);
        await StartAsync(encrypted: true, "p1");
        await StartAsync(encrypted: true);
        using var db = Db();
        Assert.NotNull(db.Resources.Single(r => r.ResourceId == "p1").KeyId);
    }

    private FhirDbContext Db()
    {
        var options = new StorageOptions { DataFolder = _folder };
        var services = new ServiceCollection().AddFhirStorage(options).BuildServiceProvider();
        return services.GetRequiredService<Microsoft.EntityFrameworkCore.IDbContextFactory<FhirDbContext>>().CreateDbContext();
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }
}

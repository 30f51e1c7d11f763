using System.Text;
using BenchmarkDotNet.Attributes;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Storage;
using FhirArchive.Storage.Encryption;
using FhirArchive.Storage.Indexing;
using FhirArchive.Storage.Search;
using Microsoft.Extensions.DependencyInjection;

namespace FhirArchive.Benchmarks;

/// <summary>
/// The storage cost of field encryption at rest (Storage:FieldEncryption), on and off, on SQLite in a temp folder:
/// a read by id of a resident (the fast path: one row, opened and decompressed), a search by ID card number (the
/// blind index computed for the searched value) and a write of a new resident in its own transaction (index rows
/// with their blind indexes, the version sealed). The engine's work around them (parsing, validation, HTTP, audit)
/// is the same either way, so these ratios bound the end-to-end ones from below.
/// </summary>
[MemoryDiagnoser]
public class FieldEncryptionBenchmarks
{
    private const int Residents = 1000;

    [Params(false, true)]
    public bool Encrypted { get; set; }

    private readonly string _folder = Path.Combine(Path.GetTempPath(), "fhirarchive-bench-fieldenc-" + Guid.NewGuid().ToString("N"));
    private ServiceProvider _services = null!;
    private IResourceStore _store = null!;
    private IndexExtractor _extractor = null!;
    private int _read, _written;

    private static string Patient(int n) => $$"""
        {"resourceType":"Patient","id":"p{{n}}","meta":{"versionId":"1","lastUpdated":"2026-12-07T10:00:00+08:00"},
         "text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">张伟 110105199003{{n:D6}}</div>"},
         "identifier":[{"system":"urn:oid:2.16.156.10011.1.3","value":"110105199003{{n:D6}}"},{"system":"http://fhirarchive.cn/fhir/sid/mrn","value":"MRN{{n}}"}],
         "name":[{"text":"张伟","family":"张","given":["伟"]}],"gender":"male","birthDate":"1990-03-07",
         "telecom":[{"system":"phone","value":"139{{n:D8}}","use":"mobile"}],
         "address":[{"line":["建国路{{n}}号院"],"district":"朝阳区","city":"北京市","state":"北京市","postalCode":"100020"}]}
        """;

    [GlobalSetup]
    public void Setup()
    {
        var options = new StorageOptions { DataFolder = Path.Combine(_folder, "db") };
        if (Encrypted) options.FieldEncryption.KeyEncryptionKey = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
        _services = new ServiceCollection().AddFhirStorage(options).BuildServiceProvider();
        _store = _services.GetRequiredService<IResourceStore>();
        _store.InitializeAsync().GetAwaiter().GetResult();
        _extractor = _services.GetRequiredService<IndexExtractor>();
        if (_services.GetRequiredService<FieldEncryption>().Enabled != Encrypted) throw new InvalidOperationException("the configuration must decide encryption");
        var session = _store.BeginWriteAsync().GetAwaiter().GetResult();
        for (var n = 0; n < Residents; n++) Put(session, n).GetAwaiter().GetResult();
        session.CommitAsync().GetAwaiter().GetResult();
        session.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _written = Residents;
    }

    private Task<StoredResource> Put(IWriteSession session, int n)
    {
        var json = Patient(n);
        var node = new FhirJsonParser().Parse(json).GetResourceOrThrow();
        return session.PutAsync("Patient", $"p{n}", 1, DateTimeOffset.UtcNow, Encoding.UTF8.GetBytes(json), _extractor.Extract(node));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _services.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, true);
    }

    [Benchmark]
    public async Task<int> ReadById() => (await _store.ReadAsync("Patient", $"p{_read++ % Residents}"))!.Json!.Length;

    [Benchmark]
    public async Task<int> SearchByIdCard()
    {
        var query = new SearchQuery { ResourceType = "Patient", IncludeTotal = false };
        query.Criteria.Add(new SearchCriterion([new TokenPredicate("identifier", "urn:oid:2.16.156.10011.1.3", true, $"110105199003{_read++ % Residents:D6}", true)]));
        var found = await _store.SearchAsync(query);
        return found.Matches.Count == 1 ? found.Matches[0].Json!.Length : throw new InvalidOperationException("one resident must match");
    }

    /// <summary>A new resident, parsed, indexed and stored in its own transaction.</summary>
    [Benchmark]
    public async Task<long> WriteResident()
    {
        await using var session = await _store.BeginWriteAsync();
        var stored = await Put(session, _written++);
        await session.CommitAsync();
        return stored.RowId;
    }
}

using System.Text;
using FhirArchive.Audit;
using BenchmarkDotNet.Attributes;
using FhirArchive.Storage;
using FhirArchive.Audit.Store;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace FhirArchive.Benchmarks;

/// <summary>
/// What the audit trail's storage costs per event: chaining and journaling 1,000 events (as 1,000 audited reads
/// would) and then their rows and search entities written behind into the database (SQLite in a temp folder), so an
/// operation's time is the whole storage cost of 1,000 events, waits for the disk (checkpoints) included. The events
/// are shaped like a read's compact record: a patient's Observation, filed under its patient.
/// </summary>
[MemoryDiagnoser]
public class AuditBenchmarks
{
    private const int Events = 1000;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "fhirarchive-bench-audit-" + Guid.NewGuid().ToString("N"));
    private ServiceProvider _storage = null!;
    private AuditStore _store = null!;
    private AuditAppend[] _events = null!;

    [GlobalSetup]
    public void Setup()
    {
        var options = new StorageOptions { DataFolder = _folder };
        _storage = new ServiceCollection().AddFhirStorage(options).AddAuditStore().BuildServiceProvider();
        _storage.GetRequiredService<IResourceStore>().InitializeAsync().GetAwaiter().GetResult();
        _store = new AuditStore(_storage.GetRequiredService<IDbContextFactory<FhirDbContext>>(), options, _storage.GetRequiredService<DatabaseWriter>());
        _store.StartAsync().GetAwaiter().GetResult();
        var now = DateTimeOffset.UtcNow.UtcTicks;
        _events = Enumerable.Range(0, Events).Select(i =>
        {
            var patient = $"Patient/p{i % 97}";
            var resource = $"Observation/o{i}";
            var data = Encoding.UTF8.GetBytes(
                $$"""{"v":1,"t":{{now + i}},"i":"read","a":"R","s":200,"k":2,"sub":"chaoyang-his","ro":["system"],"org":"Organization/bj-chaoyang-hospital","pou":"TREAT","cl":"chaoyang-his","ip":"127.0.0.1","r":["{{resource}}/_history/1"],"p":["{{patient}}"],"dc":["permit ×1: the responsible institution holds the record"]}""");
            return new AuditAppend(now + i, "R", "read", 0, "chaoyang-his", "Organization/bj-chaoyang-hospital", data,
                [("patient", patient), ("data", resource)]);
        }).ToArray();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _store.StopAsync().GetAwaiter().GetResult();
        _storage.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }

    /// <summary>1,000 events appended (each durable in the journal on return), then stored in the database.</summary>
    [Benchmark(OperationsPerInvoke = Events)]
    public async Task AppendAndStore()
    {
        foreach (var e in _events) await _store.AppendAsync(e);
        await _store.FlushAsync();
    }

    /// <summary>The journal part alone: 1,000 events chained and appended (the database write behind waits 100 ms).</summary>
    [Benchmark(OperationsPerInvoke = Events)]
    public async Task Append()
    {
        foreach (var e in _events) await _store.AppendAsync(e);
    }
}

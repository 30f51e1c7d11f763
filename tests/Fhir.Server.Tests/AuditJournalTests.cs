using System.Text;
using FhirArchive.Storage;
using FhirArchive.Storage.Audit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace FhirArchive.Server.Tests;

/// <summary>
/// The journal in front of the audit tables: what a crash leaves between the journal and the database is replayed
/// at the next start, a torn last frame is dropped, and the chain's end survives the journal starting afresh.
/// </summary>
public abstract class AuditJournalTestsBase : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "fhirarchive-journal-" + Guid.NewGuid().ToString("N"));
    private readonly List<ServiceProvider> _providers = [];
    private readonly StorageOptions _options;

    protected AuditJournalTestsBase(string? postgres) =>
        _options = postgres is null
            ? new StorageOptions { DataFolder = _folder }
            : new StorageOptions { Provider = "postgres", ConnectionString = postgres, DataFolder = _folder };

    /// <summary>A store as one start of the server sees it (each call is a new process, as far as the store knows).</summary>
    private async Task<AuditStore> Start(bool writeBehind = true, long journalLimit = 64L << 20, StorageOptions? options = null)
    {
        options ??= _options;
        var services = new ServiceCollection().AddFhirStorage(options).BuildServiceProvider();
        _providers.Add(services);
        await services.GetRequiredService<IResourceStore>().InitializeAsync();
        var store = new AuditStore(services.GetRequiredService<IDbContextFactory<FhirDbContext>>(), options, services.GetRequiredService<DatabaseWriter>())
        {
            WriteBehind = writeBehind, JournalLimit = journalLimit,
        };
        await store.StartAsync();
        return store;
    }

    [FhirFact]
    public async Task A_second_writer_of_the_same_trail_is_refused_instead_of_forking_the_chain()
    {
        var first = await Start();
        await first.AppendAsync([Event("Patient/a")]);
        // SQLite: the same data folder (its database is there); PostgreSQL: the same database from another folder.
        var second = _options.Dialect == Storage.Schema.SqlDialect.Postgres
            ? new StorageOptions { Provider = "postgres", ConnectionString = _options.ConnectionString, DataFolder = _folder + "-other" }
            : _options;
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => Start(options: second));
        Assert.Contains("instance per", refused.Message);

        // Once the first has stopped, the next one takes over and chains on.
        await first.StopAsync();
        var next = await Start(options: second);
        await next.AppendAsync([Event("Patient/b")]);
        var report = await next.VerifyAsync();
        Assert.True(report.Intact, report.Problem);
        Assert.Equal(2, report.Checked);
        await next.StopAsync();
        try { Directory.Delete(_folder + "-other", true); } catch (DirectoryNotFoundException) { }
    }

    private static AuditAppend Event(string patient, string action = "R") =>
        new(DateTimeOffset.UtcNow.UtcTicks, action, "read", 0, "dr-wang", "Organization/h1",
            Encoding.UTF8.GetBytes($$$"""{"resourceType":"AuditEvent","action":"{{{action}}}","entity":[{"what":{"reference":"{{{patient}}}"}}]}"""),
            [("patient", patient)]);

    private async Task<long> RowsInDatabase()
    {
        await using var db = await _providers[^1].GetRequiredService<IDbContextFactory<FhirDbContext>>().CreateDbContextAsync();
        return await db.AuditRecords.LongCountAsync();
    }

    private async Task Sql(string sql)
    {
        await using var db = await _providers[^1].GetRequiredService<IDbContextFactory<FhirDbContext>>().CreateDbContextAsync();
        await db.Database.ExecuteSqlRawAsync(sql);
    }

    [FhirFact]
    public async Task Events_journaled_but_not_yet_in_the_database_are_replayed_at_the_next_start()
    {
        // A crash after the journal write (the requests were answered) and before the database write.
        var crashed = await Start(writeBehind: false);
        await crashed.AppendAsync([Event("Patient/a"), Event("Patient/b")]);
        await crashed.AppendAsync([Event("Patient/c")]);
        await crashed.StopAsync();
        Assert.Equal(0, await RowsInDatabase());

        var store = await Start();
        Assert.Equal(3, await RowsInDatabase());
        var report = await store.VerifyAsync();
        Assert.True(report.Intact, report.Problem);
        Assert.Equal(3, report.Checked);
        var (rows, total) = await store.SearchAsync(new AuditQuery(Patient: "Patient/b"));
        Assert.Equal(1, total);
        Assert.Equal(2, Assert.Single(rows).Seq);

        // The chain goes on from the replayed events, and a second start replays nothing twice.
        await store.AppendAsync([Event("Patient/d")]);
        await store.StopAsync();
        var again = await Start();
        Assert.Equal(4, await RowsInDatabase());
        Assert.Equal(4, (await again.VerifyAsync()).Checked);
        Assert.True((await again.VerifyAsync()).Intact);
        await again.StopAsync();
    }

    [FhirFact]
    public async Task A_frame_torn_by_a_crash_is_dropped_and_the_chain_continues_intact()
    {
        var crashed = await Start(writeBehind: false);
        await crashed.AppendAsync([Event("Patient/a"), Event("Patient/b")]);
        await crashed.StopAsync();
        // Half of a frame that never finished: the start of the journal written again at its end.
        var journal = crashed.JournalFile;
        var head = File.ReadAllBytes(journal)[..40];
        await using (var f = new FileStream(journal, FileMode.Append)) f.Write(head);

        var store = await Start();
        Assert.Equal(2, await RowsInDatabase());
        await store.AppendAsync([Event("Patient/c")]);
        var report = await store.VerifyAsync();
        Assert.True(report.Intact, report.Problem);
        Assert.Equal(3, report.Checked);
        await store.StopAsync();
        Assert.Equal(3, (await (await Start()).VerifyAsync()).Checked);
    }

    [FhirFact]
    public async Task The_journal_starts_afresh_but_keeps_the_head_so_a_cut_off_end_is_still_caught()
    {
        var store = await Start(journalLimit: 1);
        for (var i = 0; i < 5; i++)
        {
            await store.AppendAsync([Event($"Patient/p{i}"), Event($"Patient/q{i}")]);
            await store.FlushAsync();
        }
        await store.StopAsync();
        // A clean stop cuts the mapped file to its frames.
        var full = new FileInfo(store.JournalFile).Length;
        // Everything is in the database, so the journal holds the head and the last few events (ten frames are ~2,900 bytes).
        Assert.True(full < 1200, $"journal is {full} bytes");
        Assert.Equal(10, await RowsInDatabase());

        // Cut the last two events off while the server is down: the journal still holds event 10 (the head), so it
        // comes back and event 9 is reported missing instead of the trail quietly ending at 8.
        if (_options.Dialect == Storage.Schema.SqlDialect.Postgres)
            await Sql("""DROP TRIGGER "AuditRecord_AppendOnly" ON "AuditRecord" """);
        else await Sql("""DROP TRIGGER "AuditRecord_NoDelete" """);
        await Sql("""DELETE FROM "AuditRecord" WHERE "Seq" >= 9""");
        var restarted = await Start();
        var report = await restarted.VerifyAsync();
        Assert.False(report.Intact);
        Assert.Equal(9, report.BrokenAt);
        Assert.Contains("missing", report.Problem);
        await restarted.StopAsync();
    }

    [FhirFact]
    public async Task Verify_while_events_keep_coming_reports_an_intact_chain_and_searches_see_every_appended_event()
    {
        var store = await Start();
        using var stop = new CancellationTokenSource();
        var appended = 0;
        var writer = Task.Run(async () =>
        {
            // Bounded: on a fast disk an unbounded appender outruns the checks it is meant to run beside.
            while (!stop.IsCancellationRequested && Volatile.Read(ref appended) < 20_000)
            {
                await store.AppendAsync([Event("Patient/busy")]);
                Interlocked.Increment(ref appended);
            }
        });
        for (var i = 0; i < 5; i++)
        {
            var before = Volatile.Read(ref appended);
            var report = await store.VerifyAsync();
            Assert.True(report.Intact, report.Problem);
            Assert.True(report.Checked >= before, $"{report.Checked} checked, {before} appended before");
            // Written behind, yet a search counts every event appended before it began.
            before = Volatile.Read(ref appended);
            Assert.True((await store.SearchAsync(new AuditQuery(Patient: "Patient/busy", Count: 1))).Total >= before);
        }
        stop.Cancel();
        await writer;
        await store.StopAsync();
    }

    public void Dispose()
    {
        foreach (var p in _providers) p.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
        GC.SuppressFinalize(this);
    }
}

public sealed class AuditJournalTests() : AuditJournalTestsBase(null);

/// <summary>The mapped journal file itself: growth past its first mapping, allocation ahead, reopening.</summary>
public sealed class AuditJournalFileTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), "fhirarchive-journal-file-" + Guid.NewGuid().ToString("N"));

    private static byte[] Frame(long seq)
    {
        var e = new AuditAppend(seq, "R", "read", 0, "dr-wang", null, Encoding.UTF8.GetBytes(new string('x', 700) + seq), [("patient", $"Patient/p{seq}")]);
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        AuditJournal.Encode(seq, new byte[32], e, output);
        return output.WrittenSpan.ToArray();
    }

    [Fact]
    public void Appends_past_the_first_mapping_and_the_allocated_stretch_survive_a_reopen_whole_and_in_order()
    {
        const int events = 8_000; // ~6 MB through a 2 MB first mapping: two growths, allocation ahead and by the appends
        using (var journal = new AuditJournal(_path, capacity: 1))
            for (var seq = 1; seq <= events; seq++)
            {
                journal.Append(Frame(seq));
                if (seq % 500 == 0) journal.Reserve();
                if (seq % 2_000 == 0) journal.Sync();
            }
        // A clean close cuts the file to its frames.
        var length = new FileInfo(_path).Length;
        Assert.Equal(Enumerable.Range(1, events).Sum(i => (long)Frame(i).Length), length);
        using var reopened = new AuditJournal(_path, capacity: 1);
        var seqs = reopened.Frames(0).Select(f => f.Entry.Record.Seq).ToList();
        Assert.Equal(Enumerable.Range(1, events).Select(i => (long)i), seqs);
        Assert.Equal("Patient/p8000", reopened.Frames(0).Last().Entry.Entities.Single().Reference);
    }

    public void Dispose()
    {
        try { File.Delete(_path); } catch (IOException) { }
    }
}
public sealed class PostgresAuditJournalTests() : AuditJournalTestsBase(PostgresCluster.MissingReason is null ? PostgresCluster.CreateDatabase() : null);

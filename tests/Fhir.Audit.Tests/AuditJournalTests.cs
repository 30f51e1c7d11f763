using System.Text;
using FhirArchive.Audit;
using FhirArchive.Storage;
using FhirArchive.Audit.Store;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace FhirArchive.Audit.Tests;

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
        var services = new ServiceCollection().AddFhirStorage(options).AddAuditStore().BuildServiceProvider();
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

    /// <summary>The events the database holds: in blocks, and rows from before blocks.</summary>
    private async Task<long> RowsInDatabase()
    {
        await using var db = await _providers[^1].GetRequiredService<IDbContextFactory<FhirDbContext>>().CreateDbContextAsync();
        return await db.AuditBlocks.SumAsync(b => b.Last - b.First + 1) + await db.AuditRecords.LongCountAsync();
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
            await Sql("""DROP TRIGGER "AuditBlock_AppendOnly" ON "AuditBlock" """);
        else await Sql("""DROP TRIGGER "AuditBlock_NoDelete" """);
        await Sql("""DELETE FROM "AuditBlock" WHERE "Last" >= 9""");
        Assert.Equal(8, await RowsInDatabase());
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

    [FhirFact]
    public async Task Events_go_in_blocks_within_buckets_and_are_searched_paged_and_read_across_them()
    {
        // 600 events replayed in one batch: three buckets of 256, so three blocks.
        var crashed = await Start(writeBehind: false);
        await crashed.AppendAsync(Enumerable.Range(0, 600).Select(i => Event(i % 3 == 0 ? "Patient/third" : "Patient/other", i % 2 == 0 ? "R" : "U")).ToList());
        await crashed.StopAsync();
        var store = await Start();
        await using (var db = await _providers[^1].GetRequiredService<IDbContextFactory<FhirDbContext>>().CreateDbContextAsync())
        {
            var blocks = await db.AuditBlocks.OrderBy(b => b.First).Select(b => new { b.First, b.Last }).ToListAsync();
            Assert.Equal([(1L, 255L), (256L, 511L), (512L, 600L)], blocks.Select(b => (b.First, b.Last)));
        }
        var report = await store.VerifyAsync();
        Assert.True(report.Intact, report.Problem);
        Assert.Equal(600, report.Checked);

        // Every third event (seq 1, 4, 7 …), newest first, across blocks; the next page continues below the last one.
        var (rows, total) = await store.SearchAsync(new AuditQuery(Patient: "Patient/third", Count: 150));
        Assert.Equal(200, total);
        Assert.Equal(Enumerable.Range(0, 150).Select(i => 598L - 3 * i), rows.Select(r => r.Seq));
        var (next, _) = await store.SearchAsync(new AuditQuery(Patient: "Patient/third", Count: 150, BeforeSeq: rows[^1].Seq));
        Assert.Equal(Enumerable.Range(150, 50).Select(i => 598L - 3 * i), next.Select(r => r.Seq));
        // A criterion that is no key: every event filtered (the even ones are reads).
        Assert.Equal(300, (await store.SearchAsync(new AuditQuery(Action: "R"))).Total);
        Assert.Equal(100, (await store.SearchAsync(new AuditQuery(Patient: "Patient/third", Action: "R"))).Total);
        // The whole trail: counted from the blocks, paged from the newest.
        var (all, allTotal) = await store.SearchAsync(new AuditQuery(Count: 3, BeforeSeq: 257));
        Assert.Equal(600, allTotal);
        Assert.Equal([256L, 255L, 254L], all.Select(r => r.Seq));
        var read = await store.ReadAsync("256");
        Assert.Equal(256, read!.Seq);
        Assert.Equal("U", read.Action);
        Assert.Equal("\npatient Patient/third\n", read.Entities);
        Assert.Null(await store.ReadAsync("601"));
        await store.StopAsync();
    }

    [FhirFact]
    public async Task A_stored_frame_whose_check_holds_but_whose_fields_run_past_it_ends_its_block_for_searches_and_verify()
    {
        var crashed = await Start(writeBehind: false);
        await crashed.AppendAsync([Event("Patient/a"), Event("Patient/a"), Event("Patient/a")]);
        await crashed.StopAsync();
        var store = await Start();
        // Someone with database access rewrites event 3's frame: its link's length runs past the body, and the
        // frame's (public, non-cryptographic) check is computed again so that it holds.
        await using (var db = await _providers[^1].GetRequiredService<IDbContextFactory<FhirDbContext>>().CreateDbContextAsync())
        {
            if (_options.Dialect == Storage.Schema.SqlDialect.Postgres) await db.Database.ExecuteSqlRawAsync("""DROP TRIGGER "AuditBlock_AppendOnly" ON "AuditBlock" """);
            else await db.Database.ExecuteSqlRawAsync("""DROP TRIGGER "AuditBlock_NoUpdate" """);
            var block = await db.AuditBlocks.AsTracking().SingleAsync();
            var frames = block.Frames.ToArray();
            var (start, length) = AuditJournal.FramesOf(frames)[2];
            var body = frames.AsSpan(start + 4, length - 12);
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(body[20..], int.MaxValue - 64);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(frames.AsSpan(start + length - 8), AuditJournal.Check(body));
            block.Frames = frames;
            await db.SaveChangesAsync();
        }
        var (rows, total) = await store.SearchAsync(new AuditQuery(Patient: "Patient/a"));
        Assert.Equal(2, total);
        Assert.Equal([2L, 1L], rows.Select(r => r.Seq));
        Assert.Equal([2L, 1L], (await store.SearchAsync(new AuditQuery(Count: 5))).Rows.Select(r => r.Seq));
        var report = await store.VerifyAsync();
        Assert.False(report.Intact);
        Assert.Equal(3, report.BrokenAt);
        Assert.Contains("were changed", report.Problem);
        await store.StopAsync();
    }

    [FhirFact]
    public async Task Events_stored_as_rows_before_blocks_chain_on_into_blocks_and_are_found_with_them()
    {
        // A database from before blocks: its events are AuditRecord rows (one with an id of its own).
        var empty = await Start(writeBehind: false);
        await empty.StopAsync();
        var ticks = DateTimeOffset.UtcNow.UtcTicks;
        var link = Crypto.Sm3.Genesis;
        await using (var db = await _providers[^1].GetRequiredService<IDbContextFactory<FhirDbContext>>().CreateDbContextAsync())
        {
            for (var seq = 1L; seq <= 3; seq++)
            {
                var data = Encoding.UTF8.GetBytes($$"""{"resourceType":"AuditEvent","n":{{seq}}}""");
                link = Crypto.Sm3.ChainLink(link, seq, data);
                db.AuditRecords.Add(new AuditRecordRow
                {
                    Seq = seq, EventId = seq == 1 ? "legacy-guid" : null, Recorded = ticks, Action = "R", Subtype = "read", Agent = "dr-wang",
                    Entities = AuditRecordRow.EntityLine("patient", "Patient/a"), Data = data, Hash = link,
                });
            }
            db.AuditKeys.Add(new AuditKeyRow { Key = "p:Patient/a", Bucket = 0 });
            await db.SaveChangesAsync();
        }
        var store = await Start();
        await store.AppendAsync([Event("Patient/a"), Event("Patient/a")]);
        var report = await store.VerifyAsync();
        Assert.True(report.Intact, report.Problem);
        Assert.Equal(5, report.Checked);
        var (rows, total) = await store.SearchAsync(new AuditQuery(Patient: "Patient/a"));
        Assert.Equal(5, total);
        Assert.Equal(["5", "4", "3", "2", "legacy-guid"], rows.Select(r => r.Id));
        Assert.Equal([3L, 2L], (await store.SearchAsync(new AuditQuery(Patient: "Patient/a", Count: 2, BeforeSeq: 4))).Rows.Select(r => r.Seq));
        var (all, allTotal) = await store.SearchAsync(new AuditQuery(Count: 3));
        Assert.Equal(5, allTotal);
        Assert.Equal([5L, 4L, 3L], all.Select(r => r.Seq));
        Assert.Equal(1, (await store.ReadAsync("legacy-guid"))!.Seq);
        Assert.Equal(2, (await store.ReadAsync("2"))!.Seq);
        Assert.Null(await store.ReadAsync("1"));
        Assert.Equal(4, (await store.ReadAsync("4"))!.Seq);
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

    [Fact]
    public void A_batch_holds_whole_frames_as_written_and_a_block_of_them_decodes_in_full()
    {
        var frames = Enumerable.Range(1, 5).Select(i => Frame(i)).ToList(); // about 760 bytes each
        using var journal = new AuditJournal(_path, capacity: 1);
        foreach (var f in frames) journal.Append(f);
        using (var batch = journal.ReadBatch(0, 2_000))
        {
            // Two whole frames fit; the batch ends after them.
            Assert.Equal([1L, 2L], batch.Frames.Select(f => f.Seq));
            Assert.Equal(frames[0].Length + frames[1].Length, batch.Next);
            Assert.Equal(frames[1], batch.Bytes.Slice(batch.Frames[1].Start, batch.Frames[1].Length).ToArray());
            // What the writer files it under, read in place.
            var fields = AuditJournal.FieldsOf(batch.Bytes.Span.Slice(batch.Frames[1].Start, batch.Frames[1].Length));
            Assert.Equal(2, fields.Seq);
            Assert.Equal(2, fields.Recorded);
            Assert.True(fields.HasAgent);
            Assert.Equal("dr-wang", Encoding.UTF8.GetString(fields.Agent));
            Assert.True(fields.NextEntity(out var role, out var reference));
            Assert.Equal("patient/Patient/p2", Encoding.UTF8.GetString(role) + "/" + Encoding.UTF8.GetString(reference));
            Assert.False(fields.NextEntity(out _, out _));
        }
        // A frame longer than the batch comes whole.
        using (var batch = journal.ReadBatch(frames[0].Length, 100))
            Assert.Equal([2L], batch.Frames.Select(f => f.Seq));

        var entries = new List<AuditJournalEntry>();
        Assert.True(AuditJournal.TryDecodeAll([.. frames[2], .. frames[3]], entries));
        Assert.Equal([3L, 4L], entries.Select(e => e.Record.Seq));
        Assert.Equal(new string('x', 700) + "4", Encoding.UTF8.GetString(entries[1].Record.Data));
        Assert.Equal("\npatient Patient/p4\n", entries[1].Record.Entities);
        // Cut short or changed: false, with the whole frames before it.
        entries.Clear();
        Assert.False(AuditJournal.TryDecodeAll([.. frames[2], .. frames[3][..^1]], entries));
        Assert.Equal(3, Assert.Single(entries).Record.Seq);
        var changed = frames[4].ToArray();
        changed[100] ^= 1;
        Assert.False(AuditJournal.TryDecodeAll(changed, entries = []));
        Assert.Empty(entries);
    }

    public void Dispose()
    {
        try { File.Delete(_path); } catch (IOException) { }
    }
}
public sealed class PostgresAuditJournalTests() : AuditJournalTestsBase(PostgresCluster.MissingReason is null ? PostgresCluster.CreateDatabase() : null);

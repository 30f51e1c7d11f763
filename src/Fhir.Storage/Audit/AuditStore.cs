using System.Data;
using FhirArchive.Crypto;
using FhirArchive.Storage.Schema;
using FhirArchive.Storage.Writing;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace FhirArchive.Storage.Audit;

/// <summary>An event ready to append: its JSON and the columns it is searched by. Its id is its sequence number.</summary>
public sealed record AuditAppend(
    long Recorded, string Action, string Subtype, int Outcome, string? Agent, string? Organization,
    byte[] Data, IReadOnlyList<(string Role, string Reference)> Entities);

public sealed record AuditQuery(
    string? Patient = null, string? Agent = null, string? Entity = null, long? From = null, long? To = null,
    string? Subtype = null, string? Action = null, int? Outcome = null, long? BeforeSeq = null, int Count = 50,
    string? ExcludeAgent = null);

/// <summary>The result of checking the chain: intact, or the first link that does not hold and why.</summary>
public sealed record ChainReport(bool Intact, long Checked, long? BrokenAt, string? Problem);

/// <summary>
/// The append-only audit trail. Every event is linked to the one before by SM3 over (previous link, sequence
/// number, event bytes), so a changed byte, a deleted event or two swapped events break the chain at that point.
/// An append is durable once it is in the journal (<see cref="AuditJournal"/>, one write per group of events); the
/// database rows and their search index are written behind it in large batches, and replayed from the journal
/// after a crash. Reads, searches and $verify first wait until the database holds every event appended so far.
/// The head (last sequence number and link) is kept in memory and as the journal's last frame, so cutting events
/// off the end is caught too. One process appends (SQLite allows no more; for PostgreSQL run one writer).
/// </summary>
public sealed class AuditStore(IDbContextFactory<FhirDbContext> factory, StorageOptions options, DatabaseWriter writer) : IAsyncDisposable
{
    private static readonly BulkColumn<AuditRecordRow>[] RecordColumns =
    [
        new("Seq", DbType.Int64, r => r.Seq), new("EventId", DbType.String, r => r.EventId), new("Recorded", DbType.Int64, r => r.Recorded),
        new("Action", DbType.String, r => r.Action), new("Subtype", DbType.String, r => r.Subtype), new("Outcome", DbType.Int32, r => r.Outcome),
        new("Agent", DbType.String, r => r.Agent), new("Organization", DbType.String, r => r.Organization),
        new("Data", DbType.Binary, r => r.Data), new("Hash", DbType.Binary, r => r.Hash),
    ];

    private static readonly BulkColumn<AuditEntityRow>[] EntityColumns =
        [new("Seq", DbType.Int64, r => r.Seq), new("Role", DbType.String, r => r.Role), new("Reference", DbType.String, r => r.Reference)];

    /// <summary>How long the writer behind lets events gather before a database batch (unless someone waits for them).</summary>
    private static readonly TimeSpan Gather = TimeSpan.FromMilliseconds(100);
    private const int MaxBatch = 4096;
    /// <summary>The journal starts afresh past this size, once the database durably holds all of it.</summary>
    public long JournalLimit { get; set; } = 64L << 20;
    /// <summary>
    /// true: fsync the journal before an append returns (an answered request's event survives power loss); false:
    /// the write survives a crash of the server, and the journal is fsynced every <see cref="SyncEvery"/>. null
    /// (default): as durable as the database's own commits were for the event before the journal: SQLite's writer
    /// commits with synchronous=NORMAL (no fsync), PostgreSQL fsyncs unless synchronous_commit is off.
    /// </summary>
    public bool? SyncJournal { get; set; }
    private bool _sync;
    public static readonly TimeSpan SyncEvery = TimeSpan.FromMilliseconds(100);
    /// <summary>false: events stay in the journal until the next start (lets tests stop "between" journal and database).</summary>
    public bool WriteBehind { get; init; } = true;

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly object _lock = new();
    private readonly List<AuditJournalEntry> _pending = [];
    private readonly List<(long Seq, TaskCompletionSource Done)> _waiters = [];
    private readonly SemaphoreSlim _wake = new(0);
    private readonly SemaphoreSlim _hurry = new(0);
    private readonly System.Buffers.ArrayBufferWriter<byte> _frames = new(64 * 1024);
    private readonly CancellationTokenSource _stop = new();
    private Task? _started;
    private Task? _behind;
    private AuditJournal? _journal;
    private AuditJournalEntry? _last;
    private (long Seq, byte[] Hash) _head;
    private long _appended, _stored;

    // One journal (and legacy head file) per database, so switching databases does not look like tampering.
    private string DatabaseKey => Convert.ToHexString(Sm3.Hash(System.Text.Encoding.UTF8.GetBytes(options.ConnectionString ?? "sqlite")))[..12].ToLowerInvariant();
    private string HeadFile => Path.Combine(options.DataFolder, "audit-head-" + DatabaseKey);
    public string JournalFile => Path.Combine(options.DataFolder, "audit-journal-" + DatabaseKey);

    /// <summary>Opens the journal, replays into the database what it holds beyond it, and starts the writer behind.</summary>
    public Task StartAsync(CancellationToken ct = default)
    {
        lock (_lock) return _started ??= Task.Run(() => StartCoreAsync(CancellationToken.None), CancellationToken.None);
    }

    private async Task StartCoreAsync(CancellationToken ct)
    {
        _sync = SyncJournal ?? await DatabaseSyncsCommitsAsync(ct);
        _journal = new AuditJournal(JournalFile);
        var journaled = _journal.ReadAll();
        await using (var db = await factory.CreateDbContextAsync(ct))
        {
            var last = await db.AuditRecords.OrderByDescending(r => r.Seq).Select(r => new { r.Seq, r.Hash }).FirstOrDefaultAsync(ct);
            _head = last is null ? (0L, Sm3.Genesis) : (last.Seq, last.Hash);
        }
        // Every whole frame the database lacks goes in, in order; a gap or a broken link is left for $verify to report.
        var replay = new List<AuditJournalEntry>();
        foreach (var e in journaled)
            if (e.Record.Seq > (replay.Count > 0 ? replay[^1].Record.Seq : _head.Seq)) replay.Add(e);
        for (var i = 0; i < replay.Count; i += MaxBatch) await WriteRowsAsync(replay.GetRange(i, Math.Min(MaxBatch, replay.Count - i)), ct);
        if (replay.Count > 0) _head = (replay[^1].Record.Seq, replay[^1].Record.Hash);
        _last = journaled.Count > 0 ? journaled[^1] : null;
        // Chain on from the recorded head if the table lost its tail, so the gap stays visible.
        if (ReadHeadFile() is { } f && f.Seq > _head.Seq) _head = f;
        _appended = _stored = _head.Seq;
        if (WriteBehind) _behind = Task.Run(WriteBehindAsync, CancellationToken.None);
    }

    /// <summary>Chains the events and makes them durable in the journal; the database gets them shortly after.</summary>
    public async Task AppendAsync(IReadOnlyList<AuditAppend> events, CancellationToken ct = default)
    {
        if (events.Count == 0) return;
        await StartAsync(ct);
        await _gate.WaitAsync(ct);
        try
        {
            var (seq, hash) = _head;
            var entries = new List<AuditJournalEntry>(events.Count);
            _frames.ResetWrittenCount();
            foreach (var e in events)
            {
                seq++;
                hash = Sm3.ChainLink(hash, seq, e.Data);
                var record = new AuditRecordRow
                {
                    Seq = seq, EventId = EventIdOf(seq), Recorded = e.Recorded, Action = e.Action, Subtype = e.Subtype,
                    Outcome = e.Outcome, Agent = e.Agent, Organization = e.Organization, Data = e.Data, Hash = hash,
                };
                // Once per (role, reference): the pair with the sequence number is the row's key.
                var entities = new List<AuditEntityRow>(e.Entities.Count);
                foreach (var (role, reference) in e.Entities)
                    if (!entities.Exists(x => x.Role == role && x.Reference == reference))
                        entities.Add(new AuditEntityRow { Seq = seq, Role = role, Reference = reference });
                var entry = new AuditJournalEntry(record, entities);
                AuditJournal.Encode(record, entities, _frames);
                entries.Add(entry);
            }
            _journal!.Append(_frames.WrittenSpan, _sync);
            _head = (seq, hash);
            _last = entries[^1];
            bool wasIdle;
            lock (_lock)
            {
                wasIdle = _pending.Count == 0;
                _pending.AddRange(entries);
                _appended = seq;
            }
            if (wasIdle) _wake.Release();
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// An event's id comes from its sequence number: no random id to make, and the id index grows at its end
    /// (ids of one length sort in number order) instead of taking a random insert per event.
    /// </summary>
    public static string EventIdOf(long seq) => seq.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Waits until the database holds every event appended before the call (searches must see them all).</summary>
    public async Task FlushAsync(CancellationToken ct = default)
    {
        await StartAsync(ct);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            var target = _appended;
            if (_stored >= target) return;
            _waiters.Add((target, done));
        }
        _hurry.Release();
        _wake.Release();
        await done.Task.WaitAsync(ct);
    }

    /// <summary>Writes the journaled events to the database in batches: an event waits at most <see cref="Gather"/>.</summary>
    private async Task WriteBehindAsync()
    {
        var stop = _stop.Token;
        var sinceSync = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var woke = true;
            try { woke = await _wake.WaitAsync(SyncEvery, stop); }
            catch (OperationCanceledException) { }
            if (sinceSync.Elapsed >= SyncEvery)
            {
                SyncJournalQuietly();
                sinceSync.Restart();
            }
            if (!woke) continue;
            if (!stop.IsCancellationRequested)
                try { await _hurry.WaitAsync(Gather, stop); }
                catch (OperationCanceledException) { }
            List<AuditJournalEntry> batch;
            lock (_lock)
            {
                batch = _pending.GetRange(0, Math.Min(MaxBatch, _pending.Count));
                _pending.RemoveRange(0, batch.Count);
                // More than one batch waiting: go round again without gathering.
                if (_pending.Count > 0) { _wake.Release(); _hurry.Release(); }
            }
            if (batch.Count == 0)
            {
                if (stop.IsCancellationRequested) return;
                continue;
            }
            try
            {
                await WriteRowsAsync(batch, CancellationToken.None);
            }
            catch (Exception)
            {
                // Kept in the journal and retried: a failed database write loses nothing.
                lock (_lock) _pending.InsertRange(0, batch);
                _wake.Release();
                if (stop.IsCancellationRequested) return;
                await Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None);
                continue;
            }
            List<TaskCompletionSource> ready;
            lock (_lock)
            {
                _stored = batch[^1].Record.Seq;
                ready = _waiters.Where(w => w.Seq <= _stored).Select(w => w.Done).ToList();
                _waiters.RemoveAll(w => w.Seq <= _stored);
            }
            foreach (var r in ready) r.TrySetResult();
            await RestartJournalIfDueAsync();
        }
    }

    private async Task<bool> DatabaseSyncsCommitsAsync(CancellationToken ct)
    {
        if (options.Dialect == SqlDialect.Sqlite) return false;
        await using var db = await factory.CreateDbContextAsync(ct);
        await db.Database.OpenConnectionAsync(ct);
        await using var cmd = db.Database.GetDbConnection().CreateCommand();
        cmd.CommandText = "SHOW synchronous_commit";
        return !string.Equals(await cmd.ExecuteScalarAsync(ct) as string, "off", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Without <see cref="SyncJournal"/> the journal is still put on disk every <see cref="SyncEvery"/>.</summary>
    private void SyncJournalQuietly()
    {
        try { _journal!.Sync(); }
        catch (IOException) { } // tried again at the next round; the write itself already survives a crash of the server
    }

    /// <summary>
    /// Once the journal is big, it starts afresh with only what the database does not hold yet (or the head), after
    /// the database has durably taken the rest and when that is at most a batch. Appends wait meanwhile, so nothing
    /// slips between the two.
    /// </summary>
    private async Task RestartJournalIfDueAsync()
    {
        if (_journal!.Length < JournalLimit) return;
        await _gate.WaitAsync();
        try
        {
            List<AuditJournalEntry> keep;
            // While the database is far behind, carrying everything over would rewrite most of the journal after every
            // batch (quadratic): wait until what is kept is at most a batch.
            lock (_lock)
            {
                if (_pending.Count > MaxBatch) return;
                keep = _pending.Count > 0 ? [.. _pending] : _last is { } last ? [last] : [];
            }
            if (keep.Count == 0 || !await MakeDatabaseDurableAsync()) return;
            _journal.Restart(keep);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Forces what the database committed onto disk (its commits skip the fsync, as the resource writer's do).</summary>
    private async Task<bool> MakeDatabaseDurableAsync()
    {
        await using var db = await factory.CreateDbContextAsync();
        await db.Database.OpenConnectionAsync();
        var cmd = db.Database.GetDbConnection().CreateCommand();
        if (options.Dialect == SqlDialect.Sqlite)
        {
            // Under WAL with synchronous=NORMAL a checkpoint syncs the log and the database file; FULL waits for
            // readers, and its first column is 1 when it could not complete (then the journal is kept for now).
            cmd.CommandText = "PRAGMA wal_checkpoint(FULL)";
            await writer.Gate.WaitAsync();
            try
            {
                await using var reader = await cmd.ExecuteReaderAsync();
                return await reader.ReadAsync() && reader.GetInt32(0) == 0;
            }
            finally
            {
                writer.Gate.Release();
            }
        }
        // A commit with synchronous_commit on waits until the WAL up to it (every earlier commit too) is on disk.
        cmd.CommandText = "BEGIN; SET LOCAL synchronous_commit = on; SELECT txid_current(); COMMIT;";
        await cmd.ExecuteNonQueryAsync();
        return true;
    }

    /// <summary>Lets the writer behind put every journaled event into the database, then closes the journal.</summary>
    public async Task StopAsync()
    {
        if (_started is null) return;
        await _started;
        _stop.Cancel();
        _wake.Release();
        if (_behind is not null) await _behind;
        SyncJournalQuietly();
        _journal?.Dispose();
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    private async Task WriteRowsAsync(List<AuditJournalEntry> batch, CancellationToken ct)
    {
        var records = new List<AuditRecordRow>(batch.Count);
        var entities = new List<AuditEntityRow>(batch.Count * 2);
        foreach (var e in batch)
        {
            records.Add(e.Record);
            entities.AddRange(e.Entities);
        }
        // SQLite: take turns with the resource writer (PostgreSQL writers do not block each other here).
        var sqlite = options.Dialect == SqlDialect.Sqlite;
        if (sqlite) await writer.Gate.WaitAsync(ct);
        try
        {
            await AppendRowsAsync(records, entities, ct);
        }
        finally
        {
            if (sqlite) writer.Gate.Release();
        }
    }

    private async Task AppendRowsAsync(List<AuditRecordRow> records, List<AuditEntityRow> entities, CancellationToken ct)
    {
        await using var db = await factory.CreateDbContextAsync(ct);
        await db.Database.OpenConnectionAsync(ct);
        // Under WAL, NORMAL syncs at checkpoints: a commit survives a crash of the server, like the resource writer's.
        if (options.Dialect == SqlDialect.Sqlite) await db.Database.ExecuteSqlRawAsync("PRAGMA synchronous=NORMAL;", ct);
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var connection = db.Database.GetDbConnection();
        var transaction = tx.GetDbTransaction();
        await BulkInsert.InsertAsync(connection, transaction, options.Dialect, "AuditRecord", RecordColumns, records, ct);
        await BulkInsert.InsertAsync(connection, transaction, options.Dialect, "AuditEntity", EntityColumns, entities, ct);
        await tx.CommitAsync(ct);
    }

    /// <summary>Walks the whole chain in order; stops at the first link that does not hold.</summary>
    public async Task<ChainReport> VerifyAsync(CancellationToken ct = default)
    {
        // The head as it is now, and the database brought up to it: events appended during the walk are checked
        // if they are there already, but the head they moved on to is not held against the walk.
        await StartAsync(ct);
        var head = await KnownHeadAsync(ct);
        await FlushAsync(ct);
        await using var db = await factory.CreateDbContextAsync(ct);
        var previous = Sm3.Genesis;
        long expected = 1, checkedCount = 0;
        await foreach (var r in db.AuditRecords.OrderBy(r => r.Seq).Select(r => new { r.Seq, r.Data, r.Hash }).AsAsyncEnumerable().WithCancellation(ct))
        {
            if (r.Seq != expected)
                return new(false, checkedCount, expected, r.Seq > expected ? $"events {expected}–{r.Seq - 1} are missing" : $"event {r.Seq} is out of order");
            var link = Sm3.ChainLink(previous, r.Seq, r.Data);
            if (!link.AsSpan().SequenceEqual(r.Hash))
                return new(false, checkedCount, r.Seq, $"event {r.Seq} does not match its SM3 link (its content or link was changed, or events were swapped)");
            if (head is { } at && at.Seq == r.Seq && !at.Hash.AsSpan().SequenceEqual(link))
                return new(false, checkedCount, r.Seq, "the event at the recorded head has a different link than was recorded");
            previous = link;
            expected++;
            checkedCount++;
        }
        if (head is { } h && h.Seq > checkedCount)
            return new(false, checkedCount, checkedCount + 1, $"the chain ends at event {checkedCount} but event {h.Seq} was recorded: events were cut off the end");
        return new(true, checkedCount, null, null);
    }

    public async Task<(IReadOnlyList<AuditRecordRow> Rows, int Total)> SearchAsync(AuditQuery q, CancellationToken ct = default)
    {
        await FlushAsync(ct);
        await using var db = await factory.CreateDbContextAsync(ct);
        var rows = db.AuditRecords.AsQueryable();
        if (q.Patient is { } p) rows = rows.Where(r => db.AuditEntities.Any(e => e.Seq == r.Seq && e.Role == "patient" && e.Reference == p));
        if (q.Entity is { } en) rows = rows.Where(r => db.AuditEntities.Any(e => e.Seq == r.Seq && e.Reference == en));
        if (q.Agent is { } a) rows = rows.Where(r => r.Agent == a);
        if (q.ExcludeAgent is { } xa) rows = rows.Where(r => r.Agent == null || r.Agent != xa);
        if (q.From is { } from) rows = rows.Where(r => r.Recorded >= from);
        if (q.To is { } to) rows = rows.Where(r => r.Recorded <= to);
        if (q.Subtype is { } st) rows = rows.Where(r => r.Subtype == st);
        if (q.Action is { } ac) rows = rows.Where(r => r.Action == ac);
        if (q.Outcome is { } o) rows = rows.Where(r => r.Outcome == o);
        var total = await rows.CountAsync(ct);
        if (q.BeforeSeq is { } before) rows = rows.Where(r => r.Seq < before);
        var page = await rows.OrderByDescending(r => r.Seq).Take(q.Count).ToListAsync(ct);
        return (page, total);
    }

    public async Task<AuditRecordRow?> ReadAsync(string eventId, CancellationToken ct = default)
    {
        await FlushAsync(ct);
        await using var db = await factory.CreateDbContextAsync(ct);
        return await db.AuditRecords.FirstOrDefaultAsync(r => r.EventId == eventId, ct);
    }

    private async Task<(long Seq, byte[] Hash)?> KnownHeadAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try { return _started is null ? ReadHeadFile() : _head; }
        finally { _gate.Release(); }
    }

    /// <summary>The head file earlier versions kept beside the data (now the journal's last frame).</summary>
    private (long Seq, byte[] Hash)? ReadHeadFile()
    {
        try
        {
            var parts = File.ReadAllText(HeadFile).Split(' ');
            return (long.Parse(parts[0]), Convert.FromHexString(parts[1]));
        }
        catch (Exception e) when (e is IOException or FormatException or IndexOutOfRangeException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}

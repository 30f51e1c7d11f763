using System.Data;
using FhirArchive.Crypto;
using FhirArchive.Storage;
using FhirArchive.Storage.Schema;
using FhirArchive.Storage.Writing;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace FhirArchive.Audit.Store;

/// <summary>An event ready to append: its JSON and the columns it is searched by. Its id is its sequence number.</summary>
public sealed record AuditAppend(
    long Recorded, string Action, string Subtype, int Outcome, string? Agent, string? Organization,
    byte[] Data, IReadOnlyList<(string Role, string Reference)> Entities);

/// <summary>
/// An audit search; every given criterion must hold. <see cref="EntityPatients"/>: the patients whose data
/// <see cref="Entity"/> is (events name a patient's data under its patient's key, not its own).
/// </summary>
public sealed record AuditQuery(
    string? Patient = null, string? Agent = null, string? Entity = null, long? From = null, long? To = null,
    string? Subtype = null, string? Action = null, int? Outcome = null, long? BeforeSeq = null, int Count = 50,
    string? ExcludeAgent = null, IReadOnlyList<string>? EntityPatients = null);

/// <summary>The result of checking the chain: intact, or the first link that does not hold and why.</summary>
public sealed record ChainReport(bool Intact, long Checked, long? BrokenAt, string? Problem);

/// <summary>
/// The append-only audit trail. Every event is linked to the one before by SM3 over (previous link, sequence
/// number, event bytes), so a changed byte, a deleted event or two swapped events break the chain at that point.
/// An append is chained and copied into the journal (<see cref="AuditJournal"/>) on the caller's thread, and is
/// durable then; the database gets the journal's frames as they are, in blocks (<see cref="AuditBlockRow"/>) with
/// search keys per bucket of events, written behind in large batches and replayed from the journal after a crash.
/// Reads, searches and $verify first wait until the database holds every event appended so far, and decode blocks.
/// The head (last sequence number and link) is kept in memory and as the journal's last frame, so cutting events
/// off the end is caught too. One process appends (enforced, see <see cref="ClaimWriterAsync"/>).
/// </summary>
public sealed class AuditStore(IDbContextFactory<FhirDbContext> factory, StorageOptions options, DatabaseWriter writer) : IAsyncDisposable
{
    /// <summary>A block on its way into the database: its frames are a slice of the journal batch read for it.</summary>
    private sealed record PendingBlock(long First, long Last, ReadOnlyMemory<byte> Frames);

    private static readonly BulkColumn<PendingBlock>[] BlockColumns =
        [new("First", DbType.Int64, b => b.First), new("Last", DbType.Int64, b => b.Last), new("Frames", DbType.Binary, b => b.Frames)];

    private static readonly BulkColumn<AuditKeyRow>[] KeyColumns = [new("Key", DbType.String, r => r.Key), new("Bucket", DbType.Int64, r => r.Bucket)];

    /// <summary>Events per bucket of search keys (see <see cref="AuditKeyRow"/>).</summary>
    public const int BucketSize = 256;
    private const long TicksPerHour = TimeSpan.TicksPerHour;

    /// <summary>
    /// Adds a frame's search keys to its bucket's: its patients, the resources it names that are no patient's data,
    /// its agent, its hour. Read in place and looked up as characters: a key's string is made only the first time
    /// its bucket sees it.
    /// </summary>
    private static void AddKeys(FrameFields f, HashSet<string>.AlternateLookup<ReadOnlySpan<char>> keys)
    {
        while (f.NextEntity(out var role, out var reference))
            if (role.SequenceEqual("patient"u8)) AddKey(keys, "p:", reference);
            else if (!role.SequenceEqual("data"u8)) AddKey(keys, "e:", reference);
        if (f.HasAgent) AddKey(keys, "a:", f.Agent);
        Span<char> hour = stackalloc char[HourKeyLength];
        keys.Add(hour[..HourKey(f.Recorded, hour)]);
    }

    private static void AddKey(HashSet<string>.AlternateLookup<ReadOnlySpan<char>> keys, string prefix, ReadOnlySpan<byte> utf8)
    {
        var most = prefix.Length + System.Text.Encoding.UTF8.GetMaxCharCount(utf8.Length);
        char[]? rented = null;
        var chars = most <= 256 ? stackalloc char[256] : (rented = System.Buffers.ArrayPool<char>.Shared.Rent(most));
        prefix.CopyTo(chars);
        var length = prefix.Length + System.Text.Encoding.UTF8.GetChars(utf8, chars[prefix.Length..]);
        keys.Add(chars[..length]);
        if (rented is not null) System.Buffers.ArrayPool<char>.Shared.Return(rented);
    }

    /// <summary>"t:" and the hour since year 1, twelve digits at least (so keys of hours sort as text).</summary>
    private static int HourKey(long ticks, Span<char> into)
    {
        "t:".CopyTo(into);
        (ticks / TicksPerHour).TryFormat(into[2..], out var digits, "D12", System.Globalization.CultureInfo.InvariantCulture);
        return 2 + digits;
    }

    private const int HourKeyLength = 2 + 20;

    private static string HourKey(long ticks)
    {
        Span<char> key = stackalloc char[HourKeyLength];
        return new string(key[..HourKey(ticks, key)]);
    }

    /// <summary>
    /// How long the writer behind lets events gather before a database batch (unless someone waits for them: searches,
    /// reads and $verify hurry it). The events are durable in the journal meanwhile. Seldom, because on SQLite every
    /// commit to the file empties each reader connection's page cache (the WAL changed): a commit a second instead of
    /// ten took the audit on/off read ratio from 0.78 to 0.84 (medians; 28 and 8 pairs on 2 cores).
    /// </summary>
    private static readonly TimeSpan Gather = TimeSpan.FromSeconds(1);
    /// <summary>Journal bytes that make a batch worth writing without waiting; also the most one batch reads (about 30,000 reads' events).</summary>
    private const int GatheredEnough = 8 << 20;
    /// <summary>A journal restart carries over at most this much that the database lacks (else it waits for the database).</summary>
    private const long MaxCarriedOver = 4L << 20;
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

    // Appends take turns on this lock: the chain and the journal's order are one sequence. Held for the link, the
    // frame's encoding and one write to the journal (a few µs), never across an await.
    private readonly object _append = new();
    private readonly System.Buffers.ArrayBufferWriter<byte> _frame = new(4096);
    private (long Seq, byte[] Hash) _head;
    private long _lastFrame;
    private bool _stopped;

    // The writer behind: the journal itself is its queue, from _cursor (the first frame the database lacks) to the end.
    private readonly object _lock = new();
    private readonly List<(long Seq, TaskCompletionSource Done)> _waiters = [];
    private readonly SemaphoreSlim _wake = new(0);
    private readonly SemaphoreSlim _hurry = new(0);
    private readonly CancellationTokenSource _stop = new();
    private int _idle;
    private long _cursor;
    private long _appended, _stored;
    // The last sequence number in the AuditRecord table (events stored before blocks; 0: none). Blocks come after it.
    private long _legacyEnd;
    private Task? _started;
    private Task? _behind;
    private AuditJournal? _journal;
    private readonly JournalSyncs _syncs = new();

    // One journal (and legacy head file) per database, so switching databases does not look like tampering.
    private string DatabaseKey => Convert.ToHexString(Sm3.Hash(System.Text.Encoding.UTF8.GetBytes(options.ConnectionString ?? "sqlite")))[..12].ToLowerInvariant();
    private string HeadFile => Path.Combine(options.DataFolder, "audit-head-" + DatabaseKey);
    public string JournalFile => Path.Combine(options.DataFolder, "audit-journal-" + DatabaseKey);

    /// <summary>Opens the journal, finds what it holds beyond the database (the writer behind replays it), and starts the writer.</summary>
    public Task StartAsync(CancellationToken ct = default)
    {
        lock (_lock) return _started ??= Task.Run(() => StartCoreAsync(CancellationToken.None), CancellationToken.None);
    }

    private async Task StartCoreAsync(CancellationToken ct)
    {
        await ClaimWriterAsync(ct);
        _sync = SyncJournal ?? await DatabaseSyncsCommitsAsync(ct);
        _journal = new AuditJournal(JournalFile, JournalLimit + MaxCarriedOver);
        await using (var db = await factory.CreateDbContextAsync(ct))
        {
            var legacy = await db.AuditRecords.OrderByDescending(r => r.Seq).Select(r => new { r.Seq, r.Hash }).FirstOrDefaultAsync(ct);
            _legacyEnd = legacy?.Seq ?? 0;
            _head = await LastBlockEventAsync(db, ct) ?? (legacy is null ? (0L, Sm3.Genesis) : (legacy.Seq, legacy.Hash));
        }
        _stored = _head.Seq;
        // The frames the database lacks start at the first one past its last event; the journal's last frame is the head.
        _cursor = -1;
        _lastFrame = 0;
        foreach (var (offset, entry) in _journal.Frames(0))
        {
            if (_cursor < 0 && entry.Record.Seq > _stored) _cursor = offset;
            _lastFrame = offset;
            if (entry.Record.Seq > _head.Seq) _head = (entry.Record.Seq, entry.Record.Hash);
        }
        if (_cursor < 0) _cursor = _journal.Length;
        // Chain on from the recorded head if the table lost its tail, so the gap stays visible.
        if (ReadHeadFile() is { } f && f.Seq > _head.Seq) _head = f;
        _appended = _head.Seq;
        if (!WriteBehind) return;
        _behind = Task.Run(WriteBehindAsync, CancellationToken.None);
        // Started once the database holds what the journal had beyond it.
        await StoredAsync(_appended, ct);
    }

    /// <summary>
    /// Chains the event and writes it to the journal on the caller's thread: when this returns (and its task, which
    /// waits only for an fsync where the journal syncs every append) the event is durable; the database gets it
    /// shortly after. Concurrent appends fsync together.
    /// </summary>
    public ValueTask AppendAsync(AuditAppend e, CancellationToken ct = default)
    {
        if (_started is not { IsCompletedSuccessfully: true }) return AppendWhenStartedAsync(e, ct);
        var seq = Append(e);
        return _sync ? new ValueTask(_syncs.WaitAsync(this, seq)) : ValueTask.CompletedTask;
    }

    private async ValueTask AppendWhenStartedAsync(AuditAppend e, CancellationToken ct)
    {
        await StartAsync(ct);
        await AppendAsync(e, ct);
    }

    /// <summary>The last stored event of the newest block (a damaged block: its range, and no link to chain on).</summary>
    private static async Task<(long Seq, byte[] Hash)?> LastBlockEventAsync(FhirDbContext db, CancellationToken ct)
    {
        if (await db.AuditBlocks.OrderByDescending(b => b.First).FirstOrDefaultAsync(ct) is not { } block) return null;
        var frames = AuditJournal.FramesOf(block.Frames);
        var last = frames.Count > 0 ? AuditJournal.Decode(block.Frames.AsSpan(frames[^1].Start, frames[^1].Length)).Record : null;
        return last?.Seq == block.Last ? (block.Last, last.Hash) : (block.Last, Sm3.Genesis);
    }

    /// <summary>Several events in order (each is its own frame and link).</summary>
    public async Task AppendAsync(IReadOnlyList<AuditAppend> events, CancellationToken ct = default)
    {
        foreach (var e in events) await AppendAsync(e, ct);
    }

    /// <summary>Links and journals one event; returns its sequence number.</summary>
    private long Append(AuditAppend e)
    {
        long seq;
        lock (_append)
        {
            if (_stopped) throw new InvalidOperationException("The audit trail is shut down; the request cannot be audited.");
            seq = _head.Seq + 1;
            var hash = Sm3.ChainLink(_head.Hash, seq, e.Data);
            _frame.ResetWrittenCount();
            AuditJournal.Encode(seq, hash, e, _frame);
            var start = _journal!.Length;
            _journal.Append(_frame.WrittenSpan);
            _lastFrame = start;
            _head = (seq, hash);
            Volatile.Write(ref _appended, seq);
        }
        // Wakes the writer behind only when it sleeps for want of events (once per batch, not per event).
        if (Volatile.Read(ref _idle) == 1 && Interlocked.Exchange(ref _idle, 0) == 1) _wake.Release();
        return seq;
    }

    /// <summary>An event's id is its sequence number (the row's key): no id of its own to make, store or index.</summary>
    public static string EventIdOf(long seq) => seq.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Waits until the database holds every event appended before the call (searches must see them all).</summary>
    public async Task FlushAsync(CancellationToken ct = default)
    {
        await StartAsync(ct);
        await StoredAsync(Volatile.Read(ref _appended), ct);
    }

    private async Task StoredAsync(long target, CancellationToken ct)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
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
        // Without SyncJournal the journal is put on disk every SyncEvery, whether or not events keep coming.
        void SyncIfDue()
        {
            if (sinceSync.Elapsed < SyncEvery) return;
            SyncJournalQuietly();
            sinceSync.Restart();
        }
        while (true)
        {
            if (_cursor >= _journal!.Length)
            {
                if (stop.IsCancellationRequested) return;
                // Asleep until an append wakes it (or the next periodic fsync); a late event is seen on the next check.
                Volatile.Write(ref _idle, 1);
                if (_cursor >= _journal.Length)
                {
                    try { await _wake.WaitAsync(SyncEvery, stop); }
                    catch (OperationCanceledException) { }
                }
                Volatile.Write(ref _idle, 0);
                SyncIfDue();
                if (_cursor >= _journal.Length) continue;
            }
            // Let a batch gather (one database transaction per Gather, not per event), unless a big backlog is
            // waiting already, someone waits for the events, or the store stops.
            // The journal's periodic sync keeps its pace meanwhile.
            var gathering = System.Diagnostics.Stopwatch.StartNew();
            while (!stop.IsCancellationRequested && _journal.Length - _cursor < GatheredEnough && gathering.Elapsed < Gather)
            {
                try
                {
                    if (await _hurry.WaitAsync(SyncEvery, stop)) break;
                }
                catch (OperationCanceledException) { break; }
                SyncIfDue();
            }
            long next, last;
            using (var batch = _journal.ReadBatch(_cursor, GatheredEnough))
            {
                // Never twice: frames the database holds already (a journal restart can carry the head over) are skipped.
                batch.Frames.RemoveAll(f => f.Seq <= _stored);
                last = batch.Frames.Count > 0 ? batch.Frames[^1].Seq : 0;
                next = batch.Next;
                try
                {
                    if (batch.Frames.Count > 0) await WriteBlocksAsync(batch, CancellationToken.None);
                }
                catch (Exception)
                {
                    // Still in the journal and retried: a failed database write loses nothing.
                    if (stop.IsCancellationRequested) return;
                    await Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None);
                    continue;
                }
            }
            _cursor = next;
            ReserveJournalQuietly();
            List<TaskCompletionSource> ready;
            lock (_lock)
            {
                if (last > 0) _stored = last;
                ready = _waiters.Where(w => w.Seq <= _stored).Select(w => w.Done).ToList();
                _waiters.RemoveAll(w => w.Seq <= _stored);
            }
            foreach (var r in ready) r.TrySetResult();
            SyncIfDue();
            await RestartJournalIfDueAsync();
        }
    }

    /// <summary>
    /// Group fsync: appends that must be on disk wait for one fsync that covers them all. Counted in sequence
    /// numbers, not journal offsets: a journal restart starts its offsets again (and fsyncs what it carries over).
    /// The fsyncs run on a thread of their own: under load one runs after another, and on a thread-pool thread that
    /// would take a worker from the requests for good (the pool does not see a blocking system call). One starts at
    /// most every <see cref="GroupEvery"/>: an fsync costs this machine's CPU about 120 µs whatever it writes, so
    /// back to back (2,000 a second, four requests each) they cost more CPU than the rest of the audit; a request
    /// waits up to that much longer for its group instead.
    /// </summary>
    private sealed class JournalSyncs
    {
        private readonly object _lock = new();
        private readonly SemaphoreSlim _signal = new(0);
        private TaskCompletionSource? _next;
        private long _synced;
        private Thread? _thread;
        private bool _stopped;
        private static readonly TimeSpan GroupEvery = TimeSpan.FromMilliseconds(2);
        private readonly System.Diagnostics.Stopwatch _sinceLast = new();

        /// <summary>Ends the thread once it has synced what was asked for.</summary>
        public void Stop()
        {
            lock (_lock) _stopped = true;
            _signal.Release();
        }

        public Task WaitAsync(AuditStore store, long seq)
        {
            lock (_lock)
            {
                if (_synced >= seq) return Task.CompletedTask;
                if (_next is null)
                {
                    _next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    _signal.Release();
                }
                if (_thread is null)
                {
                    _thread = new Thread(() => Run(store)) { IsBackground = true, Name = "audit journal fsync" };
                    _thread.Start();
                }
                return _next.Task;
            }
        }

        private void Run(AuditStore store)
        {
            while (true)
            {
                _signal.Wait();
                // Let the group gather until the next fsync is due (none waits when the last was long ago).
                if (_sinceLast.IsRunning && _sinceLast.Elapsed < GroupEvery) Thread.Sleep(GroupEvery - _sinceLast.Elapsed);
                _sinceLast.Restart();
                TaskCompletionSource done;
                long target;
                lock (_lock)
                {
                    if (_next is null)
                    {
                        if (_stopped) return;
                        continue;
                    }
                    (done, _next) = (_next, null);
                    // Every event up to this one is in the journal's mapping already, its waiters' included.
                    target = Volatile.Read(ref store._appended);
                }
                try
                {
                    store._journal!.Sync();
                    lock (_lock) _synced = Math.Max(_synced, target);
                    done.TrySetResult();
                }
                catch (Exception e)
                {
                    done.TrySetException(e);
                }
            }
        }
    }

    /// <summary>
    /// The chain has one writer per database: a second server instance appending too would fork it (two events with
    /// one sequence number). SQLite's database lives in the data folder, whose journal is opened exclusively;
    /// PostgreSQL's can be shared by instances with their own folders, so the writer holds a session advisory lock
    /// for the database for as long as it runs, and a second one refuses to start instead of forking the trail.
    /// </summary>
    private async Task ClaimWriterAsync(CancellationToken ct)
    {
        if (options.Dialect == SqlDialect.Sqlite) return;
        var db = await factory.CreateDbContextAsync(ct);
        await db.Database.OpenConnectionAsync(ct);
        await using var cmd = db.Database.GetDbConnection().CreateCommand();
        cmd.CommandText = "SELECT pg_try_advisory_lock(hashtext('fhirarchive-audit-writer'), hashtext(current_database()))";
        if (await cmd.ExecuteScalarAsync(ct) is not true)
        {
            await db.DisposeAsync();
            throw new InvalidOperationException(
                "Another server instance writes the audit trail of this database: one instance per database writes it (the second would fork the chain).");
        }
        _writerLock = db;
    }

    /// <summary>The PostgreSQL session holding the writer's advisory lock (closing it releases the lock).</summary>
    private FhirDbContext? _writerLock;

    private async Task ReleaseWriterAsync()
    {
        if (_writerLock is not { } db) return;
        _writerLock = null;
        try { await db.Database.ExecuteSqlRawAsync("SELECT pg_advisory_unlock_all()"); }
        catch (Exception) { } // the session ends with the connection anyway
        await db.DisposeAsync();
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

    /// <summary>The journal's next stretch is allocated here, off the appends' path.</summary>
    private void ReserveJournalQuietly()
    {
        try { _journal!.Reserve(); }
        catch (IOException) { } // a full disk: the append that needs the space fails with it (its request is not answered)
    }

    /// <summary>Without <see cref="SyncJournal"/> the journal is still put on disk every <see cref="SyncEvery"/>.</summary>
    private void SyncJournalQuietly()
    {
        try { _journal!.Sync(); }
        catch (IOException) { } // tried again at the next round; the write itself already survives a crash of the server
    }

    /// <summary>
    /// Once the journal is big, it starts afresh with only what the database does not hold yet (or the head, so the
    /// chain's end stays known), after the database has durably taken the rest and when what is carried over is small
    /// (while the database is far behind, carrying everything over after every batch would be quadratic).
    /// </summary>
    private async Task RestartJournalIfDueAsync()
    {
        if (_journal!.Length < JournalLimit || _journal.Length - _cursor > MaxCarriedOver) return;
        // Everything before the cursor was committed before this call, so it is on disk after it.
        if (!await MakeDatabaseDurableAsync()) return;
        lock (_append)
        {
            // Appends wait meanwhile, so nothing slips between the two files.
            var from = _cursor < _journal.Length ? _cursor : _lastFrame;
            _journal.Restart(from);
            _cursor -= from;
            _lastFrame -= from;
        }
    }

    /// <summary>Forces what the database committed onto disk (its commits skip the fsync, as the resource writer's do).</summary>
    private async Task<bool> MakeDatabaseDurableAsync()
    {
        await using var db = await factory.CreateDbContextAsync();
        await db.Database.OpenConnectionAsync();
        await using var cmd = db.Database.GetDbConnection().CreateCommand();
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
        lock (_append)
        {
            if (_stopped) return;
            _stopped = true;
        }
        _stop.Cancel();
        _wake.Release();
        _syncs.Stop();
        if (_behind is not null) await _behind;
        SyncJournalQuietly();
        _journal?.Dispose();
        await ReleaseWriterAsync();
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    /// <summary>
    /// The batch's frames as they are, one block per run of them within a bucket, and each bucket's search keys: a
    /// handful of rows per batch instead of one or two per event.
    /// </summary>
    private async Task WriteBlocksAsync(JournalBatch batch, CancellationToken ct)
    {
        var frames = batch.Frames;
        var blocks = new List<PendingBlock>();
        var keyRows = new List<AuditKeyRow>();
        for (var i = 0; i < frames.Count;)
        {
            var bucket = frames[i].Seq / BucketSize;
            var j = i;
            while (j + 1 < frames.Count && frames[j + 1].Seq == frames[j].Seq + 1 && frames[j + 1].Seq / BucketSize == bucket
                   && frames[j + 1].Start == frames[j].Start + frames[j].Length)
                j++;
            var keys = new HashSet<string>();
            var lookup = keys.GetAlternateLookup<ReadOnlySpan<char>>();
            for (var k = i; k <= j; k++) AddKeys(AuditJournal.FieldsOf(batch.Bytes.Span.Slice(frames[k].Start, frames[k].Length)), lookup);
            foreach (var key in keys) keyRows.Add(new AuditKeyRow { Key = key, Bucket = bucket });
            var from = frames[i].Start;
            blocks.Add(new PendingBlock(frames[i].Seq, frames[j].Seq, batch.Bytes[from..(frames[j].Start + frames[j].Length)]));
            i = j + 1;
        }
        // SQLite: take turns with the resource writer (PostgreSQL writers do not block each other here).
        var sqlite = options.Dialect == SqlDialect.Sqlite;
        if (sqlite) await writer.Gate.WaitAsync(ct);
        try
        {
            await using var db = await factory.CreateDbContextAsync(ct);
            await db.Database.OpenConnectionAsync(ct);
            // Under WAL, NORMAL syncs at checkpoints: a commit survives a crash of the server, like the resource writer's.
            if (sqlite) await db.Database.ExecuteSqlRawAsync("PRAGMA synchronous=NORMAL;", ct);
            await using var tx = await db.Database.BeginTransactionAsync(ct);
            var connection = db.Database.GetDbConnection();
            var transaction = tx.GetDbTransaction();
            await BulkInsert.InsertAsync(connection, transaction, options.Dialect, "AuditBlock", BlockColumns, blocks, ct);
            // A bucket's keys may come in two batches (or again in a replay): a key there already is skipped.
            await BulkInsert.InsertAsync(connection, transaction, options.Dialect, "AuditKey", KeyColumns, keyRows, ct, ignoreDuplicates: true);
            await tx.CommitAsync(ct);
        }
        finally
        {
            if (sqlite) writer.Gate.Release();
        }
    }

    /// <summary>Walks the whole chain in order (the rows from before blocks, then the blocks); stops at the first link that does not hold.</summary>
    public async Task<ChainReport> VerifyAsync(CancellationToken ct = default)
    {
        // The head as it is now, and the database brought up to it: events appended during the walk are checked
        // if they are there already, but the head they moved on to is not held against the walk.
        await StartAsync(ct);
        var head = KnownHead();
        await FlushAsync(ct);
        await using var db = await factory.CreateDbContextAsync(ct);
        var previous = Sm3.Genesis;
        long expected = 1, checkedCount = 0;
        ChainReport? Check(long seq, byte[] data, byte[] hash)
        {
            if (seq != expected)
                return new(false, checkedCount, expected, seq > expected ? $"events {expected}–{seq - 1} are missing" : $"event {seq} is out of order");
            var link = Sm3.ChainLink(previous, seq, data);
            if (!link.AsSpan().SequenceEqual(hash))
                return new(false, checkedCount, seq, $"event {seq} does not match its SM3 link (its content or link was changed, or events were swapped)");
            if (head is { } at && at.Seq == seq && !at.Hash.AsSpan().SequenceEqual(link))
                return new(false, checkedCount, seq, "the event at the recorded head has a different link than was recorded");
            previous = link;
            expected++;
            checkedCount++;
            return null;
        }
        if (_legacyEnd > 0)
            await foreach (var r in db.AuditRecords.OrderBy(r => r.Seq).Select(r => new { r.Seq, r.Data, r.Hash }).AsAsyncEnumerable().WithCancellation(ct))
                if (Check(r.Seq, r.Data, r.Hash) is { } broken) return broken;
        var entries = new List<AuditJournalEntry>();
        await foreach (var block in db.AuditBlocks.OrderBy(b => b.First).AsAsyncEnumerable().WithCancellation(ct))
        {
            entries.Clear();
            var whole = AuditJournal.TryDecodeAll(block.Frames, entries);
            foreach (var e in entries)
                if (Check(e.Record.Seq, e.Record.Data, e.Record.Hash) is { } broken) return broken;
            if (!whole)
                return new(false, checkedCount, expected, $"the stored bytes of event {expected} were changed: its frame does not decode or fails its check");
            if (entries.Count == 0 || entries[0].Record.Seq != block.First || entries[^1].Record.Seq != block.Last)
                return new(false, checkedCount, block.First, $"the block stored as events {block.First}–{block.Last} holds other events");
        }
        if (head is { } h && h.Seq > checkedCount)
            return new(false, checkedCount, checkedCount + 1, $"the chain ends at event {checkedCount} but event {h.Seq} was recorded: events were cut off the end");
        return new(true, checkedCount, null, null);
    }

    /// <summary>
    /// Events matching every criterion, newest first, and how many match. Patient, entity, agent and time narrow the
    /// search to the buckets holding their keys; the events of those buckets are then filtered by every criterion.
    /// </summary>
    public async Task<(IReadOnlyList<AuditRecordRow> Rows, int Total)> SearchAsync(AuditQuery q, CancellationToken ct = default)
    {
        await FlushAsync(ct);
        await using var db = await factory.CreateDbContextAsync(ct);
        var page = new List<AuditRecordRow>();
        if (q is { Patient: null, Agent: null, Entity: null, From: null, To: null, Subtype: null, Action: null, Outcome: null, ExcludeAgent: null })
        {
            // The whole trail: counted from the blocks' ranges, the page from the newest blocks below the position.
            var all = await db.AuditBlocks.SumAsync(b => (long?)(b.Last - b.First + 1), ct) ?? 0;
            if (_legacyEnd > 0) all += await db.AuditRecords.LongCountAsync(ct);
            await foreach (var r in NewestFirstAsync(db, null, q.BeforeSeq, null, ct))
                if (page.Count < q.Count) page.Add(r);
                else break;
            return (page, (int)Math.Min(all, int.MaxValue));
        }
        var total = 0;
        var buckets = await BucketsAsync(db, q, ct);
        // Bucket ranges, newest first, in chunks (one statement each): the page from the first chunks, the total from all.
        var chunks = buckets is null ? Enumerable.Repeat<(long From, long To)[]?>(null, 1) : Ranges(buckets).Chunk(200);
        foreach (var chunk in chunks)
            await foreach (var r in NewestFirstAsync(db, chunk, null, q, ct))
            {
                total++;
                if (page.Count < q.Count && (q.BeforeSeq is not { } b || r.Seq < b)) page.Add(r);
            }
        return (page, total);
    }

    /// <summary>A row from before blocks against every criterion (frames are matched in place: <see cref="FrameFilter"/>).</summary>
    private static bool Matches(AuditRecordRow r, AuditQuery q) =>
        (q.Patient is not { } p || r.Entities.Contains(AuditRecordRow.EntityLine("patient", p), StringComparison.Ordinal))
        // Any role: the resource itself, a patient's data, or the patient.
        && (q.Entity is not { } en || r.Entities.Contains(" " + en + "\n", StringComparison.Ordinal))
        && (q.Agent is not { } a || r.Agent == a)
        && (q.ExcludeAgent is not { } xa || r.Agent != xa)
        && (q.From is not { } from || r.Recorded >= from)
        && (q.To is not { } to || r.Recorded <= to)
        && (q.Subtype is not { } st || r.Subtype == st)
        && (q.Action is not { } ac || r.Action == ac)
        && (q.Outcome is not { } o || r.Outcome == o);

    /// <summary>
    /// A query's criteria as UTF-8, matched against a block's frames where they lie: only the frames that match are
    /// decoded (a search reads whole buckets, most of whose events are someone else's).
    /// </summary>
    private sealed class FrameFilter(AuditQuery q)
    {
        private readonly byte[]? _patient = Utf8(q.Patient), _entity = Utf8(q.Entity), _agent = Utf8(q.Agent),
            _excluded = Utf8(q.ExcludeAgent), _subtype = Utf8(q.Subtype), _action = Utf8(q.Action);

        private static byte[]? Utf8(string? s) => s is null ? null : System.Text.Encoding.UTF8.GetBytes(s);

        public bool Matches(FrameFields f)
        {
            if (q.From is { } from && f.Recorded < from || q.To is { } to && f.Recorded > to || q.Outcome is { } o && f.Outcome != o) return false;
            if (_agent is not null && !(f.HasAgent && f.Agent.SequenceEqual(_agent))) return false;
            if (_excluded is not null && f.HasAgent && f.Agent.SequenceEqual(_excluded)) return false;
            if (_subtype is not null && !f.Subtype.SequenceEqual(_subtype) || _action is not null && !f.Action.SequenceEqual(_action)) return false;
            bool patient = _patient is null, entity = _entity is null;
            while (!(patient && entity) && f.NextEntity(out var role, out var reference))
            {
                // Any role for an entity: the resource itself, a patient's data, or the patient.
                patient |= _patient is not null && role.SequenceEqual("patient"u8) && reference.SequenceEqual(_patient);
                entity |= _entity is not null && reference.SequenceEqual(_entity);
            }
            return patient && entity;
        }
    }

    /// <summary>
    /// The stored events in these sequence number ranges (null: all), newest first, below <paramref name="below"/>
    /// if given, matching <paramref name="q"/> if given: the blocks' (a frame that does not decode ends its block
    /// here; $verify reports it), then the rows from before blocks, whose sequence numbers all come first.
    /// </summary>
    private async IAsyncEnumerable<AuditRecordRow> NewestFirstAsync(FhirDbContext db, (long From, long To)[]? ranges, long? below, AuditQuery? q,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        var blocks = db.AuditBlocks.AsQueryable();
        if (ranges is not null) blocks = blocks.Where(InRanges<AuditBlockRow>(ranges, nameof(AuditBlockRow.First)));
        if (below is { } b) blocks = blocks.Where(x => x.First < b);
        var filter = q is null ? null : new FrameFilter(q);
        await foreach (var block in blocks.OrderByDescending(x => x.First).AsAsyncEnumerable().WithCancellation(ct))
        {
            var frames = AuditJournal.FramesOf(block.Frames);
            for (var i = frames.Count - 1; i >= 0; i--)
            {
                var frame = block.Frames.AsMemory(frames[i].Start, frames[i].Length);
                var fields = AuditJournal.FieldsOf(frame.Span);
                if (below is not null && fields.Seq >= below || filter is not null && !filter.Matches(fields)) continue;
                yield return AuditJournal.Decode(frame.Span).Record;
            }
        }
        if (_legacyEnd == 0 || ranges is not null && ranges.All(r => r.From > _legacyEnd)) yield break;
        var rows = db.AuditRecords.AsQueryable();
        if (ranges is not null) rows = rows.Where(InRanges<AuditRecordRow>(ranges, nameof(AuditRecordRow.Seq)));
        if (below is { } before) rows = rows.Where(r => r.Seq < before);
        await foreach (var r in rows.OrderByDescending(r => r.Seq).AsAsyncEnumerable().WithCancellation(ct))
            if (q is null || Matches(r, q)) yield return r;
    }

    /// <summary>The buckets every keyed criterion allows (null: no keyed criterion, every event is a candidate), newest first.</summary>
    private static async Task<List<long>?> BucketsAsync(FhirDbContext db, AuditQuery q, CancellationToken ct)
    {
        HashSet<long>? buckets = null;
        async Task Narrow(IQueryable<AuditKeyRow> keys)
        {
            var found = await keys.Select(k => k.Bucket).Distinct().ToListAsync(ct);
            if (buckets is null) buckets = [.. found];
            else buckets.IntersectWith(found);
        }
        if (q.Patient is { } p) await Narrow(db.AuditKeys.Where(k => k.Key == "p:" + p));
        if (q.Entity is { } en)
        {
            // A patient's data is found through its patients (the resource itself is no key then).
            string[] keys = ["e:" + en, .. (q.EntityPatients ?? []).Select(x => "p:" + x)];
            await Narrow(db.AuditKeys.Where(k => keys.Contains(k.Key)));
        }
        if (q.Agent is { } a) await Narrow(db.AuditKeys.Where(k => k.Key == "a:" + a));
        if (q.From is not null || q.To is not null)
        {
            var low = HourKey(q.From ?? 0);
            var high = HourKey(q.To ?? DateTime.MaxValue.Ticks);
            await Narrow(db.AuditKeys.Where(k => k.Key.StartsWith("t:") && string.Compare(k.Key, low) >= 0 && string.Compare(k.Key, high) <= 0));
        }
        return buckets?.OrderDescending().ToList();
    }

    /// <summary>Consecutive buckets (newest first) as sequence number ranges [from, to).</summary>
    private static IEnumerable<(long From, long To)> Ranges(List<long> buckets)
    {
        for (var i = 0; i < buckets.Count;)
        {
            var high = buckets[i];
            var low = high;
            while (++i < buckets.Count && buckets[i] == low - 1) low--;
            yield return (low * BucketSize, (high + 1) * BucketSize);
        }
    }

    /// <summary>The rows whose <paramref name="property"/> (a sequence number) lies in any of the ranges.</summary>
    private static System.Linq.Expressions.Expression<Func<T, bool>> InRanges<T>((long From, long To)[] ranges, string property)
    {
        var r = System.Linq.Expressions.Expression.Parameter(typeof(T), "r");
        var seq = System.Linq.Expressions.Expression.Property(r, property);
        System.Linq.Expressions.Expression? any = null;
        foreach (var (from, to) in ranges)
        {
            var inRange = System.Linq.Expressions.Expression.AndAlso(
                System.Linq.Expressions.Expression.GreaterThanOrEqual(seq, System.Linq.Expressions.Expression.Constant(from)),
                System.Linq.Expressions.Expression.LessThan(seq, System.Linq.Expressions.Expression.Constant(to)));
            any = any is null ? inRange : System.Linq.Expressions.Expression.OrElse(any, inRange);
        }
        return System.Linq.Expressions.Expression.Lambda<Func<T, bool>>(any!, r);
    }

    public async Task<AuditRecordRow?> ReadAsync(string eventId, CancellationToken ct = default)
    {
        await FlushAsync(ct);
        await using var db = await factory.CreateDbContextAsync(ct);
        // Ids are sequence numbers; rows from before that keep an id of their own.
        if (long.TryParse(eventId, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seq)
            && EventIdOf(seq) == eventId)
        {
            if (seq > _legacyEnd)
            {
                var block = await db.AuditBlocks.Where(b => b.First <= seq).OrderByDescending(b => b.First).FirstOrDefaultAsync(ct);
                if (block is null) return null;
                // Found in place; only that frame is decoded.
                foreach (var (start, length) in AuditJournal.FramesOf(block.Frames))
                    if (AuditJournal.FieldsOf(block.Frames.AsSpan(start, length)).Seq == seq) return AuditJournal.Decode(block.Frames.AsSpan(start, length)).Record;
                return null;
            }
            if (await db.AuditRecords.FirstOrDefaultAsync(r => r.Seq == seq, ct) is { EventId: null } row) return row;
        }
        return _legacyEnd == 0 ? null : await db.AuditRecords.FirstOrDefaultAsync(r => r.EventId == eventId, ct);
    }

    /// <summary>The chain's head now: the last event appended and its link (sequence 0 and the genesis link for an empty trail).</summary>
    public async Task<(long Seq, byte[] Hash)> HeadAsync(CancellationToken ct = default)
    {
        await StartAsync(ct);
        lock (_append) return _head;
    }

    /// <summary>
    /// The chained bytes of the events after <paramref name="after"/> up to <paramref name="through"/>, in order, as
    /// they were linked (what an outside verifier recomputes a checkpoint's head from). A frame that does not decode
    /// ends the list there ($verify names it).
    /// </summary>
    public async Task<IReadOnlyList<(long Seq, byte[] Data)>> ChainAsync(long after, long through, CancellationToken ct = default)
    {
        await FlushAsync(ct);
        await using var db = await factory.CreateDbContextAsync(ct);
        var found = new List<(long Seq, byte[] Data)>();
        if (after < _legacyEnd)
            await foreach (var r in db.AuditRecords.Where(r => r.Seq > after && r.Seq <= through).OrderBy(r => r.Seq)
                               .Select(r => new { r.Seq, r.Data }).AsAsyncEnumerable().WithCancellation(ct))
                found.Add((r.Seq, r.Data));
        var entries = new List<AuditJournalEntry>();
        await foreach (var block in db.AuditBlocks.Where(b => b.Last > after && b.First <= through).OrderBy(b => b.First).AsAsyncEnumerable().WithCancellation(ct))
        {
            entries.Clear();
            var whole = AuditJournal.TryDecodeAll(block.Frames, entries);
            found.AddRange(entries.Where(e => e.Record.Seq > after && e.Record.Seq <= through).Select(e => (e.Record.Seq, e.Record.Data)));
            if (!whole) break;
        }
        return found;
    }

    private (long Seq, byte[] Hash)? KnownHead()
    {
        if (_started is null) return ReadHeadFile();
        lock (_append) return _head;
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

using System.Data;
using FhirArchive.Crypto;
using FhirArchive.Storage.Schema;
using FhirArchive.Storage.Writing;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace FhirArchive.Storage.Audit;

/// <summary>An event ready to append: its JSON and the columns it is searched by.</summary>
public sealed record AuditAppend(
    string EventId, long Recorded, string Action, string Subtype, int Outcome, string? Agent, string? Organization,
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
/// The head (last sequence number and link) is also kept in memory and in a file beside the data, so cutting events
/// off the end is caught too. One process appends (SQLite allows no more; for PostgreSQL run one writer).
/// </summary>
public sealed class AuditStore(IDbContextFactory<FhirDbContext> factory, StorageOptions options, DatabaseWriter writer)
{
    private static readonly BulkColumn<AuditRecordRow>[] RecordColumns =
    [
        new("Seq", DbType.Int64, r => r.Seq), new("EventId", DbType.String, r => r.EventId), new("Recorded", DbType.Int64, r => r.Recorded),
        new("Action", DbType.String, r => r.Action), new("Subtype", DbType.String, r => r.Subtype), new("Outcome", DbType.Int32, r => r.Outcome),
        new("Agent", DbType.String, r => r.Agent), new("Organization", DbType.String, r => r.Organization),
        new("Data", DbType.Binary, r => r.Data), new("Hash", DbType.Binary, r => r.Hash),
    ];

    // The entity row's own Id is left to the database.
    private static readonly BulkColumn<AuditEntityRow>[] EntityColumns =
        [new("Seq", DbType.Int64, r => r.Seq), new("Role", DbType.String, r => r.Role), new("Reference", DbType.String, r => r.Reference)];

    private readonly SemaphoreSlim _gate = new(1, 1);
    private (long Seq, byte[] Hash)? _head;
    // One head file per database, so switching databases does not look like tampering.
    private string HeadFile => Path.Combine(options.DataFolder,
        "audit-head-" + Convert.ToHexString(Sm3.Hash(System.Text.Encoding.UTF8.GetBytes(options.ConnectionString ?? "sqlite")))[..12].ToLowerInvariant());

    public async Task AppendAsync(IReadOnlyList<AuditAppend> events, CancellationToken ct = default)
    {
        if (events.Count == 0) return;
        await _gate.WaitAsync(ct);
        try
        {
            var (seq, hash) = _head ??= await LoadHeadAsync(ct);
            var records = new List<AuditRecordRow>(events.Count);
            var entities = new List<AuditEntityRow>();
            foreach (var e in events)
            {
                seq++;
                hash = Sm3.ChainLink(hash, seq, e.Data);
                records.Add(new AuditRecordRow
                {
                    Seq = seq, EventId = e.EventId, Recorded = e.Recorded, Action = e.Action, Subtype = e.Subtype,
                    Outcome = e.Outcome, Agent = e.Agent, Organization = e.Organization, Data = e.Data, Hash = hash,
                });
                foreach (var (role, reference) in e.Entities)
                    entities.Add(new AuditEntityRow { Seq = seq, Role = role, Reference = reference });
            }
            // Prepared bulk INSERTs (as the resource writer does), not EF change tracking: the trail is on every request's path.
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
            _head = (seq, hash);
            SaveHeadFile(seq, hash);
        }
        finally
        {
            _gate.Release();
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
            previous = link;
            expected++;
            checkedCount++;
        }
        var head = await KnownHeadAsync(ct);
        if (head is { } h && h.Seq > checkedCount)
            return new(false, checkedCount, checkedCount + 1, $"the chain ends at event {checkedCount} but event {h.Seq} was recorded: events were cut off the end");
        if (head is { } h2 && h2.Seq == checkedCount && checkedCount > 0 && !h2.Hash.AsSpan().SequenceEqual(previous))
            return new(false, checkedCount, checkedCount, "the last event's link differs from the recorded head");
        return new(true, checkedCount, null, null);
    }

    public async Task<(IReadOnlyList<AuditRecordRow> Rows, int Total)> SearchAsync(AuditQuery q, CancellationToken ct = default)
    {
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
        await using var db = await factory.CreateDbContextAsync(ct);
        return await db.AuditRecords.FirstOrDefaultAsync(r => r.EventId == eventId, ct);
    }

    private async Task<(long, byte[])> LoadHeadAsync(CancellationToken ct)
    {
        await using var db = await factory.CreateDbContextAsync(ct);
        var last = await db.AuditRecords.OrderByDescending(r => r.Seq).Select(r => new { r.Seq, r.Hash }).FirstOrDefaultAsync(ct);
        var fromDb = last is null ? (0L, Sm3.Genesis) : (last.Seq, last.Hash);
        // Chain on from the recorded head if the table lost its tail, so the gap stays visible.
        return ReadHeadFile() is { } f && f.Seq > fromDb.Item1 ? f : fromDb;
    }

    private async Task<(long Seq, byte[] Hash)?> KnownHeadAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try { return _head ?? ReadHeadFile(); }
        finally { _gate.Release(); }
    }

    private void SaveHeadFile(long seq, byte[] hash)
    {
        Directory.CreateDirectory(options.DataFolder);
        File.WriteAllText(HeadFile, $"{seq} {Convert.ToHexString(hash)}");
    }

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

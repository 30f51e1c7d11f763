using System.Data.Common;
using FhirArchive.Storage.Indexing;
using FhirArchive.Storage.Schema;
using FhirArchive.Storage.Encryption;
using FhirArchive.Storage.Search;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace FhirArchive.Storage.Writing;

/// <summary>
/// The single writer's transaction. New versions and their index rows are buffered and written in bulk (multi-row
/// INSERTs) when the session reads, searches, supersedes a version or commits, so every read inside the session
/// still sees all earlier writes, and a transaction Bundle of creates costs a handful of statements, not several
/// per entry. Row ids are reserved up front so a version's id is known when it is buffered.
/// </summary>
internal sealed class WriteSession(ResourceStore store, FhirDbContext db, IDbContextTransaction tx, SemaphoreSlim writer, SqlDialect dialect) : IWriteSession
{
    private const int FlushAt = 1000;
    private const int PostgresIdBlock = 200;
    private readonly List<(ResourceVersionRow Row, IndexSet? Index)> _pending = [];
    private readonly Queue<long> _reservedIds = new();
    private long _nextSqliteId;
    private bool _done;
    private List<Func<Task>>? _onCommitted;

    /// <summary>The session's context, for tables of their own kept in the same transaction (access requests).</summary>
    internal FhirDbContext Db => db;

    private DbConnection Connection => db.Database.GetDbConnection();
    private DbTransaction Transaction => tx.GetDbTransaction();

    public async Task<StoredResource?> ReadAsync(string type, string id, CancellationToken ct = default)
    {
        await FlushAsync(ct);
        return await store.ReadCurrent(db, type, id, ct);
    }

    public async Task<SearchResult> SearchAsync(SearchQuery query, CancellationToken ct = default)
    {
        await FlushAsync(ct);
        return await store.Search(db, query, ct);
    }

    public async Task<StoredResource> PutAsync(string type, string id, int version, DateTimeOffset lastUpdated, byte[] json, IndexSet index, CancellationToken ct = default)
    {
        var (data, keyId) = store.Pack(type, id, version, json);
        var row = await SupersedeAsync(type, id, version, lastUpdated, data, isDeleted: false, ct);
        row.KeyId = keyId;
        foreach (var i in index.All) i.ResourceRowId = row.Id;
        _pending.Add((row, index));
        if (_pending.Count >= FlushAt) await FlushAsync(ct);
        return new StoredResource(row.Id, type, id, version, lastUpdated, false, json);
    }

    public async Task<StoredResource> DeleteAsync(string type, string id, int version, DateTimeOffset lastUpdated, CancellationToken ct = default)
    {
        var row = await SupersedeAsync(type, id, version, lastUpdated, null, isDeleted: true, ct);
        _pending.Add((row, null));
        return new StoredResource(row.Id, type, id, version, lastUpdated, true, null);
    }

    /// <summary>
    /// Marks the previous current version as history and drops its index rows (written at once, after the buffer),
    /// and returns the new current version row, not yet written. Version 1 is a creation: the callers read the
    /// current version to number the new one, so there is nothing to supersede and no query is needed.
    /// </summary>
    private async Task<ResourceVersionRow> SupersedeAsync(string type, string id, int version, DateTimeOffset lastUpdated, byte[]? data, bool isDeleted, CancellationToken ct)
    {
        if (version > 1)
        {
            await FlushAsync(ct);
            var previous = await db.Resources.Where(r => r.ResourceType == type && r.ResourceId == id && r.IsCurrent)
                .Select(r => (long?)r.Id).FirstOrDefaultAsync(ct);
            if (previous is { } prev)
            {
                await db.Resources.Where(r => r.Id == prev).ExecuteUpdateAsync(s => s.SetProperty(r => r.IsCurrent, false), ct);
                await db.Tokens.Where(x => x.ResourceRowId == prev).ExecuteDeleteAsync(ct);
                await db.Strings.Where(x => x.ResourceRowId == prev).ExecuteDeleteAsync(ct);
                await db.Dates.Where(x => x.ResourceRowId == prev).ExecuteDeleteAsync(ct);
                await db.Numbers.Where(x => x.ResourceRowId == prev).ExecuteDeleteAsync(ct);
                await db.Quantities.Where(x => x.ResourceRowId == prev).ExecuteDeleteAsync(ct);
                await db.References.Where(x => x.ResourceRowId == prev).ExecuteDeleteAsync(ct);
                await db.Uris.Where(x => x.ResourceRowId == prev).ExecuteDeleteAsync(ct);
            }
        }
        return new ResourceVersionRow
        {
            Id = await NextRowIdAsync(ct), ResourceType = type, ResourceId = id, Version = version, LastUpdated = lastUpdated.UtcTicks,
            IsDeleted = isDeleted, IsCurrent = true, Data = data,
        };
    }

    /// <summary>
    /// SQLite: the session holds the database's write lock (BEGIN IMMEDIATE), so ids simply continue from the highest
    /// ever used. PostgreSQL: blocks taken from the column's identity sequence, safe with other writers.
    /// </summary>
    private async Task<long> NextRowIdAsync(CancellationToken ct)
    {
        if (dialect == SqlDialect.Sqlite)
        {
            if (_nextSqliteId == 0)
                _nextSqliteId = 1 + await ScalarAsync("""
                    SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'ResourceVersion'), 0),
                               coalesce((SELECT max("Id") FROM "ResourceVersion"), 0))
                    """, ct);
            return _nextSqliteId++;
        }
        if (_reservedIds.Count == 0)
        {
            await using var cmd = Connection.CreateCommand();
            cmd.Transaction = Transaction;
            cmd.CommandText = $"""SELECT nextval(pg_get_serial_sequence('"ResourceVersion"', 'Id')) FROM generate_series(1, {PostgresIdBlock})""";
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) _reservedIds.Enqueue(reader.GetInt64(0));
        }
        return _reservedIds.Dequeue();
    }

    private async Task<long> ScalarAsync(string sql, CancellationToken ct)
    {
        await using var cmd = Connection.CreateCommand();
        cmd.Transaction = Transaction;
        cmd.CommandText = sql;
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(ct));
    }

    /// <summary>Writes the buffered versions, then their index rows, one multi-row INSERT per table and chunk.</summary>
    private async Task FlushAsync(CancellationToken ct)
    {
        if (_pending.Count == 0) return;
        var c = Connection;
        var t = Transaction;
        await BulkInsert.InsertAsync(c, t, dialect, "ResourceVersion", RowTables.Versions, _pending.Select(p => p.Row).ToList(), ct);
        await InsertIndexRowsAsync(_pending.Where(p => p.Index is not null).Select(p => p.Index!).ToList(), ct);
        _pending.Clear();
    }

    private async Task InsertIndexRowsAsync(List<IndexSet> sets, CancellationToken ct)
    {
        var c = Connection;
        var t = Transaction;
        await BulkInsert.InsertAsync(c, t, dialect, "TokenIndex", RowTables.Tokens, sets.SelectMany(s => s.Tokens).ToList(), ct);
        await BulkInsert.InsertAsync(c, t, dialect, "StringIndex", RowTables.Strings, sets.SelectMany(s => s.Strings).ToList(), ct);
        await BulkInsert.InsertAsync(c, t, dialect, "DateIndex", RowTables.Dates, sets.SelectMany(s => s.Dates).ToList(), ct);
        await BulkInsert.InsertAsync(c, t, dialect, "NumberIndex", RowTables.Numbers, sets.SelectMany(s => s.Numbers).ToList(), ct);
        await BulkInsert.InsertAsync(c, t, dialect, "QuantityIndex", RowTables.Quantities, sets.SelectMany(s => s.Quantities).ToList(), ct);
        await BulkInsert.InsertAsync(c, t, dialect, "ReferenceIndex", RowTables.References, sets.SelectMany(s => s.References).ToList(), ct);
        await BulkInsert.InsertAsync(c, t, dialect, "UriIndex", RowTables.Uris, sets.SelectMany(s => s.Uris).ToList(), ct);
    }

    /// <summary>
    /// Under field encryption a key is stored as its blind index: the one-person-one-record keys are ID numbers
    /// ("id-card|110105…"), and the UNIQUE index decides on the blind index just as well.
    /// </summary>
    private string StoredKey(string scope, string key) => store.Encryption.Enabled ? store.Encryption.Blind(FieldEncryption.UniqueDomain(scope), key) : key;

    public async Task<string> ClaimUniqueAsync(string scope, string key, string owner, CancellationToken ct = default)
    {
        key = StoredKey(scope, key);
        // INSERT .. ON CONFLICT DO NOTHING: the claim itself is the check (no failed statement aborts a PostgreSQL transaction).
        await db.Database.ExecuteSqlRawAsync(
            """INSERT INTO "UniqueKey" ("Scope", "Key", "Owner") VALUES ({0}, {1}, {2}) ON CONFLICT DO NOTHING""", [scope, key, owner], ct);
        var owners = await db.Database.SqlQueryRaw<string>(
            """SELECT "Owner" AS "Value" FROM "UniqueKey" WHERE "Scope" = {0} AND "Key" = {1}""", scope, key).ToListAsync(ct);
        return owners.Single();
    }

    public async Task ReleaseUniqueAsync(string scope, string owner, IReadOnlyCollection<string> keep, CancellationToken ct = default)
    {
        var held = await db.Database.SqlQueryRaw<string>(
            """SELECT "Key" AS "Value" FROM "UniqueKey" WHERE "Scope" = {0} AND "Owner" = {1}""", scope, owner).ToListAsync(ct);
        var kept = keep.Select(k => StoredKey(scope, k)).ToHashSet(StringComparer.Ordinal);
        foreach (var key in held.Where(k => !kept.Contains(k)))
            await db.Database.ExecuteSqlRawAsync("""DELETE FROM "UniqueKey" WHERE "Scope" = {0} AND "Key" = {1}""", [scope, key], ct);
    }

    public async Task<long> NextCounterAsync(string name, CancellationToken ct = default)
    {
        await db.Database.ExecuteSqlRawAsync(
            """INSERT INTO "Counter" ("Name", "Value") VALUES ({0}, 1) ON CONFLICT ("Name") DO UPDATE SET "Value" = "Counter"."Value" + 1""", [name], ct);
        var values = await db.Database.SqlQueryRaw<long>("""SELECT "Value" FROM "Counter" WHERE "Name" = {0}""", name).ToListAsync(ct);
        return values.Single();
    }

    public async Task ReindexAsync(IReadOnlyList<(long RowId, IndexSet Index)> rows, CancellationToken ct = default)
    {
        await FlushAsync(ct);
        var ids = rows.Select(r => r.RowId).ToList();
        await DeleteIndexRowsAsync(ids, ct);
        foreach (var (rowId, index) in rows)
            foreach (var i in index.All) i.ResourceRowId = rowId;
        await InsertIndexRowsAsync(rows.Select(r => r.Index).ToList(), ct);
    }

    public async Task PurgeAsync(string type, string id, CancellationToken ct = default)
    {
        await FlushAsync(ct);
        var rows = await db.Resources.Where(r => r.ResourceType == type && r.ResourceId == id).Select(r => r.Id).ToListAsync(ct);
        await DeleteIndexRowsAsync(rows, ct);
        await db.Resources.Where(r => rows.Contains(r.Id)).ExecuteDeleteAsync(ct);
    }

    /// <summary>Removes every search-index row of these version rows, in each typed index table.</summary>
    private async Task DeleteIndexRowsAsync(List<long> rowIds, CancellationToken ct)
    {
        await db.Tokens.Where(x => rowIds.Contains(x.ResourceRowId)).ExecuteDeleteAsync(ct);
        await db.Strings.Where(x => rowIds.Contains(x.ResourceRowId)).ExecuteDeleteAsync(ct);
        await db.Dates.Where(x => rowIds.Contains(x.ResourceRowId)).ExecuteDeleteAsync(ct);
        await db.Numbers.Where(x => rowIds.Contains(x.ResourceRowId)).ExecuteDeleteAsync(ct);
        await db.Quantities.Where(x => rowIds.Contains(x.ResourceRowId)).ExecuteDeleteAsync(ct);
        await db.References.Where(x => rowIds.Contains(x.ResourceRowId)).ExecuteDeleteAsync(ct);
        await db.Uris.Where(x => rowIds.Contains(x.ResourceRowId)).ExecuteDeleteAsync(ct);
    }

    public async Task CommitAsync(CancellationToken ct = default)
    {
        await FlushAsync(ct);
        await tx.CommitAsync(ct);
        _done = true;
    }

    public void OnCommitted(Func<Task> action) => (_onCommitted ??= []).Add(action);

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_done) await tx.RollbackAsync();
            await tx.DisposeAsync();
            await db.DisposeAsync();
        }
        finally
        {
            writer.Release();
        }
        // Outside the transaction and the writer: an action may open a session of its own.
        if (!_done || _onCommitted is null) return;
        foreach (var action in _onCommitted)
        {
            try
            {
                await action();
            }
            catch (Exception)
            {
                // The write is committed; reporting a follow-up's failure is the follow-up's own job (it logs).
            }
        }
    }
}

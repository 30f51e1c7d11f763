using FhirArchive.Storage.Encryption;
using FhirArchive.Storage.Indexing;
using FhirArchive.Storage.Schema;
using FhirArchive.Storage.Search;
using FhirArchive.Storage.Writing;
using Microsoft.EntityFrameworkCore;

namespace FhirArchive.Storage;

/// <summary>One stored version: <see cref="Json"/> holds the exact bytes to serve (null for a delete).</summary>
public sealed record StoredResource(long RowId, string ResourceType, string Id, int Version, DateTimeOffset LastUpdated, bool IsDeleted, byte[]? Json);

public sealed record HistoryQuery(string? ResourceType, string? Id, DateTimeOffset? Since, DateTimeOffset? At, int Count, int Offset);

public interface IResourceStore
{
    Task InitializeAsync(CancellationToken ct = default);
    /// <summary>The current version, deleted or not; null if the resource never existed.</summary>
    Task<StoredResource?> ReadAsync(string type, string id, CancellationToken ct = default);
    Task<StoredResource?> ReadVersionAsync(string type, string id, int version, CancellationToken ct = default);
    Task<IReadOnlyList<StoredResource>> ReadManyAsync(IEnumerable<(string Type, string Id)> keys, CancellationToken ct = default);
    Task<(IReadOnlyList<StoredResource> Versions, int Total)> HistoryAsync(HistoryQuery query, CancellationToken ct = default);
    Task<SearchResult> SearchAsync(SearchQuery query, CancellationToken ct = default);
    /// <summary>Resources referenced through <paramref name="param"/> (any reference parameter when null: _include=*) by the given rows (_include); at most <see cref="ResourceStore.MaxIncluded"/>.</summary>
    Task<IReadOnlyList<StoredResource>> IncludesAsync(IReadOnlyCollection<long> rowIds, string? param, string? targetType, CancellationToken ct = default);
    /// <summary>Resources of <paramref name="sourceType"/> (any type when null) referring through <paramref name="param"/> (any when null: _revinclude=*) to the given resources; at most <see cref="ResourceStore.MaxIncluded"/>.</summary>
    Task<IReadOnlyList<StoredResource>> RevIncludesAsync(string? sourceType, string? param, string targetType, IReadOnlyCollection<string> targetIds, CancellationToken ct = default);
    /// <summary>The ids of <paramref name="targetType"/> resources that the given rows reference through <paramref name="param"/> (_has).</summary>
    Task<IReadOnlyList<string>> ReferencedIdsAsync(IReadOnlyCollection<long> rowIds, string param, string targetType, CancellationToken ct = default);
    /// <summary>Opens the single writer: everything written through the session commits or rolls back together.</summary>
    Task<IWriteSession> BeginWriteAsync(CancellationToken ct = default);
}

public interface IWriteSession : IAsyncDisposable
{
    Task<StoredResource?> ReadAsync(string type, string id, CancellationToken ct = default);
    Task<SearchResult> SearchAsync(SearchQuery query, CancellationToken ct = default);
    /// <summary>Stores a new current version with its index rows (json is the final, stamped resource).</summary>
    Task<StoredResource> PutAsync(string type, string id, int version, DateTimeOffset lastUpdated, byte[] json, IndexSet index, CancellationToken ct = default);
    Task<StoredResource> DeleteAsync(string type, string id, int version, DateTimeOffset lastUpdated, CancellationToken ct = default);
    /// <summary>
    /// Claims <paramref name="key"/> in <paramref name="scope"/> for <paramref name="owner"/> (a UNIQUE index decides,
    /// so concurrent writers cannot both win); returns the owner holding it afterwards: the given one, or another.
    /// </summary>
    Task<string> ClaimUniqueAsync(string scope, string key, string owner, CancellationToken ct = default);
    /// <summary>Releases the owner's keys in the scope except those listed.</summary>
    Task ReleaseUniqueAsync(string scope, string owner, IReadOnlyCollection<string> keep, CancellationToken ct = default);
    /// <summary>The next value (1, 2, ...) of a named counter; a value is never handed out twice, even after a rollback elsewhere.</summary>
    Task<long> NextCounterAsync(string name, CancellationToken ct = default);
    /// <summary>Replaces the index rows of stored versions (search parameters added or changed since they were written); no new version.</summary>
    Task ReindexAsync(IReadOnlyList<(long RowId, IndexSet Index)> rows, CancellationToken ct = default);
    /// <summary>Removes every version of a resource with its index rows: only for purges the law allows.</summary>
    Task PurgeAsync(string type, string id, CancellationToken ct = default);
    Task CommitAsync(CancellationToken ct = default);
    /// <summary>
    /// Runs <paramref name="action"/> after the session has committed and released the single writer (never when it
    /// rolls back), before its disposal returns: work that must follow a write but not hold its transaction (the
    /// subscriptions' matching). The write is done by then, so a failing action is the action's to report.
    /// </summary>
    void OnCommitted(Func<Task> action);
}

public sealed class ResourceStore(IDbContextFactory<FhirDbContext> factory, StorageOptions options, DatabaseWriter? writer = null,
    FieldEncryption? encryption = null) : IResourceStore, IDisposable
{
    private readonly ReadById _readById = new(factory);

    /// <summary>Field encryption at rest (off unless configured): versions sealed on write, opened on read.</summary>
    internal FieldEncryption Encryption { get; } = encryption ?? FieldEncryption.Off;

    // One writer at a time (shared with the audit trail): SQLite allows no more, and it makes version numbering race-free.
    private readonly SemaphoreSlim _writer = (writer ?? new DatabaseWriter()).Gate;

    public async Task InitializeAsync(CancellationToken ct = default)
    {
        await using var db = await factory.CreateDbContextAsync(ct);
        if (options.Dialect == SqlDialect.Sqlite)
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", ct);
        await SchemaMigrator.MigrateAsync(db, options.Dialect, ct);
        await Encryption.CheckStartAsync(db, ct);
        await Encryption.LoadKeysAsync(db, ct);
    }

    public async Task<StoredResource?> ReadAsync(string type, string id, CancellationToken ct = default)
    {
        var row = await _readById.CurrentAsync(type, id, ct);
        return row is null ? null : ToStored(row);
    }

    public void Dispose() => _readById.Dispose();

    // Reads by id are the hottest path: compiled once, so no LINQ expression is built, cached or looked up per call.
    // Per store, not static: a compiled query is bound to one model, and SQLite and PostgreSQL stores can share a process.
    private readonly Func<FhirDbContext, string, string, CancellationToken, Task<ResourceVersionRow?>> CurrentRow =
        EF.CompileAsyncQuery((FhirDbContext db, string type, string id, CancellationToken ct) =>
            db.Resources.FirstOrDefault(r => r.ResourceType == type && r.ResourceId == id && r.IsCurrent));

    private readonly Func<FhirDbContext, string, string, int, CancellationToken, Task<ResourceVersionRow?>> VersionRow =
        EF.CompileAsyncQuery((FhirDbContext db, string type, string id, int version, CancellationToken ct) =>
            db.Resources.FirstOrDefault(r => r.ResourceType == type && r.ResourceId == id && r.Version == version));

    internal async Task<StoredResource?> ReadCurrent(FhirDbContext db, string type, string id, CancellationToken ct)
    {
        var row = await CurrentRow(db, type, id, ct);
        return row is null ? null : ToStored(row);
    }

    public async Task<StoredResource?> ReadVersionAsync(string type, string id, int version, CancellationToken ct = default)
    {
        await using var db = await factory.CreateDbContextAsync(ct);
        var row = await VersionRow(db, type, id, version, ct);
        return row is null ? null : ToStored(row);
    }

    public async Task<IReadOnlyList<StoredResource>> ReadManyAsync(IEnumerable<(string Type, string Id)> keys, CancellationToken ct = default)
    {
        await using var db = await factory.CreateDbContextAsync(ct);
        var result = new List<StoredResource>();
        foreach (var g in keys.Distinct().GroupBy(k => k.Type))
        {
            var ids = g.Select(k => k.Id).ToList();
            var type = g.Key;
            var rows = await db.Resources.Where(r => r.ResourceType == type && r.IsCurrent && !r.IsDeleted && ids.Contains(r.ResourceId)).ToListAsync(ct);
            result.AddRange(rows.Select(ToStored));
        }
        return result;
    }

    public async Task<(IReadOnlyList<StoredResource>, int)> HistoryAsync(HistoryQuery query, CancellationToken ct = default)
    {
        await using var db = await factory.CreateDbContextAsync(ct);
        var q = db.Resources.AsQueryable();
        if (query.ResourceType is { } t) q = q.Where(r => r.ResourceType == t);
        if (query.Id is { } id) q = q.Where(r => r.ResourceId == id);
        if (query.Since is { } since)
        {
            var ticks = since.UtcTicks;
            q = q.Where(r => r.LastUpdated >= ticks);
        }
        if (query.At is { } at)
        {
            // _at: the versions that were current at that instant, i.e. the latest version per resource not after it.
            var ticks = at.UtcTicks;
            q = q.Where(r => r.LastUpdated <= ticks &&
                             !db.Resources.Any(n => n.ResourceType == r.ResourceType && n.ResourceId == r.ResourceId &&
                                                    n.Version > r.Version && n.LastUpdated <= ticks));
        }
        var total = await q.CountAsync(ct);
        var rows = await q.OrderByDescending(r => r.LastUpdated).ThenByDescending(r => r.Id)
            .Skip(query.Offset).Take(query.Count).ToListAsync(ct);
        return (rows.Select(ToStored).ToList(), total);
    }

    public async Task<SearchResult> SearchAsync(SearchQuery query, CancellationToken ct = default)
    {
        await using var db = await factory.CreateDbContextAsync(ct);
        return await Search(db, query, ct);
    }

    internal async Task<SearchResult> Search(FhirDbContext db, SearchQuery query, CancellationToken ct)
    {
        // The first page fixes the snapshot (the newest row id) that the paging links carry, so rows written later
        // neither appear in nor shift the later pages.
        query.SnapshotRowId ??= await db.Resources.MaxAsync(r => (long?)r.Id, ct) ?? 0;
        var q = SearchQueryBuilder.Build(db, query, Encryption.BlindCriteria(query.ResourceType, query.Criteria));
        if (query.CountOnly) return new SearchResult([], await q.CountAsync(ct), query.SnapshotRowId.Value);
        var page = query.AfterRowId is { } after ? q.Where(r => r.Id > after) : q;
        var rows = await SearchQueryBuilder.Order(db, page, query.Sort).Skip(query.Offset).Take(query.Count).ToListAsync(ct);
        // A page by offset that is not full ends the matches: it gives the total without counting them again (a page
        // after a row id does not: the rows before it are not known here).
        int? total = !query.IncludeTotal ? null
            : query.AfterRowId is null && rows.Count < query.Count && (query.Offset == 0 || rows.Count > 0) ? query.Offset + rows.Count
            : await q.CountAsync(ct);
        return new SearchResult(rows.Select(ToStored).ToList(), total, query.SnapshotRowId.Value);
    }

    /// <summary>The bound on resources one include step adds (wildcards and big pages stay bounded).</summary>
    public const int MaxIncluded = 1000;

    public async Task<IReadOnlyList<StoredResource>> IncludesAsync(IReadOnlyCollection<long> rowIds, string? param, string? targetType, CancellationToken ct = default)
    {
        // First the (type, id) targets from the sources' reference rows, then those resources by their key: both
        // index lookups (matching reference rows against every resource row instead scans the whole table).
        List<(string, string)> targets;
        await using (var db = await factory.CreateDbContextAsync(ct))
        {
            var ids = rowIds.ToList();
            var refs = db.References.Where(x => ids.Contains(x.ResourceRowId) && x.TargetId != null && x.TargetType != null && x.CompositeGroup == null);
            if (param is not null) refs = refs.Where(x => x.Param == param);
            if (targetType is not null) refs = refs.Where(x => x.TargetType == targetType);
            // Ordered, so that which targets a capped step includes is the same every time (and EF has no row limit without order).
            targets = (await refs.Select(x => new { x.TargetType, x.TargetId }).Distinct()
                    .OrderBy(t => t.TargetType).ThenBy(t => t.TargetId).Take(MaxIncluded).ToListAsync(ct))
                .Select(t => (t.TargetType!, t.TargetId!)).ToList();
        }
        return targets.Count == 0 ? [] : (await ReadManyAsync(targets, ct)).OrderBy(r => r.RowId).ToList();
    }

    public async Task<IReadOnlyList<StoredResource>> RevIncludesAsync(string? sourceType, string? param, string targetType, IReadOnlyCollection<string> targetIds, CancellationToken ct = default)
    {
        await using var db = await factory.CreateDbContextAsync(ct);
        var ids = targetIds.ToList();
        var refs = db.References.Where(x => x.TargetType == targetType && ids.Contains(x.TargetId!) && x.CompositeGroup == null);
        if (param is not null) refs = refs.Where(x => x.Param == param);
        if (sourceType is not null) refs = refs.Where(x => x.SourceType == sourceType);
        var q = db.Resources.Where(r => r.IsCurrent && !r.IsDeleted);
        if (sourceType is not null) q = q.Where(r => r.ResourceType == sourceType);
        var rowIds = refs.Select(x => x.ResourceRowId);
        var rows = await q.Where(r => rowIds.Contains(r.Id)).OrderBy(r => r.Id).Take(MaxIncluded).ToListAsync(ct);
        return rows.Select(ToStored).ToList();
    }

    public async Task<IReadOnlyList<string>> ReferencedIdsAsync(IReadOnlyCollection<long> rowIds, string param, string targetType, CancellationToken ct = default)
    {
        await using var db = await factory.CreateDbContextAsync(ct);
        var ids = rowIds.ToList();
        return await db.References
            .Where(x => ids.Contains(x.ResourceRowId) && x.Param == param && x.TargetType == targetType && x.TargetId != null)
            .Select(x => x.TargetId!).Distinct().ToListAsync(ct);
    }

    public async Task<IWriteSession> BeginWriteAsync(CancellationToken ct = default)
    {
        await _writer.WaitAsync(ct);
        try
        {
            var db = await factory.CreateDbContextAsync(ct);
            await db.Database.OpenConnectionAsync(ct);
            // Under WAL, NORMAL syncs at checkpoints rather than at every commit: a commit survives a crash of the
            // process, and only an OS crash or power loss can lose the last ones (the database stays consistent).
            if (options.Dialect == SqlDialect.Sqlite) await db.Database.ExecuteSqlRawAsync("PRAGMA synchronous=NORMAL;", ct);
            // Another server may have rotated the data key: new writes use the newest one.
            if (Encryption.RefreshDue) await Encryption.LoadKeysAsync(db, ct);
            var tx = await db.Database.BeginTransactionAsync(ct);
            return new WriteSession(this, db, tx, _writer, options.Dialect);
        }
        catch
        {
            _writer.Release();
            throw;
        }
    }

    internal StoredResource ToStored(ResourceVersionRow r) =>
        new(r.Id, r.ResourceType, r.ResourceId, r.Version, new DateTimeOffset(r.LastUpdated, TimeSpan.Zero), r.IsDeleted, Json(r));

    /// <summary>The version's JSON bytes: opened (when sealed) and decompressed.</summary>
    private byte[]? Json(ResourceVersionRow r)
    {
        if (r.Data is null) return null;
        var data = r.KeyId is { } keyId ? Encryption.Open(r.ResourceType, r.ResourceId, r.Version, keyId, r.Data) : r.Data;
        return Compression.Decompress(data);
    }

    /// <summary>The bytes to store for a version's JSON: compressed, then sealed when its type is encrypted.</summary>
    internal (byte[] Data, int? KeyId) Pack(string type, string id, int version, byte[] json)
    {
        var compressed = Compression.Compress(json);
        if (!Encryption.Encrypts(type)) return (compressed, null);
        var (keyId, data) = Encryption.Seal(type, id, version, compressed);
        return (data, keyId);
    }
}

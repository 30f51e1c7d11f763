using FhirArchive.Storage.Indexing;
using FhirArchive.Storage.Schema;
using FhirArchive.Storage.Search;
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
    /// <summary>Resources referenced through <paramref name="param"/> by the given rows (_include).</summary>
    Task<IReadOnlyList<StoredResource>> IncludesAsync(IReadOnlyCollection<long> rowIds, string param, string? targetType, CancellationToken ct = default);
    /// <summary>Resources of <paramref name="sourceType"/> referring through <paramref name="param"/> to the given resources (_revinclude).</summary>
    Task<IReadOnlyList<StoredResource>> RevIncludesAsync(string sourceType, string param, string targetType, IReadOnlyCollection<string> targetIds, CancellationToken ct = default);
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
    /// <summary>Removes every version of a resource with its index rows: only for purges the law allows.</summary>
    Task PurgeAsync(string type, string id, CancellationToken ct = default);
    Task CommitAsync(CancellationToken ct = default);
}

public sealed class ResourceStore(IDbContextFactory<FhirDbContext> factory, StorageOptions options) : IResourceStore
{
    // One writer at a time: SQLite allows no more, and it makes version numbering race-free for this process.
    private readonly SemaphoreSlim _writer = new(1, 1);

    public async Task InitializeAsync(CancellationToken ct = default)
    {
        await using var db = await factory.CreateDbContextAsync(ct);
        if (options.Dialect == SqlDialect.Sqlite)
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", ct);
        await SchemaMigrator.MigrateAsync(db, options.Dialect, ct);
    }

    public async Task<StoredResource?> ReadAsync(string type, string id, CancellationToken ct = default)
    {
        await using var db = await factory.CreateDbContextAsync(ct);
        return await ReadCurrent(db, type, id, ct);
    }

    internal static async Task<StoredResource?> ReadCurrent(FhirDbContext db, string type, string id, CancellationToken ct)
    {
        var row = await db.Resources.FirstOrDefaultAsync(r => r.ResourceType == type && r.ResourceId == id && r.IsCurrent, ct);
        return row is null ? null : ToStored(row);
    }

    public async Task<StoredResource?> ReadVersionAsync(string type, string id, int version, CancellationToken ct = default)
    {
        await using var db = await factory.CreateDbContextAsync(ct);
        var row = await db.Resources.FirstOrDefaultAsync(r => r.ResourceType == type && r.ResourceId == id && r.Version == version, ct);
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

    internal static async Task<SearchResult> Search(FhirDbContext db, SearchQuery query, CancellationToken ct)
    {
        var q = SearchQueryBuilder.Build(db, query);
        int? total = query.IncludeTotal || query.CountOnly ? await q.CountAsync(ct) : null;
        if (query.CountOnly) return new SearchResult([], total);
        var rows = await SearchQueryBuilder.Order(db, q, query.Sort).Skip(query.Offset).Take(query.Count).ToListAsync(ct);
        return new SearchResult(rows.Select(ToStored).ToList(), total);
    }

    public async Task<IReadOnlyList<StoredResource>> IncludesAsync(IReadOnlyCollection<long> rowIds, string param, string? targetType, CancellationToken ct = default)
    {
        await using var db = await factory.CreateDbContextAsync(ct);
        var ids = rowIds.ToList();
        var refs = db.References.Where(x => ids.Contains(x.ResourceRowId) && x.Param == param && x.TargetId != null);
        if (targetType is not null) refs = refs.Where(x => x.TargetType == targetType);
        var rows = await db.Resources
            .Where(r => r.IsCurrent && !r.IsDeleted && refs.Any(x => x.TargetType == r.ResourceType && x.TargetId == r.ResourceId))
            .ToListAsync(ct);
        return rows.Select(ToStored).ToList();
    }

    public async Task<IReadOnlyList<StoredResource>> RevIncludesAsync(string sourceType, string param, string targetType, IReadOnlyCollection<string> targetIds, CancellationToken ct = default)
    {
        await using var db = await factory.CreateDbContextAsync(ct);
        var ids = targetIds.ToList();
        var rows = await db.Resources
            .Where(r => r.IsCurrent && !r.IsDeleted && r.ResourceType == sourceType &&
                        db.References.Any(x => x.ResourceRowId == r.Id && x.Param == param && x.TargetType == targetType && ids.Contains(x.TargetId!)))
            .ToListAsync(ct);
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
            var tx = await db.Database.BeginTransactionAsync(ct);
            return new WriteSession(db, tx, _writer);
        }
        catch
        {
            _writer.Release();
            throw;
        }
    }

    internal static StoredResource ToStored(ResourceVersionRow r) =>
        new(r.Id, r.ResourceType, r.ResourceId, r.Version, new DateTimeOffset(r.LastUpdated, TimeSpan.Zero), r.IsDeleted,
            r.Data is null ? null : Compression.Decompress(r.Data));

    private sealed class WriteSession(FhirDbContext db, Microsoft.EntityFrameworkCore.Storage.IDbContextTransaction tx, SemaphoreSlim writer) : IWriteSession
    {
        private bool _done;

        public Task<StoredResource?> ReadAsync(string type, string id, CancellationToken ct = default) => ReadCurrent(db, type, id, ct);

        public Task<SearchResult> SearchAsync(SearchQuery query, CancellationToken ct = default) => Search(db, query, ct);

        public async Task<StoredResource> PutAsync(string type, string id, int version, DateTimeOffset lastUpdated, byte[] json, IndexSet index, CancellationToken ct = default)
        {
            var row = await Supersede(type, id, version, lastUpdated, Compression.Compress(json), isDeleted: false, ct);
            foreach (var i in index.All) i.ResourceRowId = row.Id;
            db.Tokens.AddRange(index.Tokens);
            db.Strings.AddRange(index.Strings);
            db.Dates.AddRange(index.Dates);
            db.Numbers.AddRange(index.Numbers);
            db.Quantities.AddRange(index.Quantities);
            db.References.AddRange(index.References);
            db.Uris.AddRange(index.Uris);
            await db.SaveChangesAsync(ct);
            db.ChangeTracker.Clear();
            return new StoredResource(row.Id, type, id, version, lastUpdated, false, json);
        }

        public async Task<StoredResource> DeleteAsync(string type, string id, int version, DateTimeOffset lastUpdated, CancellationToken ct = default)
        {
            var row = await Supersede(type, id, version, lastUpdated, null, isDeleted: true, ct);
            return new StoredResource(row.Id, type, id, version, lastUpdated, true, null);
        }

        /// <summary>Marks the previous current version as history, drops its index rows and adds the new version.</summary>
        private async Task<ResourceVersionRow> Supersede(string type, string id, int version, DateTimeOffset lastUpdated, byte[]? data, bool isDeleted, CancellationToken ct)
        {
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
            var row = new ResourceVersionRow
            {
                ResourceType = type, ResourceId = id, Version = version, LastUpdated = lastUpdated.UtcTicks,
                IsDeleted = isDeleted, IsCurrent = true, Data = data,
            };
            db.Resources.Add(row);
            await db.SaveChangesAsync(ct);
            db.ChangeTracker.Clear();
            return row;
        }

        public async Task<string> ClaimUniqueAsync(string scope, string key, string owner, CancellationToken ct = default)
        {
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
            foreach (var key in held.Where(k => !keep.Contains(k)))
                await db.Database.ExecuteSqlRawAsync("""DELETE FROM "UniqueKey" WHERE "Scope" = {0} AND "Key" = {1}""", [scope, key], ct);
        }

        public async Task<long> NextCounterAsync(string name, CancellationToken ct = default)
        {
            await db.Database.ExecuteSqlRawAsync(
                """INSERT INTO "Counter" ("Name", "Value") VALUES ({0}, 1) ON CONFLICT ("Name") DO UPDATE SET "Value" = "Counter"."Value" + 1""", [name], ct);
            var values = await db.Database.SqlQueryRaw<long>("""SELECT "Value" FROM "Counter" WHERE "Name" = {0}""", name).ToListAsync(ct);
            return values.Single();
        }

        public async Task PurgeAsync(string type, string id, CancellationToken ct = default)
        {
            var rows = await db.Resources.Where(r => r.ResourceType == type && r.ResourceId == id).Select(r => r.Id).ToListAsync(ct);
            await db.Tokens.Where(x => rows.Contains(x.ResourceRowId)).ExecuteDeleteAsync(ct);
            await db.Strings.Where(x => rows.Contains(x.ResourceRowId)).ExecuteDeleteAsync(ct);
            await db.Dates.Where(x => rows.Contains(x.ResourceRowId)).ExecuteDeleteAsync(ct);
            await db.Numbers.Where(x => rows.Contains(x.ResourceRowId)).ExecuteDeleteAsync(ct);
            await db.Quantities.Where(x => rows.Contains(x.ResourceRowId)).ExecuteDeleteAsync(ct);
            await db.References.Where(x => rows.Contains(x.ResourceRowId)).ExecuteDeleteAsync(ct);
            await db.Uris.Where(x => rows.Contains(x.ResourceRowId)).ExecuteDeleteAsync(ct);
            await db.Resources.Where(r => rows.Contains(r.Id)).ExecuteDeleteAsync(ct);
        }

        public async Task CommitAsync(CancellationToken ct = default)
        {
            await tx.CommitAsync(ct);
            _done = true;
        }

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
        }
    }
}

using System.Collections.Concurrent;
using System.Data;
using System.Data.Common;
using Microsoft.EntityFrameworkCore;

namespace FhirArchive.Storage;

/// <summary>
/// The read-by-id fast path: a few contexts kept open, each with its query prepared once, so a read is one
/// parameter bind and one execution of a prepared statement. With EF Core every read opened a connection (on SQLite
/// that also registers its functions and collations), prepared the statement again and built the query pipeline.
/// </summary>
internal sealed class ReadById(IDbContextFactory<FhirDbContext> factory) : IDisposable
{
    private const string Columns = """ "Id", "ResourceType", "ResourceId", "Version", "LastUpdated", "IsDeleted", "IsCurrent", "Data", "KeyId" """;
    private static readonly string CurrentSql = $"""SELECT {Columns} FROM "ResourceVersion" WHERE "ResourceType" = @t AND "ResourceId" = @i AND "IsCurrent" LIMIT 1""";

    // Enough for the reads in flight at once (on PostgreSQL they are truly asynchronous, so about one per client
    // connection); more are opened on demand and closed after use. Each kept reader holds a database connection.
    private static readonly int Keep = Math.Max(32, Environment.ProcessorCount * 8);
    private readonly ConcurrentBag<Reader> _idle = [];
    private int _idleCount;
    private volatile bool _disposed;

    public async Task<ResourceVersionRow?> CurrentAsync(string type, string id, CancellationToken ct)
    {
        Reader reader;
        if (_idle.TryTake(out var idle))
        {
            Interlocked.Decrement(ref _idleCount);
            reader = idle;
        }
        else reader = await Reader.OpenAsync(factory, ct);
        ResourceVersionRow? row;
        try
        {
            row = await reader.ReadAsync(type, id, ct);
        }
        catch
        {
            reader.Dispose(); // its connection may be broken: never reused
            throw;
        }
        if (!_disposed && Interlocked.Increment(ref _idleCount) <= Keep) _idle.Add(reader);
        else
        {
            Interlocked.Decrement(ref _idleCount);
            reader.Dispose();
        }
        return row;
    }

    public void Dispose()
    {
        _disposed = true;
        while (_idle.TryTake(out var r)) r.Dispose();
    }

    private sealed class Reader(FhirDbContext db, DbCommand command, DbParameter type, DbParameter id) : IDisposable
    {
        public static async Task<Reader> OpenAsync(IDbContextFactory<FhirDbContext> factory, CancellationToken ct)
        {
            var db = await factory.CreateDbContextAsync(ct);
            try
            {
                await db.Database.OpenConnectionAsync(ct);
                var cmd = db.Database.GetDbConnection().CreateCommand();
                cmd.CommandText = CurrentSql;
                var t = Parameter(cmd, "@t");
                var i = Parameter(cmd, "@i");
                await cmd.PrepareAsync(ct);
                return new Reader(db, cmd, t, i);
            }
            catch
            {
                await db.DisposeAsync();
                throw;
            }
        }

        private static DbParameter Parameter(DbCommand cmd, string name)
        {
            var p = cmd.CreateParameter();
            p.ParameterName = name;
            p.DbType = DbType.String;
            p.Value = "";
            cmd.Parameters.Add(p);
            return p;
        }

        public async Task<ResourceVersionRow?> ReadAsync(string resourceType, string resourceId, CancellationToken ct)
        {
            type.Value = resourceType;
            id.Value = resourceId;
            await using var r = await command.ExecuteReaderAsync(CommandBehavior.SingleRow, ct);
            if (!await r.ReadAsync(ct)) return null;
            return new ResourceVersionRow
            {
                Id = r.GetInt64(0), ResourceType = r.GetString(1), ResourceId = r.GetString(2), Version = r.GetInt32(3),
                LastUpdated = r.GetInt64(4), IsDeleted = r.GetBoolean(5), IsCurrent = r.GetBoolean(6),
                Data = r.IsDBNull(7) ? null : r.GetFieldValue<byte[]>(7), KeyId = r.IsDBNull(8) ? null : r.GetInt32(8),
            };
        }

        public void Dispose()
        {
            command.Dispose();
            db.Dispose();
        }
    }
}

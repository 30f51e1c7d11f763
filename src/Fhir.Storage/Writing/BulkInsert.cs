using System.Data;
using System.Data.Common;
using FhirArchive.Storage.Schema;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace FhirArchive.Storage.Writing;

/// <summary>A column of a bulk insert: its name, the type a null is sent as, and how a row gives its value.</summary>
public sealed record BulkColumn<T>(string Name, DbType Type, Func<T, object?> Value);

/// <summary>
/// Bulk INSERTs through the session's connection and transaction, without EF Core's tracking of every entity.
/// PostgreSQL, set-based: one array per column, unnested by one statement (binary, exact for every type; one round
/// trip per 10,000 rows).
/// SQLite runs in-process: a prepared one-row INSERT re-bound and re-executed per row costs least there (measured
/// against one statement unpacking a JSON array with json_each, which was slower), through SQLite's own API.
/// <paramref name="ignoreDuplicates"/> skips rows whose key exists (INSERT OR IGNORE / ON CONFLICT DO NOTHING).
/// </summary>
public static class BulkInsert
{
    /// <summary>Rows per statement: bounds the size of one statement's parameters.</summary>
    private const int RowsPerStatement = 10_000;

    public static async Task InsertAsync<T>(DbConnection connection, DbTransaction transaction, SqlDialect dialect, string table,
        IReadOnlyList<BulkColumn<T>> columns, IReadOnlyList<T> rows, CancellationToken ct, bool ignoreDuplicates = false)
    {
        if (rows.Count == 0) return;
        if (dialect == SqlDialect.Sqlite)
        {
            await InsertRowByRowAsync(connection, transaction, table, columns, rows, ignoreDuplicates, ct);
            return;
        }
        await using var cmd = connection.CreateCommand();
        cmd.Transaction = transaction;
        cmd.CommandText = PostgresStatement(table, columns) + (ignoreDuplicates ? " ON CONFLICT DO NOTHING" : "");
        for (var start = 0; start < rows.Count; start += RowsPerStatement)
        {
            var count = Math.Min(RowsPerStatement, rows.Count - start);
            cmd.Parameters.Clear();
            AddColumnArrays(cmd, columns, rows, start, count);
            await cmd.ExecuteNonQueryAsync(ct);
        }
    }

    private static string ColumnList<T>(IReadOnlyList<BulkColumn<T>> columns) => string.Join(", ", columns.Select(c => $"\"{c.Name}\""));

    private static string PostgresStatement<T>(string table, IReadOnlyList<BulkColumn<T>> columns) =>
        $"INSERT INTO \"{table}\" ({ColumnList(columns)}) SELECT * FROM unnest(" +
        string.Join(", ", columns.Select((c, i) => $"@c{i}::{PostgresType(c.Type)}[]")) + ")";

    private static string PostgresType(DbType type) => type switch
    {
        DbType.Int64 => "bigint",
        DbType.Int32 => "integer",
        DbType.Boolean => "boolean",
        DbType.Double => "double precision",
        DbType.Binary => "bytea",
        DbType.String => "text",
        _ => throw new NotSupportedException($"No bulk insert of {type} columns."),
    };

    /// <summary>One typed array per column (nulls kept), for unnest.</summary>
    private static void AddColumnArrays<T>(DbCommand cmd, IReadOnlyList<BulkColumn<T>> columns, IReadOnlyList<T> rows, int start, int count)
    {
        for (var i = 0; i < columns.Count; i++)
        {
            var c = columns[i];
            Array values = c.Type switch
            {
                DbType.Int64 => Fill<T, long?>(c, rows, start, count),
                DbType.Int32 => Fill<T, int?>(c, rows, start, count),
                DbType.Boolean => Fill<T, bool?>(c, rows, start, count),
                DbType.Double => Fill<T, double?>(c, rows, start, count),
                DbType.Binary => FillBytes(c, rows, start, count),
                _ => Fill<T, string?>(c, rows, start, count),
            };
            var p = cmd.CreateParameter();
            p.ParameterName = "@c" + i;
            p.Value = values;
            cmd.Parameters.Add(p);
        }
    }

    /// <summary>Binary values, given as arrays or as slices of a larger buffer (sent as arrays).</summary>
    private static byte[]?[] FillBytes<T>(BulkColumn<T> column, IReadOnlyList<T> rows, int start, int count)
    {
        var values = new byte[]?[count];
        for (var r = 0; r < count; r++)
            values[r] = column.Value(rows[start + r]) switch { ReadOnlyMemory<byte> m => m.ToArray(), var v => (byte[]?)v };
        return values;
    }

    private static TValue[] Fill<T, TValue>(BulkColumn<T> column, IReadOnlyList<T> rows, int start, int count)
    {
        var values = new TValue[count];
        for (var r = 0; r < count; r++) values[r] = (TValue)column.Value(rows[start + r])!;
        return values;
    }

    /// <summary>
    /// A prepared one-row INSERT re-bound and re-executed for each row (SQLite runs in-process: no round trips),
    /// through SQLite's own API on the connection's handle, inside the connection's transaction: parameters bound by
    /// position, where ADO.NET's command looks each one up by name and makes a reader per execution (about a
    /// microsecond a row, as much as SQLite's own work for a small row).
    /// </summary>
    private static Task InsertRowByRowAsync<T>(DbConnection connection, DbTransaction transaction, string table,
        IReadOnlyList<BulkColumn<T>> columns, IReadOnlyList<T> rows, bool ignoreDuplicates, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        if (transaction.Connection != connection) throw new InvalidOperationException("The rows must go in through the transaction's connection.");
        var db = ((SqliteConnection)connection).Handle ?? throw new InvalidOperationException("The SQLite connection is not open.");
        var sql = $"INSERT {(ignoreDuplicates ? "OR IGNORE " : "")}INTO \"{table}\" ({ColumnList(columns)}) VALUES ({string.Join(", ", columns.Select((_, i) => "?" + (i + 1)))})";
        Check(db, raw.sqlite3_prepare_v2(db, sql, out var stmt));
        using (stmt)
            foreach (var row in rows)
            {
                for (var i = 0; i < columns.Count; i++) Check(db, Bind(stmt, i + 1, columns[i].Value(row)));
                var rc = raw.sqlite3_step(stmt);
                raw.sqlite3_reset(stmt);
                if (rc != raw.SQLITE_DONE) Check(db, rc);
            }
        return Task.CompletedTask;
    }

    private static int Bind(sqlite3_stmt stmt, int index, object? value) => value switch
    {
        null => raw.sqlite3_bind_null(stmt, index),
        long v => raw.sqlite3_bind_int64(stmt, index, v),
        int v => raw.sqlite3_bind_int(stmt, index, v),
        bool v => raw.sqlite3_bind_int(stmt, index, v ? 1 : 0),
        double v => raw.sqlite3_bind_double(stmt, index, v),
        string v => raw.sqlite3_bind_text(stmt, index, v),
        // An empty span would bind a null pointer, which SQLite takes for NULL.
        byte[] { Length: 0 } => raw.sqlite3_bind_zeroblob(stmt, index, 0),
        byte[] v => raw.sqlite3_bind_blob(stmt, index, v),
        ReadOnlyMemory<byte> { Length: 0 } => raw.sqlite3_bind_zeroblob(stmt, index, 0),
        // Bound as a copy (SQLITE_TRANSIENT): the slice's buffer is not needed after the step.
        ReadOnlyMemory<byte> v => raw.sqlite3_bind_blob(stmt, index, v.Span),
        _ => throw new NotSupportedException($"No bulk insert of {value.GetType().Name} values."),
    };

    private static void Check(sqlite3 db, int rc)
    {
        if (rc is not (raw.SQLITE_OK or raw.SQLITE_DONE or raw.SQLITE_ROW))
            throw new SqliteException(raw.sqlite3_errmsg(db).utf8_to_string(), rc, raw.sqlite3_extended_errcode(db));
    }
}

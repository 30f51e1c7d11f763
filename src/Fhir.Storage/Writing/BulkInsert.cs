using System.Data;
using System.Data.Common;
using System.Text;
using FhirArchive.Storage.Schema;

namespace FhirArchive.Storage.Writing;

/// <summary>A column of a bulk insert: its name, the type a null is sent as, and how a row gives its value.</summary>
internal sealed record BulkColumn<T>(string Name, DbType Type, Func<T, object?> Value);

/// <summary>
/// Bulk INSERTs through the session's connection and transaction, with one command prepared per statement shape and
/// re-bound for each chunk of rows (EF Core would track every entity and, on SQLite, send one INSERT per row).
/// </summary>
internal static class BulkInsert
{
    /// <summary>
    /// Rows per statement. SQLite binds each parameter by a linear search of the statement's names, so a wide
    /// multi-row statement costs quadratic time: there a prepared one-row INSERT re-executed in-process is fastest.
    /// PostgreSQL pays a round trip per statement: there many rows go in one statement.
    /// </summary>
    public static int RowsPerStatement(SqlDialect dialect, int columns) => dialect == SqlDialect.Sqlite ? 1 : Math.Max(1, 2000 / columns);

    public static async Task InsertAsync<T>(DbConnection connection, DbTransaction transaction, SqlDialect dialect, string table,
        IReadOnlyList<BulkColumn<T>> columns, IReadOnlyList<T> rows, CancellationToken ct)
    {
        if (rows.Count == 0) return;
        var perStatement = RowsPerStatement(dialect, columns.Count);
        DbCommand? full = null;
        try
        {
            for (var start = 0; start < rows.Count; start += perStatement)
            {
                var count = Math.Min(perStatement, rows.Count - start);
                DbCommand cmd;
                if (count == perStatement) cmd = full ??= await CreateAsync(connection, transaction, table, columns, count, ct);
                else cmd = await CreateAsync(connection, transaction, table, columns, count, ct);
                try
                {
                    var n = 0;
                    for (var r = 0; r < count; r++)
                        foreach (var c in columns)
                            cmd.Parameters[n++].Value = c.Value(rows[start + r]) ?? DBNull.Value;
                    await cmd.ExecuteNonQueryAsync(ct);
                }
                finally
                {
                    if (cmd != full) await cmd.DisposeAsync();
                }
            }
        }
        finally
        {
            if (full is not null) await full.DisposeAsync();
        }
    }

    private static async Task<DbCommand> CreateAsync<T>(DbConnection connection, DbTransaction transaction, string table,
        IReadOnlyList<BulkColumn<T>> columns, int rows, CancellationToken ct)
    {
        var cmd = connection.CreateCommand();
        cmd.Transaction = transaction;
        var sql = new StringBuilder($"INSERT INTO \"{table}\" ({string.Join(", ", columns.Select(c => $"\"{c.Name}\""))}) VALUES ");
        var n = 0;
        for (var r = 0; r < rows; r++)
        {
            sql.Append(r == 0 ? "(" : ", (");
            for (var c = 0; c < columns.Count; c++)
            {
                var p = cmd.CreateParameter();
                p.ParameterName = "@p" + n++;
                p.DbType = columns[c].Type; // also the type of a null
                cmd.Parameters.Add(p);
                sql.Append(c == 0 ? p.ParameterName : ", " + p.ParameterName);
            }
            sql.Append(')');
        }
        cmd.CommandText = sql.ToString();
        await cmd.PrepareAsync(ct);
        return cmd;
    }
}

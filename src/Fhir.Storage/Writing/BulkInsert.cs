using System.Data;
using System.Data.Common;
using System.Text;

namespace FhirArchive.Storage.Writing;

/// <summary>A column of a bulk insert: its name, the type a null is sent as, and how a row gives its value.</summary>
internal sealed record BulkColumn<T>(string Name, DbType Type, Func<T, object?> Value);

/// <summary>
/// Multi-row INSERT ... VALUES (...), (...) through the session's connection and transaction: one statement per
/// chunk of rows instead of one per row (EF Core sends one INSERT per entity on SQLite, and a round trip per batch).
/// </summary>
internal static class BulkInsert
{
    // SQLite allows 32,766 parameters per statement and PostgreSQL 65,535; smaller statements compile faster.
    private const int MaxParameters = 2000;

    public static async Task InsertAsync<T>(DbConnection connection, DbTransaction transaction, string table,
        IReadOnlyList<BulkColumn<T>> columns, IReadOnlyList<T> rows, CancellationToken ct)
    {
        if (rows.Count == 0) return;
        var perChunk = Math.Max(1, MaxParameters / columns.Count);
        var head = $"INSERT INTO \"{table}\" ({string.Join(", ", columns.Select(c => $"\"{c.Name}\""))}) VALUES ";
        var sql = new StringBuilder();
        for (var start = 0; start < rows.Count; start += perChunk)
        {
            var count = Math.Min(perChunk, rows.Count - start);
            await using var cmd = connection.CreateCommand();
            cmd.Transaction = transaction;
            sql.Clear().Append(head);
            var n = 0;
            for (var r = 0; r < count; r++)
            {
                sql.Append(r == 0 ? "(" : ", (");
                for (var c = 0; c < columns.Count; c++)
                {
                    var name = "@p" + n++;
                    sql.Append(c == 0 ? name : ", " + name);
                    var p = cmd.CreateParameter();
                    p.ParameterName = name;
                    var v = columns[c].Value(rows[start + r]);
                    if (v is null)
                    {
                        p.DbType = columns[c].Type;
                        p.Value = DBNull.Value;
                    }
                    else p.Value = v;
                    cmd.Parameters.Add(p);
                }
                sql.Append(')');
            }
            cmd.CommandText = sql.ToString();
            await cmd.ExecuteNonQueryAsync(ct);
        }
    }
}

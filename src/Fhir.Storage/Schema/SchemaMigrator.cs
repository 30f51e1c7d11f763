using Microsoft.EntityFrameworkCore;

namespace FhirArchive.Storage.Schema;

public enum SqlDialect { Sqlite, Postgres }

/// <summary>One ordered, hand-written schema step. Steps are never edited once released: add a new one.</summary>
public sealed record Migration(int Version, string Description, Func<SqlDialect, IEnumerable<string>> Statements);

/// <summary>
/// Creates or upgrades the schema: reads the applied versions from SchemaVersion and runs the missing steps of the
/// context's <see cref="FhirDbContext.Schema"/> in order, each in its own transaction together with its SchemaVersion row.
/// </summary>
public static class SchemaMigrator
{
    /// <param name="upTo">Stop after this version (tests build an older schema to upgrade); null runs every step.</param>
    public static async Task MigrateAsync(FhirDbContext db, SqlDialect dialect, CancellationToken ct = default, int? upTo = null)
    {
        await db.Database.OpenConnectionAsync(ct);
        try
        {
            await db.Database.ExecuteSqlRawAsync(
                """CREATE TABLE IF NOT EXISTS "SchemaVersion" ("Version" integer PRIMARY KEY, "Description" text NOT NULL, "AppliedAt" bigint NOT NULL)""", ct);
            // Every step not yet recorded, in order (not just those above the highest: branches may land out of order).
            var applied = (await db.SchemaVersions.Select(v => v.Version).ToListAsync(ct)).ToHashSet();
            foreach (var m in db.Schema.Migrations.Where(m => !applied.Contains(m.Version) && m.Version <= (upTo ?? int.MaxValue)))
            {
                await using var tx = await db.Database.BeginTransactionAsync(ct);
                foreach (var sql in m.Statements(dialect)) await db.Database.ExecuteSqlRawAsync(sql, ct);
                db.SchemaVersions.Add(new SchemaVersionRow { Version = m.Version, Description = m.Description, AppliedAt = DateTime.UtcNow.Ticks });
                await db.SaveChangesAsync(ct);
                await tx.CommitAsync(ct);
                db.ChangeTracker.Clear();
            }
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }
}

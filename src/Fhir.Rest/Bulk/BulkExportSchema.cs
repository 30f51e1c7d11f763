using FhirArchive.Storage;
using FhirArchive.Storage.Schema;
using Microsoft.EntityFrameworkCore;

namespace FhirArchive.Rest.Bulk;

/// <summary>
/// One $export job: what was asked and allowed (<see cref="Spec"/>), who asked (<see cref="Requester"/>), how far the
/// worker got (<see cref="Progress"/>: the type, the last row written and each file's length, so a job cut short
/// continues where it stopped), and the claim of the worker running it.
/// </summary>
public sealed class BulkExportJobRow
{
    public string Id { get; set; } = "";
    /// <summary>accepted, running, completed, failed, expired (a cancelled job is deleted).</summary>
    public string Status { get; set; } = "";
    /// <summary>The requester as the access policies see them (the subscribers' codec).</summary>
    public string Requester { get; set; } = "";
    /// <summary>The requester's subject and client (<see cref="BulkExportJobs.OwnerOf"/>): only they get the status and the files.</summary>
    public string Owner { get; set; } = "";
    /// <summary>The export as allowed (<see cref="BulkExportSpec"/>, JSON).</summary>
    public string Spec { get; set; } = "";
    /// <summary>The worker's position and the files written (<see cref="BulkExportProgress"/>, JSON).</summary>
    public string Progress { get; set; } = "";
    public string? Error { get; set; }
    /// <summary>UTC ticks: the kick-off (the manifest's transactionTime).</summary>
    public long Created { get; set; }
    /// <summary>The newest row id at kick-off: rows written later are not exported, so a resumed job sees what the first run saw.</summary>
    public long Snapshot { get; set; }
    /// <summary>UTC ticks after which the files are deleted (set on completion).</summary>
    public long? Expires { get; set; }
    /// <summary>UTC ticks until which the worker named by <see cref="ClaimedBy"/> holds the job (0: free).</summary>
    public long ClaimedUntil { get; set; }
    public string? ClaimedBy { get; set; }
}

/// <summary>The $export jobs' table (schema step 20) and its mapping.</summary>
public static class BulkExportSchema
{
    public static readonly SchemaPart Part = new("bulk-export",
    [
        new(20, "Bulk data export jobs ($export): the request as allowed, the requester, the worker's position and claim", Tables),
    ], Map);

    private static void Map(ModelBuilder b) => b.Entity<BulkExportJobRow>(e =>
    {
        e.ToTable("BulkExportJob");
        e.HasKey(x => x.Id);
    });

    extension(FhirDbContext db)
    {
        internal DbSet<BulkExportJobRow> BulkExportJobs => db.Set<BulkExportJobRow>();
    }

    private static IEnumerable<string> Tables(SqlDialect _)
    {
        yield return """
            CREATE TABLE "BulkExportJob" ("Id" text PRIMARY KEY, "Status" text NOT NULL, "Requester" text NOT NULL, "Owner" text NOT NULL,
              "Spec" text NOT NULL, "Progress" text NOT NULL, "Error" text NULL, "Created" bigint NOT NULL, "Snapshot" bigint NOT NULL,
              "Expires" bigint NULL, "ClaimedUntil" bigint NOT NULL, "ClaimedBy" text NULL)
            """;
        yield return """CREATE INDEX "IX_BulkExportJob_Status" ON "BulkExportJob" ("Status", "Created")""";
    }
}

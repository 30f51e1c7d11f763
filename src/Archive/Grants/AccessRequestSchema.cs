using FhirArchive.Storage;
using FhirArchive.Storage.Schema;
using Microsoft.EntityFrameworkCore;

namespace FhirArchive.Archive.Grants;

/// <summary>The pending access requests' table (migrations 6 and 17) and its mapping.</summary>
public static class AccessRequestSchema
{
    public static readonly SchemaPart Part = new("access-requests",
        [
            new(6, "Pending access requests (one-time codes of Patient/$request-access)", AccessRequests),
            new(19, "Access requests: the record found in its own column, no identifier kept in clear", SubjectWithoutNumbers),
        ], Map);

    private static void Map(ModelBuilder b) => b.Entity<AccessRequestRow>(e =>
    {
        e.ToTable("AccessRequest");
        e.HasKey(x => x.Id);
    });

    /// <summary>
    /// Authorisation requests waiting for the resident's one-time code (only its salted SM3 hash), kept once decided
    /// so the per-requester and per-patient rate limits count them.
    /// </summary>
    private static IEnumerable<string> AccessRequests(SqlDialect d)
    {
        var blob = d == SqlDialect.Sqlite ? "BLOB" : "bytea";
        yield return $"""
            CREATE TABLE "AccessRequest" (
              "Id" text PRIMARY KEY, "Subject" text NOT NULL, "Requester" text NOT NULL, "Organization" text NOT NULL,
              "Practitioner" text NULL, "Recipient" text NULL, "Purpose" text NOT NULL, "PeriodStart" bigint NOT NULL,
              "PeriodEnd" bigint NOT NULL, "Salt" {blob} NOT NULL, "CodeHash" {blob} NOT NULL, "Created" bigint NOT NULL,
              "Expires" bigint NOT NULL, "Attempts" integer NOT NULL, "Status" text NOT NULL, "Consent" text NULL)
            """;
        yield return """CREATE INDEX "IX_AccessRequest_Requester" ON "AccessRequest" ("Requester", "Created")""";
        yield return """CREATE INDEX "IX_AccessRequest_Subject" ON "AccessRequest" ("Subject", "Created")""";
    }

    /// <summary>
    /// The record a request found moves to "Patient" (a code confirms it); "Subject" keeps what the caller named. An
    /// identifier kept in clear (an unknown record asked for by ID card number) cannot be hashed in SQL: it is replaced
    /// by a key of its own row, so such a row still counts for its requester but no longer for the identifier — for at
    /// most one rate window after the upgrade.
    /// </summary>
    private static IEnumerable<string> SubjectWithoutNumbers(SqlDialect d)
    {
        yield return """ALTER TABLE "AccessRequest" ADD COLUMN "Patient" text NULL""";
        yield return """UPDATE "AccessRequest" SET "Patient" = "Subject" WHERE "Subject" LIKE 'Patient/%'""";
        yield return """UPDATE "AccessRequest" SET "Subject" = 'identifier:row:' || "Id" WHERE "Subject" LIKE 'identifier:%'""";
    }
}

/// <summary>The access requests' table on the context, as the store's own tables are (db.Resources).</summary>
public static class AccessRequestTables
{
    extension(FhirDbContext db)
    {
        public DbSet<AccessRequestRow> AccessRequests => db.Set<AccessRequestRow>();
    }
}

using FhirArchive.Storage;
using FhirArchive.Storage.Schema;
using Microsoft.EntityFrameworkCore;

namespace FhirArchive.Audit.Store;

/// <summary>The audit trail's tables (migrations 4, 8, 9, 10 and 15) and their mapping.</summary>
public static class AuditSchema
{
    public static readonly SchemaPart Part = new("audit",
    [
        new(4, "Append-only, SM3-chained audit trail", AuditTrail),
        new(8, "Audit entities keyed by reference: one index per row instead of three", AuditEntityByReference),
        new(9, "Audit events as one row each, found through keys per bucket of 256 events", AuditKeysByBucket),
        new(10, "Audit events stored in blocks: one row per run of journal frames within a bucket", AuditBlocks),
        new(15, "Signed audit checkpoints: the chain's head signed with the server's SM2 key", AuditCheckpoints),
    ], Map);

    private static void Map(ModelBuilder b)
    {
        b.Entity<AuditRecordRow>(e =>
        {
            e.ToTable("AuditRecord");
            e.HasKey(x => x.Seq);
            e.Property(x => x.Seq).ValueGeneratedNever();
            e.Ignore(x => x.Id);
        });
        b.Entity<AuditBlockRow>(e =>
        {
            e.ToTable("AuditBlock");
            e.HasKey(x => x.First);
            e.Property(x => x.First).ValueGeneratedNever();
        });
        b.Entity<AuditCheckpointRow>(e =>
        {
            e.ToTable("AuditCheckpoint");
            e.HasKey(x => x.Seq);
            e.Property(x => x.Seq).ValueGeneratedNever();
        });
        b.Entity<AuditKeyRow>(e =>
        {
            e.ToTable("AuditKey");
            e.HasKey(x => new { x.Key, x.Bucket });
        });
    }

    /// <summary>
    /// The signed checkpoints (<see cref="Checkpoints.AuditCheckpoints"/>): one row per signed head, keyed by its
    /// sequence number, append-only like the trail. The time is kept as the text that was signed.
    /// </summary>
    private static IEnumerable<string> AuditCheckpoints(SqlDialect d)
    {
        var sqlite = d == SqlDialect.Sqlite;
        var blob = sqlite ? "BLOB" : "bytea";
        yield return $"""
            CREATE TABLE "AuditCheckpoint" ("Seq" {(sqlite ? "INTEGER" : "bigint")} PRIMARY KEY, "Head" {blob} NOT NULL,
              "Time" text NOT NULL, "KeyId" text NOT NULL, "Signature" {blob} NOT NULL)
            """;
        foreach (var s in AppendOnlyTriggers(d, "AuditCheckpoint")) yield return s;
    }

    /// <summary>
    /// A row per event still cost the writer behind a row's binding, its B-tree insert and its decoding: a third of
    /// what auditing a read costs. Events now go in as they are in the journal, one row per run of consecutive
    /// frames within a bucket of 256 (its first and last sequence numbers and the frames' bytes). Rows written
    /// before stay where they are and are read as before (their sequence numbers all come first).
    /// </summary>
    private static IEnumerable<string> AuditBlocks(SqlDialect d)
    {
        var sqlite = d == SqlDialect.Sqlite;
        yield return $"""
            CREATE TABLE "AuditBlock" ("First" {(sqlite ? "INTEGER" : "bigint")} PRIMARY KEY, "Last" bigint NOT NULL,
              "Frames" {(sqlite ? "BLOB" : "bytea")} NOT NULL)
            """;
        foreach (var s in AppendOnlyTriggers(d, "AuditBlock")) yield return s;
    }

    /// <summary>
    /// An audited read used to cost four index entries and two entity rows besides its row: more than the read
    /// itself. Now an event is one row keyed by its sequence number (SQLite: the rowid), its entities a text column,
    /// and what it is searched by (patient, agent, resource, hour) a key per bucket of 256 consecutive events, so a
    /// patient read 50 times in a bucket is one key. Ids come from the sequence number; rows from before keep theirs.
    /// </summary>
    private static IEnumerable<string> AuditKeysByBucket(SqlDialect d)
    {
        var sqlite = d == SqlDialect.Sqlite;
        var blob = sqlite ? "BLOB" : "bytea";
        var lines = sqlite ? "group_concat(e.\"Role\" || ' ' || e.\"Reference\", char(10))" : "string_agg(e.\"Role\" || ' ' || e.\"Reference\", chr(10))";
        var nl = sqlite ? "char(10)" : "chr(10)";
        yield return $"""
            CREATE TABLE "AuditRecordV9" (
              "Seq" {(sqlite ? "INTEGER" : "bigint")} PRIMARY KEY, "EventId" text NULL, "Recorded" bigint NOT NULL, "Action" text NOT NULL,
              "Subtype" text NOT NULL, "Outcome" integer NOT NULL, "Agent" text NULL, "Organization" text NULL,
              "Entities" text NOT NULL, "Data" {blob} NOT NULL, "Hash" {blob} NOT NULL)
            """;
        yield return $"""
            INSERT INTO "AuditRecordV9" SELECT r."Seq", CASE WHEN r."EventId" = CAST(r."Seq" AS text) THEN NULL ELSE r."EventId" END,
              r."Recorded", r."Action", r."Subtype", r."Outcome", r."Agent", r."Organization",
              COALESCE((SELECT {nl} || {lines} || {nl} FROM "AuditEntity" e WHERE e."Seq" = r."Seq"), ''), r."Data", r."Hash"
            FROM "AuditRecord" r
            """;
        yield return $"""
            CREATE TABLE "AuditKey" ("Key" text NOT NULL, "Bucket" bigint NOT NULL,
              CONSTRAINT "PK_AuditKey" PRIMARY KEY ("Key", "Bucket")){(sqlite ? " WITHOUT ROWID" : "")}
            """;
        var hour = sqlite ? "printf('%012d', \"Recorded\" / 36000000000)" : "lpad((\"Recorded\" / 36000000000)::text, 12, '0')";
        yield return """INSERT INTO "AuditKey" SELECT DISTINCT 'p:' || "Reference", "Seq" / 256 FROM "AuditEntity" WHERE "Role" = 'patient'""";
        yield return """INSERT INTO "AuditKey" SELECT DISTINCT 'e:' || "Reference", "Seq" / 256 FROM "AuditEntity" WHERE "Role" <> 'patient' ON CONFLICT DO NOTHING""";
        yield return """INSERT INTO "AuditKey" SELECT DISTINCT 'a:' || "Agent", "Seq" / 256 FROM "AuditRecord" WHERE "Agent" IS NOT NULL ON CONFLICT DO NOTHING""";
        yield return $"""INSERT INTO "AuditKey" SELECT DISTINCT 't:' || {hour}, "Seq" / 256 FROM "AuditRecord" WHERE true ON CONFLICT DO NOTHING""";
        yield return """DROP TABLE "AuditEntity" """;
        yield return """DROP TABLE "AuditRecord" """;
        yield return """ALTER TABLE "AuditRecordV9" RENAME TO "AuditRecord" """;
        foreach (var s in AppendOnlyTriggers(d, "AuditRecord")) yield return s;
    }

    /// <summary>
    /// An audit entity row is only ever looked up by its reference (patient, entity, access log): keyed by
    /// (Reference, Seq, Role) it is one b-tree insert per row (SQLite: WITHOUT ROWID) instead of a row, its id
    /// counter, and two indexes. Written behind the journal for every request, this is the audit's largest cost.
    /// </summary>
    private static IEnumerable<string> AuditEntityByReference(SqlDialect d)
    {
        var withoutRowId = d == SqlDialect.Sqlite ? " WITHOUT ROWID" : "";
        yield return $"""
            CREATE TABLE "AuditEntityV8" ("Reference" text NOT NULL, "Seq" bigint NOT NULL, "Role" text NOT NULL,
              CONSTRAINT "PK_AuditEntity" PRIMARY KEY ("Reference", "Seq", "Role")){withoutRowId}
            """;
        yield return """INSERT INTO "AuditEntityV8" ("Reference", "Seq", "Role") SELECT DISTINCT "Reference", "Seq", "Role" FROM "AuditEntity" """;
        yield return """DROP TABLE "AuditEntity" """;
        yield return """ALTER TABLE "AuditEntityV8" RENAME TO "AuditEntity" """;
    }

    private static IEnumerable<string> AuditTrail(SqlDialect d)
    {
        var id = d == SqlDialect.Sqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY";
        var blob = d == SqlDialect.Sqlite ? "BLOB" : "bytea";
        yield return $"""
            CREATE TABLE "AuditRecord" (
              "Seq" bigint PRIMARY KEY, "EventId" text NOT NULL, "Recorded" bigint NOT NULL, "Action" text NOT NULL,
              "Subtype" text NOT NULL, "Outcome" integer NOT NULL, "Agent" text NULL, "Organization" text NULL,
              "Data" {blob} NOT NULL, "Hash" {blob} NOT NULL)
            """;
        yield return """CREATE UNIQUE INDEX "IX_AuditRecord_EventId" ON "AuditRecord" ("EventId")""";
        yield return """CREATE INDEX "IX_AuditRecord_Recorded" ON "AuditRecord" ("Recorded")""";
        yield return """CREATE INDEX "IX_AuditRecord_Agent" ON "AuditRecord" ("Agent", "Seq")""";
        yield return $"""
            CREATE TABLE "AuditEntity" ("Id" {id}, "Seq" bigint NOT NULL REFERENCES "AuditRecord" ("Seq"),
              "Role" text NOT NULL, "Reference" text NOT NULL)
            """;
        yield return """CREATE INDEX "IX_AuditEntity_Reference" ON "AuditEntity" ("Reference", "Seq")""";
        yield return """CREATE INDEX "IX_AuditEntity_Seq" ON "AuditEntity" ("Seq")""";
        foreach (var s in AppendOnlyTriggers(d, "AuditRecord")) yield return s;
    }

    /// <summary>Append-only in the database too; whoever drops these triggers is still caught by the hash chain.</summary>
    private static IEnumerable<string> AppendOnlyTriggers(SqlDialect d, string table)
    {
        if (d == SqlDialect.Sqlite)
        {
            yield return $"""CREATE TRIGGER "{table}_NoUpdate" BEFORE UPDATE ON "{table}" BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END""";
            yield return $"""CREATE TRIGGER "{table}_NoDelete" BEFORE DELETE ON "{table}" BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END""";
        }
        else
        {
            yield return """
                CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
                'BEGIN RAISE EXCEPTION ''the audit trail is append-only''; END'
                """;
            yield return $"""CREATE TRIGGER "{table}_AppendOnly" BEFORE UPDATE OR DELETE ON "{table}" FOR EACH ROW EXECUTE FUNCTION audit_append_only()""";
        }
    }
}

/// <summary>The audit's tables on the context, as the store's own tables are (db.Resources).</summary>
public static class AuditTables
{
    extension(FhirDbContext db)
    {
        public DbSet<AuditRecordRow> AuditRecords => db.Set<AuditRecordRow>();
        public DbSet<AuditKeyRow> AuditKeys => db.Set<AuditKeyRow>();
        public DbSet<AuditBlockRow> AuditBlocks => db.Set<AuditBlockRow>();
        public DbSet<AuditCheckpointRow> AuditCheckpoints => db.Set<AuditCheckpointRow>();
    }
}

namespace FhirArchive.Storage.Schema;

/// <summary>The ordered schema steps, written for both dialects (they differ only in a few column types).</summary>
internal static class Migrations
{
    public static readonly Migration[] All =
    [
        new(1, "Resource versions and typed search indexes", Initial),
        new(2, "Composite search components and search indexes leading with Param", CompositeAndSearchIndexes),
        new(4, "Append-only, SM3-chained audit trail", AuditTrail),
        new(5, "Unique keys and counters (one person one record, record numbers)", UniqueKeysAndCounters),
        new(6, "Pending access requests (one-time codes of Patient/$request-access)", AccessRequests),
        new(7, "Authorisation server grant state (codes, refresh tokens, revocations, lockout)", AuthGrantState),
        new(8, "Audit entities keyed by reference: one index per row instead of three", AuditEntityByReference),
        new(9, "Audit events as one row each, found through keys per bucket of 256 events", AuditKeysByBucket),
        new(10, "Audit events stored in blocks: one row per run of journal frames within a bucket", AuditBlocks),
    ];

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
    /// The authorisation server's state, shared by the server instances on the database: codes and refresh tokens by
    /// hash, revoked token ids, used client assertion ids, failed logins and account locks. Times are UTC ticks.
    /// </summary>
    private static IEnumerable<string> AuthGrantState(SqlDialect d)
    {
        var id = d == SqlDialect.Sqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY";
        yield return """CREATE TABLE "AuthCode" ("Hash" text PRIMARY KEY, "ClientId" text NOT NULL, "Payload" text NOT NULL, "ExpiresAt" bigint NOT NULL)""";
        yield return """CREATE INDEX "IX_AuthCode_ExpiresAt" ON "AuthCode" ("ExpiresAt")""";
        yield return """
            CREATE TABLE "AuthRefreshToken" ("Hash" text PRIMARY KEY, "ClientId" text NOT NULL, "Family" text NOT NULL,
              "Payload" text NOT NULL, "ExpiresAt" bigint NOT NULL, "UsedAt" bigint NULL)
            """;
        yield return """CREATE INDEX "IX_AuthRefreshToken_Family" ON "AuthRefreshToken" ("Family")""";
        yield return """CREATE INDEX "IX_AuthRefreshToken_ExpiresAt" ON "AuthRefreshToken" ("ExpiresAt")""";
        yield return """CREATE TABLE "AuthRevokedToken" ("TokenId" text PRIMARY KEY, "ExpiresAt" bigint NOT NULL, "RevokedAt" bigint NOT NULL)""";
        yield return """CREATE INDEX "IX_AuthRevokedToken_RevokedAt" ON "AuthRevokedToken" ("RevokedAt")""";
        yield return """CREATE TABLE "AuthUsedOnce" ("Key" text PRIMARY KEY, "ExpiresAt" bigint NOT NULL)""";
        yield return $"""CREATE TABLE "AuthLoginFailure" ("Id" {id}, "Username" text NOT NULL, "At" bigint NOT NULL)""";
        yield return """CREATE INDEX "IX_AuthLoginFailure_Username" ON "AuthLoginFailure" ("Username", "At")""";
        yield return """CREATE TABLE "AuthAccountState" ("Username" text PRIMARY KEY, "LockedUntil" bigint NULL, "LastTotpStep" bigint NOT NULL)""";
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

    /// <summary>
    /// Claimed keys (a UNIQUE index decides who wins, inside the write transaction) and never-reused counters.
    /// Both are generic: a scope names what the key or counter is for.
    /// </summary>
    private static IEnumerable<string> UniqueKeysAndCounters(SqlDialect d)
    {
        yield return """CREATE TABLE "UniqueKey" ("Scope" text NOT NULL, "Key" text NOT NULL, "Owner" text NOT NULL, PRIMARY KEY ("Scope", "Key"))""";
        yield return """CREATE INDEX "IX_UniqueKey_Owner" ON "UniqueKey" ("Scope", "Owner")""";
        yield return """CREATE TABLE "Counter" ("Name" text PRIMARY KEY, "Value" bigint NOT NULL)""";
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

    private static readonly string[] IndexTables = ["TokenIndex", "StringIndex", "DateIndex", "NumberIndex", "QuantityIndex", "ReferenceIndex", "UriIndex"];

    /// <summary>
    /// Composite parameters are stored as component rows in the typed tables, tied by CompositeGroup. The indexes
    /// lead with Param and cover the value columns and the row id, so a criterion is answered from the index alone
    /// and drives the search (row ids IN the matching index rows) instead of probing every resource row.
    /// </summary>
    private static IEnumerable<string> CompositeAndSearchIndexes(SqlDialect d)
    {
        foreach (var table in IndexTables)
        {
            yield return $"""ALTER TABLE "{table}" ADD COLUMN "CompositeGroup" integer NULL""";
            // Per-resource lookups (includes, sorting, the composite's sibling components) also name the parameter.
            yield return $"""DROP INDEX "IX_{table}_Row" """;
            yield return $"""CREATE INDEX "IX_{table}_Row" ON "{table}" ("ResourceRowId", "Param")""";
            yield return $"""DROP INDEX "IX_{table}_Param" """;
        }
        yield return """CREATE INDEX "IX_TokenIndex_Param" ON "TokenIndex" ("Param", "Code", "System", "ResourceRowId")""";
        // Prefix searches (LIKE 'abc%') use the index on PostgreSQL whatever the database collation.
        var pattern = d == SqlDialect.Postgres ? " text_pattern_ops" : "";
        yield return $"""CREATE INDEX "IX_StringIndex_Param" ON "StringIndex" ("Param", "Normalized"{pattern}, "ResourceRowId")""";
        yield return """CREATE INDEX "IX_DateIndex_Param" ON "DateIndex" ("Param", "Start", "End", "ResourceRowId")""";
        yield return """CREATE INDEX "IX_NumberIndex_Param" ON "NumberIndex" ("Param", "Value", "ResourceRowId")""";
        yield return """CREATE INDEX "IX_QuantityIndex_Param" ON "QuantityIndex" ("Param", "Value", "Code", "ResourceRowId")""";
        yield return """CREATE INDEX "IX_ReferenceIndex_Param" ON "ReferenceIndex" ("Param", "TargetId", "TargetType", "ResourceRowId")""";
        yield return $"""CREATE INDEX "IX_UriIndex_Param" ON "UriIndex" ("Param", "Uri"{pattern}, "ResourceRowId")""";
        // Default search order is by row id within the current rows of a type.
        yield return """CREATE INDEX "IX_ResourceVersion_Type_Current_Id" ON "ResourceVersion" ("ResourceType", "IsCurrent", "Id")""";
        if (d == SqlDialect.Sqlite)
            foreach (var sql in SqlitePlannerStatistics()) yield return sql;
    }

    /// <summary>
    /// SQLite plans without statistics take a resource type for selective and scan every row of the type, probing the
    /// index tables for each. Fixed statistics of a representative database (the documented "fixed results of
    /// ANALYZE") tell it the truth: a type covers many rows, a parameter's value few, so the criterion's index drives.
    /// A later ANALYZE replaces them with measured ones. PostgreSQL gathers its own (autovacuum).
    /// </summary>
    private static IEnumerable<string> SqlitePlannerStatistics()
    {
        (string Table, string Index, string Stat)[] stats =
        [
            ("ResourceVersion", "IX_ResourceVersion_Type_Id_Version", "1000000 50000 1 1"),
            ("ResourceVersion", "IX_ResourceVersion_Current", "1000000 50000 40000 1"),
            ("ResourceVersion", "IX_ResourceVersion_Type_Current_Id", "1000000 50000 40000 1"),
            ("ResourceVersion", "IX_ResourceVersion_LastUpdated", "1000000 1"),
            ("TokenIndex", "IX_TokenIndex_Param", "4000000 80000 20 20 1"),
            ("StringIndex", "IX_StringIndex_Param", "2000000 40000 5 1"),
            ("DateIndex", "IX_DateIndex_Param", "1000000 50000 40 40 1"),
            ("NumberIndex", "IX_NumberIndex_Param", "100000 20000 20 1"),
            ("QuantityIndex", "IX_QuantityIndex_Param", "2000000 80000 400 100 1"),
            ("ReferenceIndex", "IX_ReferenceIndex_Param", "2000000 60000 5 5 1"),
            ("UriIndex", "IX_UriIndex_Param", "100000 20000 2 1"),
        ];
        yield return "ANALYZE sqlite_schema"; // creates sqlite_stat1 without scanning the tables
        yield return $"""DELETE FROM sqlite_stat1 WHERE tbl IN ('ResourceVersion', {string.Join(", ", IndexTables.Select(t => $"'{t}'"))})""";
        foreach (var table in IndexTables)
            yield return $"""INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('{table}', 'IX_{table}_Row', '1000000 5 2')""";
        foreach (var (table, index, stat) in stats)
            yield return $"""INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('{table}', '{index}', '{stat}')""";
        yield return "ANALYZE sqlite_schema"; // loads them
    }

    private static IEnumerable<string> Initial(SqlDialect d)
    {
        var id = d == SqlDialect.Sqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY";
        var blob = d == SqlDialect.Sqlite ? "BLOB" : "bytea";
        var boolean = d == SqlDialect.Sqlite ? "INTEGER" : "boolean";
        var real = d == SqlDialect.Sqlite ? "REAL" : "double precision";

        yield return $"""
            CREATE TABLE "ResourceVersion" (
              "Id" {id}, "ResourceType" text NOT NULL, "ResourceId" text NOT NULL, "Version" integer NOT NULL,
              "LastUpdated" bigint NOT NULL, "IsDeleted" {boolean} NOT NULL, "IsCurrent" {boolean} NOT NULL, "Data" {blob} NULL)
            """;
        yield return """CREATE UNIQUE INDEX "IX_ResourceVersion_Type_Id_Version" ON "ResourceVersion" ("ResourceType", "ResourceId", "Version")""";
        yield return """CREATE INDEX "IX_ResourceVersion_Current" ON "ResourceVersion" ("ResourceType", "IsCurrent", "LastUpdated")""";
        yield return """CREATE INDEX "IX_ResourceVersion_LastUpdated" ON "ResourceVersion" ("LastUpdated")""";

        (string Table, string Columns, string Key)[] indexes =
        [
            ("TokenIndex", "\"System\" text NULL, \"Code\" text NULL, \"Text\" text NULL", "\"Code\""),
            ("StringIndex", "\"Value\" text NOT NULL, \"Normalized\" text NOT NULL", "\"Normalized\""),
            ("DateIndex", "\"Start\" bigint NOT NULL, \"End\" bigint NOT NULL", "\"Start\", \"End\""),
            ("NumberIndex", $"\"Value\" {real} NOT NULL", "\"Value\""),
            ("QuantityIndex", $"\"Value\" {real} NOT NULL, \"System\" text NULL, \"Code\" text NULL", "\"Value\""),
            ("ReferenceIndex", "\"TargetType\" text NULL, \"TargetId\" text NULL, \"Url\" text NULL", "\"TargetId\""),
            ("UriIndex", "\"Uri\" text NOT NULL", "\"Uri\""),
        ];
        foreach (var (table, columns, key) in indexes)
        {
            yield return $"""
                CREATE TABLE "{table}" ("Id" {id}, "ResourceRowId" bigint NOT NULL REFERENCES "ResourceVersion" ("Id"),
                  "Param" text NOT NULL, {columns})
                """;
            yield return $"""CREATE INDEX "IX_{table}_Row" ON "{table}" ("ResourceRowId")""";
            yield return $"""CREATE INDEX "IX_{table}_Param" ON "{table}" ("Param", {key})""";
        }
    }
}

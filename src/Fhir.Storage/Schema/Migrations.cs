namespace FhirArchive.Storage.Schema;

/// <summary>
/// The resource store's own schema steps, written for both dialects (they differ only in a few column types). The
/// other tables' steps are their parts' (<see cref="SchemaPart"/>): 4, 8, 9, 10, 15 the audit trail's, 6 and 19 the access
/// requests', 7 the authorisation server's grant state; 3 was never released.
/// </summary>
internal static class Migrations
{
    public static readonly Migration[] All =
    [
        new(1, "Resource versions and typed search indexes", Initial),
        new(2, "Composite search components and search indexes leading with Param", CompositeAndSearchIndexes),
        new(5, "Unique keys and counters (one person one record, record numbers)", UniqueKeysAndCounters),
        new(14, "Reference index rows name their resource's type (the patient compartment of one type by an index probe)", ReferenceSourceType),
        new(16, "Field encryption: the data key of a sealed version, and the wrapped data keys", FieldEncryptionKeys),
        new(17, "PostgreSQL statistics of the search-index tables' dependent columns (a code belongs to one parameter)", IndexColumnStatistics),
        new(18, "Field encryption: the sealed versions by data key (start checks, re-sealing)", SealedVersionsByKey),
    ];

    /// <summary>
    /// PostgreSQL estimates "Param = 'code' AND Code = '72514-3' AND System = 'http://loinc.org'" as the product of the
    /// three columns' selectivities, but a code occurs under one parameter and one system: at 20,000 Synthea resources
    /// it expected 45 token rows where 581 matched, and so drove the patient+code+date search from the code instead
    /// of the patient. Functional-dependency statistics (gathered by ANALYZE and autovacuum, nothing at write time)
    /// let it multiply only what is independent. SQLite's ANALYZE already counts rows per index prefix (Param, then
    /// Param+Code, …): nothing to do there.
    /// </summary>
    private static IEnumerable<string> IndexColumnStatistics(SqlDialect d)
    {
        if (d != SqlDialect.Postgres) yield break;
        (string Table, string Columns)[] stats =
        [
            ("TokenIndex", "\"Param\", \"Code\", \"System\""),
            ("ReferenceIndex", "\"Param\", \"TargetId\", \"TargetType\", \"SourceType\""),
            ("StringIndex", "\"Param\", \"Normalized\""),
            ("UriIndex", "\"Param\", \"Uri\""),
            ("QuantityIndex", "\"Param\", \"Code\", \"System\""),
        ];
        foreach (var (table, columns) in stats)
        {
            yield return $"""CREATE STATISTICS "ST_{table}_Dependencies" (dependencies) ON {columns} FROM "{table}" """;
            yield return $"""ANALYZE "{table}" """;
        }
    }

    /// <summary>
    /// The start checks ask whether any version is sealed, and a re-seal pass reads the versions under older keys:
    /// without an index both scan every version. Partial (both dialects have them): the versions stored in clear,
    /// every version of the other types, take no room in it.
    /// </summary>
    private static IEnumerable<string> SealedVersionsByKey(SqlDialect d)
    {
        yield return """CREATE INDEX "IX_ResourceVersion_KeyId" ON "ResourceVersion" ("KeyId") WHERE "KeyId" IS NOT NULL""";
    }

    /// <summary>
    /// A version's bytes sealed under a data key name it (null: stored in clear, as every version before); the data
    /// keys are kept wrapped under the key-encryption key, which is never stored (Encryption/DataKeys).
    /// </summary>
    private static IEnumerable<string> FieldEncryptionKeys(SqlDialect d)
    {
        yield return """ALTER TABLE "ResourceVersion" ADD COLUMN "KeyId" integer NULL""";
        var blob = d == SqlDialect.Postgres ? "bytea" : "blob";
        yield return $"""CREATE TABLE "DataKey" ("Id" integer PRIMARY KEY, "WrappedKey" {blob} NOT NULL, "CreatedAt" bigint NOT NULL)""";
    }

    /// <summary>
    /// "Encounter?patient=X" and the homepage's reads of a record by type: with the source type in the reference index
    /// (filled from the version rows for what is stored) the probe finds X's Encounters alone, not the index rows of
    /// all of X's resources each checked against its version row.
    /// </summary>
    private static IEnumerable<string> ReferenceSourceType(SqlDialect d)
    {
        yield return """ALTER TABLE "ReferenceIndex" ADD COLUMN "SourceType" text NULL""";
        yield return """UPDATE "ReferenceIndex" SET "SourceType" = (SELECT r."ResourceType" FROM "ResourceVersion" r WHERE r."Id" = "ReferenceIndex"."ResourceRowId")""";
        yield return """DROP INDEX "IX_ReferenceIndex_Param" """;
        yield return """CREATE INDEX "IX_ReferenceIndex_Param" ON "ReferenceIndex" ("Param", "TargetId", "TargetType", "SourceType", "ResourceRowId")""";
        if (d == SqlDialect.Sqlite)
        {
            yield return """DELETE FROM sqlite_stat1 WHERE tbl = 'ReferenceIndex' AND idx = 'IX_ReferenceIndex_Param'""";
            yield return """INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('ReferenceIndex', 'IX_ReferenceIndex_Param', '2000000 60000 5 5 2 1')""";
            yield return "ANALYZE sqlite_schema";
        }
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

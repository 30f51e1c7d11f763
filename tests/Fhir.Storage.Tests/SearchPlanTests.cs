using System.Data.Common;
using System.Text.Json;
using System.Text.RegularExpressions;
using FhirArchive.Fhir.Definitions;
using FhirArchive.Storage.Schema;
using FhirArchive.Storage.Search;
using FhirArchive.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Xunit;
using Xunit.Sdk;

namespace FhirArchive.Storage.Tests;

/// <summary>
/// The query plans of the load test's search scenarios, on a database loaded with ~28,000 resources of 400 patients
/// and analysed (fewer, and PostgreSQL rightly prefers scanning a type's few versions to probing them). Every statement the store sends for a scenario (the same calls the server makes:
/// the snapshot, the total, the page, an include's or a chain's steps) is captured on its way to the database and
/// explained with its own parameters: PostgreSQL <c>EXPLAIN (ANALYZE, FORMAT JSON)</c>, SQLite <c>EXPLAIN QUERY PLAN</c>.
/// The rules: no full scan of a search-index table or of the version rows, version rows reached by their key, and
/// (PostgreSQL, which counts) no plan node reading more than the scenario's bound of rows. Each scenario names the
/// indexes it needs; without each of them its check fails.
/// </summary>
public abstract class SearchPlanTestsBase
{
    protected abstract SqlDialect Dialect { get; }
    protected abstract DbContextOptionsBuilder<FhirDbContext> NewDatabase();

    private const int Patients = 400, ObservationsPerPatient = 60, EncountersPerPatient = 10, Practitioners = 20, Codes = 10;
    private protected const string Loinc = "http://loinc.org", Mrn = "urn:oid:2.16.156.mrn";
    private static readonly long Day = TimeSpan.TicksPerDay, Day0 = new DateTime(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc).Ticks;

    private static readonly string[] IndexTables = ["TokenIndex", "StringIndex", "DateIndex", "NumberIndex", "QuantityIndex", "ReferenceIndex", "UriIndex"];

    /// <summary>A scenario: what the server does for one of the load test's requests, the indexes it needs, and at most how
    /// many rows one plan node may read (of ~28,400 resources and ~150,000 index rows).</summary>
    private sealed record Scenario(string Name, string[] Needs, int MaxRows, Func<ResourceStore, Task> Run);

    private protected static SearchQuery Query(string type, params SearchCriterion[] criteria)
    {
        var q = new SearchQuery { ResourceType = type };
        q.Criteria.AddRange(criteria);
        return q;
    }

    private protected static SearchCriterion One(SearchPredicate p) => new([p]);

    /// <summary>Patient 7 has an Observation a day for 60 days, coded c0..c9 in turn: one of c3 on 2024-01-04.</summary>
    private static readonly Scenario[] Scenarios =
    [
        // Patient?identifier=urn:oid:2.16.156.mrn|mrn-7
        new("identifier", ["IX_TokenIndex_Param"], 10, store =>
            store.SearchAsync(Query("Patient", One(new TokenPredicate("identifier", Mrn, true, "mrn-7", true))))),
        // Observation?patient=p7&code=http://loinc.org|c3&date=2024-01-04
        new("observation", ["IX_ReferenceIndex_Param"], 200, store =>
            store.SearchAsync(Query("Observation", One(new ReferencePredicate("patient", null, "p7", null)),
                One(new TokenPredicate("code", Loinc, true, "c3", true)),
                One(new DatePredicate("date", Prefix.Eq, Day0 + 3 * Day, Day0 + 4 * Day - 1))))),
        // Encounter?patient=p7&_include=Encounter:practitioner&_count=20
        new("include", ["IX_ReferenceIndex_Param", "IX_ReferenceIndex_Row"], 200, async store =>
        {
            var q = Query("Encounter", One(new ReferencePredicate("patient", null, "p7", null)));
            q.Count = 20;
            var page = await store.SearchAsync(q);
            Assert.Equal(EncountersPerPatient, page.Matches.Count);
            Assert.NotEmpty(await store.IncludesAsync(page.Matches.Select(m => m.RowId).ToList(), "practitioner", null));
        }),
        // Observation?subject:Patient.identifier=urn:oid:2.16.156.mrn|mrn-7&code=http://loinc.org|c3 (the parser's two steps)
        new("chained", ["IX_TokenIndex_Param", "IX_ReferenceIndex_Param"], 200, async store =>
        {
            var inner = Query("Patient", One(new TokenPredicate("identifier", Mrn, true, "mrn-7", true)));
            (inner.Count, inner.IncludeTotal) = (1000, false);
            var patients = (await store.SearchAsync(inner)).Matches.Select(m => m.Id).ToList();
            var found = await store.SearchAsync(Query("Observation", One(new ReferenceToAnyPredicate("subject", "Patient", patients)),
                One(new TokenPredicate("code", Loinc, true, "c3", true))));
            Assert.Equal(ObservationsPerPatient / Codes, found.Total);
        }),
        // Patient?_has:Observation:patient:code=http://loinc.org|c-rare (the parser's three steps)
        new("has", ["IX_TokenIndex_Param", "IX_ReferenceIndex_Row"], 200, async store =>
        {
            var inner = Query("Observation", One(new TokenPredicate("code", Loinc, true, "c-rare", true)));
            (inner.Count, inner.IncludeTotal) = (1000, false);
            var rows = (await store.SearchAsync(inner)).Matches.Select(m => m.RowId).ToList();
            var ids = await store.ReferencedIdsAsync(rows, "patient", "Patient", default);
            var found = await store.SearchAsync(Query("Patient", One(new IdInPredicate(ids))));
            Assert.Equal(Patients / 10, found.Total);
        }),
        // Patient/p7/$everything?_count=100 (first page): the compartment's members, then what they refer to
        new("everything", ["IX_ReferenceIndex_Param"], 400, async store =>
        {
            var members = PatientCompartment();
            var q = new SearchQuery { Types = [.. members.Keys, "Patient"], Count = 100 };
            q.Criteria.Add(One(new CompartmentPredicate("Patient", "p7", members)));
            var page = await store.SearchAsync(q);
            Assert.Equal(1 + ObservationsPerPatient + EncountersPerPatient, page.Total);
            Assert.NotEmpty(await store.IncludesAsync(page.Matches.Select(m => m.RowId).ToList(), null, null));
        }),
        // Observation?patient=p7&_sort=-date&_count=50
        new("history", ["IX_ReferenceIndex_Param", "IX_DateIndex_Row"], 200, async store =>
        {
            var q = Query("Observation", One(new ReferencePredicate("patient", null, "p7", null)));
            q.Sort.Add(new SortKey("date", Indexing.SearchParamType.Date, true));
            q.Count = 50;
            var page = await store.SearchAsync(q);
            Assert.Equal(50, page.Matches.Count);
        }),
    ];

    /// <summary>The official Patient compartment: each member type with its linking parameters (as $everything searches it).</summary>
    private static Dictionary<string, string[]> PatientCompartment() =>
        FhirDefinitions.OpenDefinitionFile("CompartmentDefinition-patient.json").RootElement.GetProperty("resource").EnumerateArray()
            .Where(r => r.TryGetProperty("param", out _))
            .ToDictionary(r => r.GetProperty("code").GetString()!, r => r.GetProperty("param").EnumerateArray().Select(p => p.GetString()!).ToArray());

    private static Scenario Named(string name) => Scenarios.Single(s => s.Name == name);

    [FhirFact] public Task Identifier_is_one_probe_of_the_token_index() => Check(Named("identifier"), singleProbe: true);
    [FhirFact] public Task Patient_code_date_reads_a_bounded_number_of_rows() => Check(Named("observation"));
    [FhirFact] public Task Include_uses_the_reference_indexes() => Check(Named("include"));
    [FhirFact] public Task Chained_search_uses_the_token_and_reference_indexes() => Check(Named("chained"));
    [FhirFact] public Task Has_search_uses_the_token_and_reference_indexes() => Check(Named("has"));
    [FhirFact] public Task Everything_uses_the_reference_index() => Check(Named("everything"));
    [FhirFact] public Task Sorted_page_by_date_uses_the_reference_and_date_indexes() => Check(Named("history"));

    /// <summary>The checks are not vacuous: with any one of the indexes a scenario needs dropped, its plan fails them.</summary>
    [FhirFact]
    public async Task Each_scenario_fails_its_check_without_each_index_it_needs()
    {
        var passed = new List<string>();
        foreach (var index in Scenarios.SelectMany(s => s.Needs).Distinct())
        {
            var (options, capture) = await LoadAsync(dropped: index);
            foreach (var scenario in Scenarios.Where(s => s.Needs.Contains(index)))
            {
                try
                {
                    await Check(scenario, options, capture, singleProbe: scenario.Name == "identifier", dropped: index);
                    passed.Add($"{scenario.Name} without {index}:\n" + string.Join("\n", capture.Plans.Select(p => p.Sql + "\n" + p.Plan)));
                }
                catch (XunitException) { /* the plan check failed, as it must */ }
            }
        }
        Assert.True(passed.Count == 0, "plans that passed without an index they need:\n" + string.Join("\n\n", passed));
    }

    private async Task Check(Scenario scenario, bool singleProbe = false)
    {
        var (options, capture) = await LoadAsync();
        await Check(scenario, options, capture, singleProbe);
    }

    private protected ResourceStore NewStore(DbContextOptions<FhirDbContext> options) =>
        new(new Factory(options), new StorageOptions { Provider = Dialect == SqlDialect.Postgres ? "postgres" : "sqlite" });

    /// <summary>
    /// A page by offset that is not full ends the matches, so it gives the total: the search sends the snapshot and the
    /// page, no count. A full page, or one after a row id, still counts.
    /// </summary>
    [FhirFact]
    public async Task A_page_that_is_not_full_gives_the_total_without_a_count()
    {
        var (options, capture) = await LoadAsync();
        using var store = NewStore(options);
        // Patient 7's Observations coded c3: 6.
        async Task<(int? Total, int Shown, int Counts)> Run(int count, int offset = 0, long? after = null)
        {
            var q = Query("Observation", One(new ReferencePredicate("patient", null, "p7", null)), One(new TokenPredicate("code", Loinc, true, "c3", true)));
            (q.Count, q.Offset, q.AfterRowId) = (count, offset, after);
            capture.Plans.Clear();
            capture.On = true;
            try
            {
                var r = await store.SearchAsync(q);
                return (r.Total, r.Matches.Count, capture.Plans.Count(p => p.Sql.Contains("count(", StringComparison.OrdinalIgnoreCase)));
            }
            finally { capture.On = false; }
        }
        Assert.Equal((6, 6, 0), await Run(20));
        Assert.Equal((6, 2, 0), await Run(4, offset: 4));
        Assert.Equal((6, 4, 1), await Run(4));
        Assert.Equal((6, 0, 1), await Run(4, offset: 8));
        Assert.Equal((6, 6, 1), await Run(20, after: 0));
    }

    /// <summary>A fresh database with the data loaded (and one index dropped), analysed.</summary>
    private protected async Task<(DbContextOptions<FhirDbContext>, PlanCapture)> LoadAsync(string? dropped = null)
    {
        var capture = new PlanCapture(Dialect);
        var options = NewDatabase().AddInterceptors(capture).Options;
        await using var db = new FhirDbContext(options);
        await SchemaMigrator.MigrateAsync(db, Dialect);
        await Load(db);
        // An index name of this class's own scenarios, so the statement is built as text.
        var drop = $"DROP INDEX \"{dropped}\"";
        if (dropped is not null) await db.Database.ExecuteSqlRawAsync(drop);
        await db.Database.ExecuteSqlRawAsync("ANALYZE");
        return (options, capture);
    }

    /// <summary>Runs the scenario with every statement explained, and checks the plans.</summary>
    private async Task Check(Scenario scenario, DbContextOptions<FhirDbContext> options, PlanCapture capture, bool singleProbe = false, string? dropped = null)
    {
        using var store = NewStore(options);
        capture.Plans.Clear();
        capture.On = true;
        try { await scenario.Run(store); }
        finally { capture.On = false; }

        Assert.NotEmpty(capture.Plans);
        var used = new HashSet<string>();
        foreach (var (sql, plan) in capture.Plans)
        {
            var accesses = Dialect == SqlDialect.Postgres ? PostgresAccesses(plan) : SqliteAccesses(sql, plan);
            foreach (var a in accesses)
            {
                var context = $"{scenario.Name}{(dropped is null ? "" : " without " + dropped)}: {a.Table} {a.How} in\n{sql}\n{plan}";
                Assert.False(a.FullScan, "full scan of " + context);
                if (a.Table == "ResourceVersion") Assert.True(a.ByKey, "version rows not reached by their key: " + context);
                Assert.True(a.Rows <= scenario.MaxRows, $"{a.Rows} rows read (bound {scenario.MaxRows}): " + context);
                if (a.Index is not null) used.Add(a.Index);
            }
            if (singleProbe)
                Assert.True(accesses.Count(a => IndexTables.Contains(a.Table)) <= 1, $"more than one index probe in\n{sql}\n{plan}");
        }
        // Without one of them, the rules above must catch the worse plan by themselves (not by this naming check).
        if (dropped is null)
            foreach (var index in scenario.Needs)
                Assert.True(used.Contains(index), $"{scenario.Name}: {index} not used; used {string.Join(", ", used)}");
    }

    /// <summary>One table access in a plan: which index (if any) with a condition, whether it reads the whole table or
    /// index, and how many rows it read (PostgreSQL's actual rows and rows removed by filters, times loops; SQLite: 0).</summary>
    private sealed record Access(string Table, string How, string? Index, bool FullScan, bool ByKey, long Rows);

    private static readonly string[] KeyIndexes = ["PK_ResourceVersion", "ResourceVersion_pkey", "IX_ResourceVersion_Type_Id_Version"];

    private static List<Access> PostgresAccesses(string json)
    {
        var result = new List<Access>();
        void Walk(JsonElement node)
        {
            if (node.TryGetProperty("Relation Name", out var rel))
            {
                var type = node.GetProperty("Node Type").GetString()!;
                var index = node.TryGetProperty("Index Name", out var ix) ? ix.GetString() : null;
                var loops = node.TryGetProperty("Actual Loops", out var l) ? l.GetInt64() : 1;
                var rows = (node.TryGetProperty("Actual Rows", out var ar) ? ar.GetInt64() : 0)
                           + (node.TryGetProperty("Rows Removed by Filter", out var rf) ? rf.GetInt64() : 0)
                           + (node.TryGetProperty("Rows Removed by Index Recheck", out var rr) ? rr.GetInt64() : 0);
                var full = type == "Seq Scan" || (index is not null && !node.TryGetProperty("Index Cond", out _) && rows * loops > 1);
                result.Add(new Access(rel.GetString()!, type + (index is null ? "" : " using " + index), index, full,
                    index is not null && KeyIndexes.Contains(index), rows * loops));
            }
            if (node.TryGetProperty("Index Name", out var bitmapIndex) && !node.TryGetProperty("Relation Name", out _))
            {
                // A Bitmap Index Scan names the index; its heap scan (the parent) names the table.
                var loops = node.TryGetProperty("Actual Loops", out var l) ? l.GetInt64() : 1;
                var rows = node.TryGetProperty("Actual Rows", out var ar) ? ar.GetInt64() : 0;
                var name = bitmapIndex.GetString()!;
                var table = IndexTables.Concat(["ResourceVersion"]).FirstOrDefault(t => name.Contains("_" + t + "_", StringComparison.Ordinal) || name.StartsWith("IX_" + t, StringComparison.Ordinal)) ?? name;
                result.Add(new Access(table, "Bitmap Index Scan using " + name, name, !node.TryGetProperty("Index Cond", out _), KeyIndexes.Contains(name), rows * loops));
            }
            if (node.TryGetProperty("Plans", out var children))
                foreach (var child in children.EnumerateArray()) Walk(child);
        }
        foreach (var statement in JsonDocument.Parse(json).RootElement.EnumerateArray()) Walk(statement.GetProperty("Plan"));
        // A bitmap heap scan reads what its index scan found (judged there), and counts the rows it rechecks.
        return result.Select(a => a.How == "Bitmap Heap Scan" ? a with { ByKey = true } : a).ToList();
    }

    /// <summary>SQLite names a table in its plan by the query's alias: "SEARCH r USING INTEGER PRIMARY KEY (rowid=?)".</summary>
    private static List<Access> SqliteAccesses(string sql, string plan)
    {
        var aliases = Regex.Matches(sql, "FROM \"(\\w+)\" AS \"?(\\w+)\"?|JOIN \"(\\w+)\" AS \"?(\\w+)\"?")
            .Select(m => m.Groups[1].Success ? (Table: m.Groups[1].Value, Alias: m.Groups[2].Value) : (Table: m.Groups[3].Value, Alias: m.Groups[4].Value))
            .GroupBy(x => x.Alias).ToDictionary(g => g.Key, g => g.Select(x => x.Table).Distinct().ToList());
        var result = new List<Access>();
        foreach (var line in plan.Split('\n'))
        {
            var m = Regex.Match(line, "^(SCAN|SEARCH) (\\w+)(?: USING (?:COVERING )?INDEX (\\w+)| USING (INTEGER PRIMARY KEY)| USING (AUTOMATIC))?(?:[^(]*\\((.*)\\))?");
            if (!m.Success) continue;
            var alias = m.Groups[2].Value;
            foreach (var table in aliases.TryGetValue(alias, out var tables) ? tables : [alias])
            {
                if (!IndexTables.Contains(table) && table != "ResourceVersion") continue;
                var index = m.Groups[3].Success ? m.Groups[3].Value : m.Groups[4].Success ? "PK_" + table : null;
                // SQLite counts no rows, so a probe must name a value: one bounded by the parameter alone, or by a range
                // (TargetId>? is "not null"), reads all of the parameter's rows; a skip-scan (ANY(…)) or an automatic
                // index reads the whole table.
                var cond = m.Groups[6].Value;
                var bounded = (cond.Length == 0 && table == "ResourceVersion" && index is null
                    || !cond.Contains("ANY(") && Regex.IsMatch(cond, "\\b(?!Param=)\\w+=\\?"));
                var search = m.Groups[1].Value == "SEARCH" && !m.Groups[5].Success && bounded;
                // "SEARCH r" with no index is the rowid's min/max (the snapshot's MAX("Id")): one row by its key.
                result.Add(new Access(table, line, index, !search, search && (index is null || KeyIndexes.Contains(index)), 0));
            }
        }
        return result;
    }

    /// <summary>
    /// 400 patients (identifier mrn-N; every tenth has one Observation coded c-rare), 20 practitioners, per patient 60
    /// Observations (codes c0..c9 in turn, one day apart, with patient, subject, code, category, status and date rows)
    /// and 10 Encounters (patient, subject, practitioner, participant, status, date). Ids: pN, prN, oN, eN.
    /// </summary>
    private async Task Load(FhirDbContext db)
    {
        var t = Dialect == SqlDialect.Postgres ? "TRUE" : "1";
        var f = Dialect == SqlDialect.Postgres ? "FALSE" : "0";
        int obs = Patients * ObservationsPerPatient, enc = Patients * EncountersPerPatient;
        string Numbers(int n) => $"WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {n - 1})";
        string Versions(string type, string prefix, int n) => $"""
            {Numbers(n)} INSERT INTO "ResourceVersion" ("ResourceType", "ResourceId", "Version", "LastUpdated", "IsDeleted", "IsCurrent", "Data")
            SELECT '{type}', '{prefix}' || CAST(i AS TEXT), 1, {Day0} + i, {f}, {t}, NULL FROM n
            """;
        string Rows(string type, string prefix, params string[] names) =>
            $"""FROM "ResourceVersion" v {(names.Length == 0 ? "" : $"CROSS JOIN ({string.Join(" UNION ALL ", names.Select(n => $"SELECT '{n}' AS name"))}) p")} """ +
            $"""WHERE v."ResourceType" = '{type}' AND v."ResourceId" LIKE '{prefix}%'""";
        // The number in a resource id: pN → N.
        string Num(string prefix) => $"""CAST(SUBSTR(v."ResourceId", {prefix.Length + 1}) AS INTEGER)""";
        string[] sql =
        [
            Versions("Patient", "p", Patients),
            Versions("Practitioner", "pr", Practitioners),
            Versions("Observation", "o", obs),
            Versions("Encounter", "e", enc),
            $"""
            INSERT INTO "TokenIndex" ("ResourceRowId", "Param", "System", "Code")
            SELECT v."Id", 'identifier', '{Mrn}', 'mrn-' || SUBSTR(v."ResourceId", 2) {Rows("Patient", "p")}
            UNION ALL SELECT v."Id", 'gender', 'http://hl7.org/fhir/administrative-gender', CASE WHEN {Num("p")} % 2 = 0 THEN 'female' ELSE 'male' END {Rows("Patient", "p")}
            UNION ALL SELECT v."Id", 'code', '{Loinc}', CASE WHEN {Num("o")} < {Patients} AND {Num("o")} % 10 = 0 THEN 'c-rare' ELSE 'c' || CAST(({Num("o")} / {Patients}) % {Codes} AS TEXT) END {Rows("Observation", "o")}
            UNION ALL SELECT v."Id", 'category', 'http://terminology.hl7.org/CodeSystem/observation-category', 'vital-signs' {Rows("Observation", "o")}
            UNION ALL SELECT v."Id", 'status', 'http://hl7.org/fhir/observation-status', 'final' {Rows("Observation", "o")}
            UNION ALL SELECT v."Id", 'status', 'http://hl7.org/fhir/encounter-status', 'finished' {Rows("Encounter", "e")}
            """,
            $"""
            INSERT INTO "ReferenceIndex" ("ResourceRowId", "Param", "SourceType", "TargetType", "TargetId", "Url")
            SELECT v."Id", p.name, 'Observation', 'Patient', 'p' || CAST({Num("o")} % {Patients} AS TEXT), 'Patient/p' || CAST({Num("o")} % {Patients} AS TEXT)
              {Rows("Observation", "o", "patient", "subject")}
            UNION ALL SELECT v."Id", p.name, 'Encounter', 'Patient', 'p' || CAST({Num("e")} % {Patients} AS TEXT), 'Patient/p' || CAST({Num("e")} % {Patients} AS TEXT)
              {Rows("Encounter", "e", "patient", "subject")}
            UNION ALL SELECT v."Id", p.name, 'Encounter', 'Practitioner', 'pr' || CAST({Num("e")} % {Practitioners} AS TEXT), 'Practitioner/pr' || CAST({Num("e")} % {Practitioners} AS TEXT)
              {Rows("Encounter", "e", "practitioner", "participant")}
            """,
            $"""
            INSERT INTO "DateIndex" ("ResourceRowId", "Param", "Start", "End")
            SELECT v."Id", 'date', {Day0} + ({Num("o")} / {Patients}) * {Day}, {Day0} + ({Num("o")} / {Patients} + 1) * {Day} - 1 {Rows("Observation", "o")}
            UNION ALL SELECT v."Id", 'date', {Day0} + ({Num("e")} / {Patients}) * {Day}, {Day0} + ({Num("e")} / {Patients} + 1) * {Day} - 1 {Rows("Encounter", "e")}
            """,
        ];
        foreach (var statement in sql) await db.Database.ExecuteSqlRawAsync(statement);
    }

    private protected sealed class Factory(DbContextOptions<FhirDbContext> options) : IDbContextFactory<FhirDbContext>
    {
        public FhirDbContext CreateDbContext() => new(options);
    }

    /// <summary>Explains every query the store sends while <see cref="On"/>, on the same connection with the same parameters.</summary>
    private protected sealed class PlanCapture(SqlDialect dialect) : DbCommandInterceptor
    {
        public bool On { get; set; }
        public List<(string Sql, string Plan)> Plans { get; } = [];

        public override async ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(DbCommand command, CommandEventData eventData,
            InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
        {
            if (On) Plans.Add((command.CommandText, await Explain(command, cancellationToken)));
            return result;
        }

        public override InterceptionResult<DbDataReader> ReaderExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result)
        {
            if (On) Plans.Add((command.CommandText, Explain(command, default).GetAwaiter().GetResult()));
            return result;
        }

        private async Task<string> Explain(DbCommand command, CancellationToken ct)
        {
            await using var explain = command.Connection!.CreateCommand();
            explain.Transaction = command.Transaction;
            explain.CommandText = (dialect == SqlDialect.Postgres ? "EXPLAIN (ANALYZE, FORMAT JSON) " : "EXPLAIN QUERY PLAN ") + command.CommandText;
            foreach (DbParameter p in command.Parameters)
                explain.Parameters.Add(p is ICloneable c ? c.Clone() : Copy(explain, p));
            var lines = new List<string>();
            await using var reader = await explain.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) lines.Add(dialect == SqlDialect.Postgres ? reader.GetString(0) : reader.GetString(3));
            return string.Join("\n", lines);
        }

        private static DbParameter Copy(DbCommand command, DbParameter p)
        {
            var copy = command.CreateParameter();
            (copy.ParameterName, copy.Value, copy.DbType, copy.Size) = (p.ParameterName, p.Value, p.DbType, p.Size);
            return copy;
        }
    }
}

public sealed class SqliteSearchPlanTests : SearchPlanTestsBase, IDisposable
{
    private readonly List<string> _files = [];
    protected override SqlDialect Dialect => SqlDialect.Sqlite;

    protected override DbContextOptionsBuilder<FhirDbContext> NewDatabase()
    {
        var file = Path.Combine(Path.GetTempPath(), $"fhirarchive-plan-{Guid.NewGuid():N}.db");
        _files.Add(file);
        return new DbContextOptionsBuilder<FhirDbContext>().UseSqlite($"Data Source={file}").UseSchema();
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var f in _files) File.Delete(f);
    }
}

public sealed class PostgresSearchPlanTests : SearchPlanTestsBase
{
    protected override SqlDialect Dialect => SqlDialect.Postgres;

    /// <summary>
    /// A code occurs under one parameter and one system: with the dependency statistics of schema step 17 the planner
    /// estimates a code's token rows from the code alone, not as the product of three independent columns (which made
    /// it expect a tenth of them, and drive the patient+code+date search from a common code).
    /// </summary>
    [FhirFact]
    public async Task A_codes_token_rows_are_estimated_within_a_factor_of_two()
    {
        var (options, capture) = await LoadAsync();
        using var store = new ResourceStore(new Factory(options), new StorageOptions { Provider = "postgres" });
        capture.On = true;
        await store.SearchAsync(Query("Observation", One(new TokenPredicate("code", Loinc, true, "c3", true))));
        capture.On = false;
        // The total's statement reads every match once (the page's stops at its limit).
        var scans = capture.Plans.Where(p => p.Sql.StartsWith("SELECT count(*)", StringComparison.Ordinal))
            .SelectMany(p => Nodes(JsonDocument.Parse(p.Plan).RootElement[0].GetProperty("Plan")))
            .Where(n => n.TryGetProperty("Index Name", out var i) && i.GetString() == "IX_TokenIndex_Param" && n.GetProperty("Actual Loops").GetInt32() == 1).ToList();
        Assert.NotEmpty(scans);
        foreach (var n in scans)
        {
            double estimated = n.GetProperty("Plan Rows").GetDouble(), actual = n.GetProperty("Actual Rows").GetDouble();
            Assert.InRange(estimated / actual, 0.5, 2.0);
        }
    }

    private static IEnumerable<JsonElement> Nodes(JsonElement node) =>
        node.TryGetProperty("Plans", out var children) ? children.EnumerateArray().SelectMany(Nodes).Prepend(node) : [node];

    protected override DbContextOptionsBuilder<FhirDbContext> NewDatabase() =>
        new DbContextOptionsBuilder<FhirDbContext>().UseNpgsql(PostgresCluster.CreateDatabase()).UseSchema();
}

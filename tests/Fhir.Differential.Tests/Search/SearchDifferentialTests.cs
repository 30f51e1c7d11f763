using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Xunit;
using Xunit.Abstractions;

namespace FhirArchive.Differential.Tests.Search;

/// <summary>
/// The server's search against an independent in-memory oracle (<see cref="SearchOracle"/>) on the Synthea data set,
/// on SQLite and on PostgreSQL: 200 searches generated from a fixed seed (SEARCH_DIFF_SEED to try another,
/// SEARCH_DIFF_COUNT for more), each
/// compared by its matched ids (and their order under _sort, across pages), its included ids and its total. A
/// failure prints the seed and the URL of every search that differs, with the ids on each side.
/// </summary>
public abstract class SearchDifferentialTestsBase<TFixture>(TFixture fx, ITestOutputHelper output) where TFixture : SyntheaServerFixture
{
    public const int DefaultSeed = 20261207;
    /// <summary>200 searches; SEARCH_DIFF_COUNT asks for more (exploring with several seeds).</summary>
    private static int Searches => int.TryParse(Environment.GetEnvironmentVariable("SEARCH_DIFF_COUNT"), out var n) ? n : 200;

    private static int Seed => int.TryParse(Environment.GetEnvironmentVariable("SEARCH_DIFF_SEED"), out var s) ? s : DefaultSeed;

    /// <summary>The server's answer followed through its next links: matches in order, included ids, the first page's total.</summary>
    private sealed record Answer(List<string> Matches, HashSet<string> Included, int? Total, string? Error);

    private async Task<Answer> AskAsync(string url)
    {
        var (matches, included) = (new List<string>(), new HashSet<string>(StringComparer.Ordinal));
        int? total = null;
        var first = true;
        for (var next = url; next is not null; first = false)
        {
            // Strict handling: a parameter the server does not apply is a 400, never a silently wider answer.
            var r = await fx.Client.SendAsync(HttpMethod.Get, next, null, ("Prefer", "handling=strict"));
            var body = await r.Content.ReadAsStringAsync();
            if ((int)r.StatusCode != 200) return new Answer(matches, included, total, $"{(int)r.StatusCode} {body[..Math.Min(400, body.Length)]}");
            var bundle = JsonDocument.Parse(body).RootElement;
            if (first && bundle.TryGetProperty("total", out var t)) total = t.GetInt32();
            foreach (var e in bundle.TryGetProperty("entry", out var entries) ? entries.EnumerateArray() : default)
            {
                if (!e.TryGetProperty("resource", out var resource) || !resource.TryGetProperty("id", out _))
                    return new Answer(matches, included, total, "an entry without a resource id: " + e.GetRawText()[..Math.Min(400, e.GetRawText().Length)]);
                var key = resource.GetProperty("resourceType").GetString() + "/" + resource.GetProperty("id").GetString();
                var mode = e.TryGetProperty("search", out var search) && search.TryGetProperty("mode", out var m) ? m.GetString() : null;
                if (mode == "match") matches.Add(key);
                else if (mode == "include") included.Add(key);
                else return new Answer(matches, included, total, $"an entry {key} with search.mode {mode ?? "(none)"}: {e.GetRawText()[..Math.Min(400, e.GetRawText().Length)]}");
            }
            next = LoadedData.NextLink(bundle);
            if (matches.Count > 5000) return new Answer(matches, included, total, "more than 5,000 matches: the paging does not end");
        }
        return new Answer(matches, included, total, null);
    }

    [SyntheaFact]
    public async Task Random_searches_answer_what_the_oracle_computes()
    {
        var data = await fx.DataAsync();
        var oracle = new SearchOracle(data.StoredJson);
        var cases = new SearchGenerator(oracle, Seed).Generate(Searches);
        output.WriteLine($"{data.StoredJson.Count} resources loaded in {data.LoadTime.TotalSeconds:F1} s; seed {Seed}; {cases.Count} searches");
        await CompareAsync(oracle, cases, Seed);
    }

    /// <summary>
    /// Each date prefix (eq, ne, gt, lt, ge, le, sa, eb, ap) against dateTime and instant values at full precision
    /// (seconds with a zone, milliseconds, the same instant in UTC and +08:00): 8 searches per prefix.
    /// </summary>
    [SyntheaFact]
    public async Task Full_precision_dates_with_every_prefix_answer_what_the_oracle_computes()
    {
        var data = await fx.DataAsync();
        var oracle = new SearchOracle(data.StoredJson);
        await CompareAsync(oracle, new SearchGenerator(oracle, Seed).FullPrecisionDates(perPrefix: 8), Seed);
    }

    /// <summary>Asks the server each search and compares its answer with the oracle's; fails listing every difference.</summary>
    private async Task CompareAsync(SearchOracle oracle, List<SearchCase> cases, int seed)
    {
        var sw = Stopwatch.StartNew();
        var failures = new List<string>();
        var nonEmpty = 0;
        foreach (var c in cases)
        {
            var answer = await AskAsync(c.Url);
            List<OracleResource> expected;
            try
            {
                expected = oracle.Match(c.Type, c.Criteria);
            }
            catch (Exception e) when (e is NotSupportedException or FormatException or InvalidOperationException)
            {
                failures.Add($"seed {seed} #{c.Index} [{c.Kind}] GET {c.Url}\n  the oracle cannot answer it: {e.Message}");
                continue;
            }
            if (expected.Count > 0) nonEmpty++;
            if (Compare(oracle, c, expected, answer) is { } problem)
                failures.Add($"seed {seed} #{c.Index} [{c.Kind}] GET {c.Url}\n{problem}");
        }
        output.WriteLine($"compared in {sw.Elapsed.TotalSeconds:F1} s; {nonEmpty} of {cases.Count} searches match something; " +
                         string.Join(", ", cases.GroupBy(c => c.Kind).Select(g => $"{g.Key} {g.Count()}")));
        foreach (var f in failures) output.WriteLine(f + "\n");
        Assert.True(failures.Count == 0, $"{failures.Count} of {cases.Count} searches differ from the oracle:\n\n" + string.Join("\n\n", failures.Take(15)));
        Assert.True(nonEmpty * 2 > cases.Count, $"only {nonEmpty} of {cases.Count} searches match something: the generator no longer draws from the data");
    }

    /// <summary>What differs between the oracle's answer and the server's, or null.</summary>
    private static string? Compare(SearchOracle oracle, SearchCase c, List<OracleResource> expected, Answer answer)
    {
        if (answer.Error is not null) return "  server: " + answer.Error;
        var sb = new StringBuilder();
        var want = expected.Select(r => r.Key).ToHashSet(StringComparer.Ordinal);
        var got = answer.Matches.ToHashSet(StringComparer.Ordinal);
        if (got.Count != answer.Matches.Count) sb.AppendLine($"  a resource is given twice across the pages ({answer.Matches.Count} entries, {got.Count} distinct)");
        Diff(sb, "matches", oracle, want, got);
        if (c.Sort is not null && want.SetEquals(got) && OrderProblem(oracle, c.Sort, answer.Matches) is { } order) sb.AppendLine("  " + order);
        if (c.Include is not null || c.RevInclude is not null) Diff(sb, "included", oracle, Included(oracle, c, expected), answer.Included.Except(got).ToHashSet());
        if (c.Total && answer.Total != expected.Count) sb.AppendLine($"  total: expected {expected.Count}, got {answer.Total?.ToString() ?? "none"}");
        return sb.Length == 0 ? null : sb.ToString().TrimEnd();
    }

    private static void Diff(StringBuilder sb, string what, SearchOracle oracle, HashSet<string> want, HashSet<string> got)
    {
        if (want.SetEquals(got)) return;
        string Show(IEnumerable<string> keys) => string.Join(", ", keys.Order(StringComparer.Ordinal).Take(5)) + (keys.Count() > 5 ? ", …" : "");
        sb.AppendLine($"  {what}: expected {want.Count}, got {got.Count}");
        if (want.Except(got).ToList() is { Count: > 0 } missing) sb.AppendLine($"    missing ({missing.Count}): {Show(missing)}");
        if (got.Except(want).ToList() is { Count: > 0 } extra) sb.AppendLine($"    unexpected ({extra.Count}): {Show(extra)}");
    }

    /// <summary>What _include/_revinclude should add: the resources the matches refer to (or that refer to them), the matches left out.</summary>
    private static HashSet<string> Included(SearchOracle oracle, SearchCase c, List<OracleResource> matches)
    {
        var result = new HashSet<string>(StringComparer.Ordinal);
        if (c.Include is { } inc)
        {
            var parts = inc.Split(':');
            foreach (var m in matches)
                foreach (var key in oracle.ReferencedKeys(m, parts[1]))
                    if ((parts.Length < 3 || key.StartsWith(parts[2] + "/", StringComparison.Ordinal)) && oracle.Get(key) is not null) result.Add(key);
        }
        if (c.RevInclude is { } rev)
        {
            var parts = rev.Split(':');
            var keys = matches.Select(m => m.Key).ToHashSet(StringComparer.Ordinal);
            foreach (var r in oracle.All(parts[0]))
                if (oracle.ReferencedKeys(r, parts[1]).Any(keys.Contains)) result.Add(r.Key);
        }
        result.ExceptWith(matches.Select(m => m.Key));
        return result;
    }

    /// <summary>
    /// The server's order must follow the sort keys (ties in any order; resources without a value last). Returns the
    /// first pair out of order, or null.
    /// </summary>
    private static string? OrderProblem(SearchOracle oracle, string sort, List<string> order)
    {
        var keys = sort.Split(',').Select(k => (Param: k.TrimStart('-'), Desc: k.StartsWith('-'))).ToList();
        var tuples = order.Select(key => keys.Select(k => oracle.SortKey(oracle.Get(key)!, k.Param, k.Desc)).ToList()).ToList();
        for (var i = 1; i < tuples.Count; i++)
        {
            for (var k = 0; k < keys.Count; k++)
            {
                var (a, b) = (tuples[i - 1][k], tuples[i][k]);
                var cmp = a is null ? (b is null ? 0 : 1) : b is null ? -1 : keys[k].Desc ? b.CompareTo(a) : a.CompareTo(b);
                if (cmp < 0) break;
                if (cmp > 0) return $"order: {order[i - 1]} ({string.Join(", ", tuples[i - 1])}) comes before {order[i]} ({string.Join(", ", tuples[i])}) under _sort={sort}";
            }
        }
        return null;
    }
}

public sealed class SqliteSearchDifferentialTests(SyntheaServerFixture fx, ITestOutputHelper output)
    : SearchDifferentialTestsBase<SyntheaServerFixture>(fx, output), IClassFixture<SyntheaServerFixture>;

public sealed class PostgresSearchDifferentialTests(PostgresSyntheaServerFixture fx, ITestOutputHelper output)
    : SearchDifferentialTestsBase<PostgresSyntheaServerFixture>(fx, output), IClassFixture<PostgresSyntheaServerFixture>;

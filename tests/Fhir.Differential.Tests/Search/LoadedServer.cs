using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;

namespace FhirArchive.Differential.Tests.Search;

/// <summary>
/// A server holding the Synthea data set, loaded once through transactions, and the resources as the server stored
/// them (ids assigned, references rewritten, meta stamped), read back page by page: what the oracle searches.
/// </summary>
public sealed class LoadedData
{
    public required IReadOnlyList<string> StoredJson { get; init; }
    public required TimeSpan LoadTime { get; init; }

    public static async Task<LoadedData> LoadAsync(HttpClient client)
    {
        var sw = Stopwatch.StartNew();
        var types = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (name, json) in SyntheaData.Bundles())
        {
            var r = await client.PostAsync("/", Http.Body(json));
            var body = await r.Content.ReadAsStringAsync();
            if (!r.IsSuccessStatusCode) throw new InvalidOperationException($"loading {name}: {(int)r.StatusCode} {body[..Math.Min(body.Length, 2000)]}");
            foreach (var e in JsonDocument.Parse(body).RootElement.GetProperty("entry").EnumerateArray())
                if (e.GetProperty("response").TryGetProperty("location", out var loc)) types.Add(loc.GetString()!.Split('/')[0]);
        }
        var stored = new List<string>();
        foreach (var type in types)
        {
            for (var url = $"/{type}?_count=500"; url is not null;)
            {
                var page = JsonDocument.Parse(await (await client.GetAsync(url)).Content.ReadAsStringAsync()).RootElement;
                if (page.TryGetProperty("entry", out var entries))
                    stored.AddRange(entries.EnumerateArray().Select(e => e.GetProperty("resource").GetRawText()));
                url = NextLink(page);
            }
        }
        return new LoadedData { StoredJson = stored, LoadTime = sw.Elapsed };
    }

    /// <summary>The searchset's next link, or null.</summary>
    public static string? NextLink(JsonElement bundle) =>
        bundle.TryGetProperty("link", out var links)
            ? links.EnumerateArray().Where(l => l.GetProperty("relation").GetString() == "next").Select(l => l.GetProperty("url").GetString()).FirstOrDefault()
            : null;
}

/// <summary>A server on SQLite with the Synthea data set (loaded on first use).</summary>
public class SyntheaServerFixture : ServerFixtureWith
{
    private readonly Lazy<Task<LoadedData>> _data;

    public SyntheaServerFixture() : this(null) { }

    protected SyntheaServerFixture(IDictionary<string, string>? settings) : base(settings, null) =>
        _data = new(() => LoadedData.LoadAsync(Client));

    public Task<LoadedData> DataAsync() => _data.Value;
}

/// <summary>The same on a fresh PostgreSQL database.</summary>
public sealed class PostgresSyntheaServerFixture() : SyntheaServerFixture(PostgresCluster.Settings())
{
    public override void Dispose()
    {
        base.Dispose();
        Npgsql.NpgsqlConnection.ClearAllPools();
    }
}

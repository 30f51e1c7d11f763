using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using FhirArchive.Profiles;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;
using FhirArchive.Storage.Indexing;
using FhirArchive.Storage.Search;

namespace FhirArchive.Rest.ConformanceResources;

/// <summary>
/// Brings the package's own SearchParameters into effect on what was stored before them (or before their definition
/// changed): once per definition — a claim in the store's unique-key table, committed with the new rows, so an
/// interrupted run is simply done again — the current version of every resource of the parameter's base types gets
/// its index rows rebuilt from its stored JSON. No version is added. Run at start-up, after the schema.
/// </summary>
public static class SearchParameterIndexer
{
    public const string KeyScope = "search-parameter-indexed";
    private const int PageSize = 500;

    /// <summary>The number of resources reindexed (0 when every definition was in effect already).</summary>
    public static async Task<int> RunAsync(IServiceProvider services, CancellationToken ct = default)
    {
        var store = services.GetRequiredService<IResourceStore>();
        var extractor = services.GetRequiredService<IndexExtractor>();
        var run = Guid.NewGuid().ToString("N");
        await using var s = await store.BeginWriteAsync(ct);
        var types = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var json in CnSearchParameters.All)
        {
            var definition = JsonDocument.Parse(json).RootElement;
            var key = definition.GetProperty("url").GetString() + "|" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(json)))[..16];
            if (await s.ClaimUniqueAsync(KeyScope, key, run, ct) != run) continue;
            foreach (var type in definition.GetProperty("base").EnumerateArray()) types.Add(type.GetString()!);
        }
        var count = 0;
        foreach (var type in types)
        {
            long? after = null;
            while (true)
            {
                var query = new SearchQuery { ResourceType = type, Count = PageSize, IncludeTotal = false, AfterRowId = after };
                var page = (await s.SearchAsync(query, ct)).Matches;
                await s.ReindexAsync(page.Where(r => r.Json is not null).Select(r => (r.RowId, extractor.Extract(FhirFormats.ParseStored(r.Json!)))).ToList(), ct);
                count += page.Count;
                if (page.Count < PageSize) break;
                after = page[^1].RowId;
            }
        }
        await s.CommitAsync(ct);
        return count;
    }
}

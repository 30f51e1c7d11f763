namespace FhirArchive.Differential.Tests.Search;

/// <summary>
/// One generated search: its criteria (name[:modifier] and value, as the URL carries them) and what shapes the
/// answer (_sort with _count paging, _include, _revinclude, _total).
/// </summary>
public sealed record SearchCase(int Index, string Kind, string Type, IReadOnlyList<(string Name, string Value)> Criteria)
{
    public string? Sort { get; init; }
    public int Count { get; init; } = 200;
    public string? Include { get; init; }
    public string? RevInclude { get; init; }
    public bool Total { get; init; }

    public string Url
    {
        get
        {
            var q = Criteria.Select(c => c.Name + "=" + Uri.EscapeDataString(c.Value)).ToList();
            if (Sort is not null) q.Add("_sort=" + Sort);
            if (Include is not null) q.Add("_include=" + Include);
            if (RevInclude is not null) q.Add("_revinclude=" + RevInclude);
            if (Total) q.Add("_total=accurate");
            q.Add("_count=" + Count);
            return $"/{Type}?{string.Join('&', q)}";
        }
    }
}

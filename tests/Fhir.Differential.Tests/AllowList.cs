namespace FhirArchive.Differential.Tests;

/// <summary>
/// The committed list of known differences (fhirpath-differences.allow.tsv): part, key (suite test name,
/// SearchParameter id or invariant key@context), class, reason citing the spec. A test fails on a difference
/// not listed and on a listed one that no longer occurs.
/// </summary>
public sealed class AllowList
{
    public sealed record Entry(string Part, string Key, string Class, string Reason);

    public IReadOnlyList<Entry> Entries { get; }

    private AllowList(IReadOnlyList<Entry> entries) => Entries = entries;

    public static AllowList Load(string file)
    {
        var entries = new List<Entry>();
        foreach (var line in File.ReadLines(Path.Combine(AppContext.BaseDirectory, file)))
        {
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var f = line.Split('\t');
            if (f.Length != 4 || f.Any(string.IsNullOrWhiteSpace)) throw new FormatException($"{file}: bad line '{line}'");
            entries.Add(new Entry(f[0], f[1], f[2], f[3]));
        }
        return new AllowList(entries);
    }

    public IReadOnlyDictionary<string, Entry> For(string part) =>
        Entries.Where(e => e.Part == part).ToDictionary(e => e.Key, StringComparer.Ordinal);
}

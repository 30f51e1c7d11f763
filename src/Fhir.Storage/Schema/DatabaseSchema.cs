using Microsoft.EntityFrameworkCore;

namespace FhirArchive.Storage.Schema;

/// <summary>
/// What one <see cref="FhirDbContext"/> maps and migrates: the resource store's own tables and steps, and those of
/// the registered <see cref="SchemaPart"/>s. The steps run in version order, whichever part they come from, so a
/// database upgrades the same way whether its tables are declared in one place or many.
/// </summary>
public sealed class DatabaseSchema
{
    /// <summary>The resource store's tables alone (a context built without <see cref="SchemaOptions.UseSchema"/>).</summary>
    public static DatabaseSchema StoreOnly { get; } = new([]);

    public DatabaseSchema(IEnumerable<SchemaPart> parts)
    {
        // Sorted, so the model and its cache key do not depend on the order the modules were registered in.
        Parts = parts.Distinct().OrderBy(p => p.Name, StringComparer.Ordinal).ToList();
        if (Parts.GroupBy(p => p.Name).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new InvalidOperationException($"Two schema parts are named '{twice.Key}'.");
        Migrations = Schema.Migrations.All.Concat(Parts.SelectMany(p => p.Migrations)).OrderBy(m => m.Version).ToList();
        for (var i = 1; i < Migrations.Count; i++)
            if (Migrations[i].Version == Migrations[i - 1].Version)
                throw new InvalidOperationException($"Schema version {Migrations[i].Version} is taken twice: '{Migrations[i - 1].Description}' and '{Migrations[i].Description}'.");
        Key = string.Join(",", Parts.Select(p => p.Name));
    }

    public IReadOnlyList<SchemaPart> Parts { get; }

    /// <summary>Every step, the store's and the parts', in version order.</summary>
    public IReadOnlyList<Migration> Migrations { get; }

    public IReadOnlyList<int> Versions => Migrations.Select(m => m.Version).ToList();

    public int LatestVersion => Migrations[^1].Version;

    /// <summary>The parts' names: contexts with the same key have the same model.</summary>
    public string Key { get; }

    internal void Map(ModelBuilder model)
    {
        foreach (var part in Parts) part.Map(model);
    }
}

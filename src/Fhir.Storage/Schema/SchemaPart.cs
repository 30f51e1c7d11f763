using Microsoft.EntityFrameworkCore;

namespace FhirArchive.Storage.Schema;

/// <summary>
/// What a project or module adds to the one database: the EF mapping of its tables and the hand-written steps that
/// create and change them. Version numbers are global (one SchemaVersion table for every part): a released step keeps
/// its number, a new step takes the next number free in the whole schema, whichever part it belongs to.
/// Registered with <see cref="StorageServiceCollectionExtensions.AddSchemaPart"/>.
/// </summary>
/// <param name="Name">Unique among the parts; it keys EF Core's model cache (see <see cref="DatabaseSchema.Key"/>).</param>
public sealed record SchemaPart(string Name, IReadOnlyList<Migration> Migrations, Action<ModelBuilder> Map);

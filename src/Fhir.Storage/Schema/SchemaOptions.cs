using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace FhirArchive.Storage.Schema;

public static class SchemaOptions
{
    /// <summary>The context maps and migrates these parts besides the resource store's own tables.</summary>
    public static TBuilder UseSchema<TBuilder>(this TBuilder options, params IEnumerable<SchemaPart> parts) where TBuilder : DbContextOptionsBuilder
    {
        // In the options, not the constructor: a pooled context takes nothing but its options.
        ((IDbContextOptionsBuilderInfrastructure)options).AddOrUpdateExtension(new SchemaExtension(new DatabaseSchema(parts)));
        options.ReplaceService<IModelCacheKeyFactory, SchemaModelCacheKeyFactory>();
        return options;
    }
}

/// <summary>Carries the <see cref="DatabaseSchema"/> to <see cref="FhirDbContext"/>.</summary>
internal sealed class SchemaExtension(DatabaseSchema schema) : IDbContextOptionsExtension
{
    public DatabaseSchema Schema => schema;

    public DbContextOptionsExtensionInfo Info => field ??= new ExtensionInfo(this);

    public void ApplyServices(IServiceCollection services) { }

    public void Validate(IDbContextOptions options) { }

    // One EF service provider whatever the parts (none of EF's services depend on them); the model cache key
    // tells the models apart.
    private sealed class ExtensionInfo(SchemaExtension extension) : DbContextOptionsExtensionInfo(extension)
    {
        public override bool IsDatabaseProvider => false;
        public override string LogFragment => "";
        public override int GetServiceProviderHashCode() => 0;
        public override bool ShouldUseSameServiceProvider(DbContextOptionsExtensionInfo other) => other is ExtensionInfo;
        public override void PopulateDebugInfo(IDictionary<string, string> debugInfo) =>
            debugInfo["FhirArchive:Schema"] = extension.Schema.Key;
    }
}

/// <summary>
/// EF Core builds a model once per cache key, by default once per context type. One process may hold contexts of
/// this type with different parts (the tests build full hosts and storage-only providers side by side), so the key
/// names the parts too; otherwise whichever model was built first would serve them all.
/// </summary>
internal sealed class SchemaModelCacheKeyFactory : IModelCacheKeyFactory
{
    public object Create(DbContext context, bool designTime) =>
        context is FhirDbContext fhir ? (context.GetType(), fhir.Schema.Key, designTime) : (context.GetType(), designTime);
}

using FhirArchive.Auth.State;
using FhirArchive.Storage.Encryption;
using FhirArchive.Storage.Indexing;
using FhirArchive.Storage.Schema;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace FhirArchive.Storage;

public sealed class StorageOptions
{
    /// <summary>"sqlite" (default, embedded) or "postgres".</summary>
    public string Provider { get; set; } = "sqlite";
    /// <summary>A provider connection string; for SQLite the default is a file in <see cref="DataFolder"/>.</summary>
    public string? ConnectionString { get; set; }
    public string DataFolder { get; set; } = "data";
    /// <summary>
    /// The server's local zone for dates and times written without one (search and index alike):
    /// China Standard Time by default, so "2024-05-01" means that day in Beijing.
    /// </summary>
    public TimeSpan LocalTimeZone { get; set; } = TimeSpan.FromHours(8);
    /// <summary>Field encryption at rest with a blind index (<c>Storage:FieldEncryption</c>): off unless a key is configured.</summary>
    public FieldEncryptionOptions FieldEncryption { get; set; } = new();

    public SqlDialect Dialect => Provider.StartsWith("postgres", StringComparison.OrdinalIgnoreCase) ? SqlDialect.Postgres : SqlDialect.Sqlite;
}

public static class StorageServiceCollectionExtensions
{
    public static IServiceCollection AddFhirStorage(this IServiceCollection services, StorageOptions options)
    {
        services.AddSingleton(options);
        // Pooled: a read by id reuses a context instead of building one (and its services) per request.
        services.AddPooledDbContextFactory<FhirDbContext>((sp, o) =>
        {
            if (options.Dialect == SqlDialect.Postgres)
                o.UseNpgsql(options.ConnectionString ?? throw new InvalidOperationException("PostgreSQL needs a connection string."));
            else
            {
                var cs = options.ConnectionString;
                if (cs is null)
                {
                    Directory.CreateDirectory(options.DataFolder);
                    cs = $"Data Source={Path.Combine(options.DataFolder, "fhirarchive.db")}";
                }
                o.UseSqlite(cs);
            }
            o.UseQueryTrackingBehavior(QueryTrackingBehavior.NoTracking);
            o.UseSchema(sp.GetServices<SchemaPart>());
        });
        services.TryAddSingleton(SearchParameterRegistry.R4);
        // Interim: replaced by the FHIRPath engine's adapter when it lands (register another ISearchExpressionEvaluator first).
        services.TryAddSingleton<ISearchExpressionEvaluator, FhirPathSearchEvaluator>();
        services.AddSingleton(sp => options.FieldEncryption.Enabled
            ? new FieldEncryption(options.FieldEncryption, sp.GetRequiredService<SearchParameterRegistry>(), sp.GetRequiredService<ISearchExpressionEvaluator>(),
                sp.GetRequiredService<IDbContextFactory<FhirDbContext>>())
            : FieldEncryption.Off);
        services.AddSingleton(sp => new IndexExtractor(
            sp.GetRequiredService<SearchParameterRegistry>(), sp.GetRequiredService<ISearchExpressionEvaluator>(), options.LocalTimeZone,
            sp.GetRequiredService<FieldEncryption>()));
        services.AddSingleton<DatabaseWriter>();
        services.AddSingleton<IResourceStore, ResourceStore>();
        services.AddSchemaPart(AuthState.AuthStateSchema.Part);
        services.AddSingleton<AuthState.AuthStateStore>();
        services.AddSingleton<IGrantState>(sp => sp.GetRequiredService<AuthState.AuthStateStore>());
        services.AddSingleton<IRevocationState>(sp => sp.GetRequiredService<AuthState.AuthStateStore>());
        services.AddSingleton<ILoginState>(sp => sp.GetRequiredService<AuthState.AuthStateStore>());
        return services;
    }

    /// <summary>Adds a project's or module's tables to the database: its mapping and its migrations.</summary>
    public static IServiceCollection AddSchemaPart(this IServiceCollection services, SchemaPart part)
    {
        if (!services.Any(d => d.ServiceType == typeof(SchemaPart) && ReferenceEquals(d.ImplementationInstance, part))) services.AddSingleton(part);
        return services;
    }
}

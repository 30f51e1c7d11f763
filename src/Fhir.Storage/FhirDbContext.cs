using FhirArchive.Storage.Schema;
using Microsoft.EntityFrameworkCore;

namespace FhirArchive.Storage;

/// <summary>
/// The EF Core model. The schema itself is created by <see cref="SchemaMigrator"/> from hand-written, versioned DDL
/// (the EF design-time tooling is not available); table and column names here must match it. The resource store's
/// tables are mapped here; other projects and modules bring theirs as a <see cref="SchemaPart"/> (see <see cref="Schema"/>).
/// </summary>
public sealed class FhirDbContext(DbContextOptions<FhirDbContext> options) : DbContext(options)
{
    /// <summary>The tables this context maps and migrates: the store's, and the parts given to <see cref="SchemaOptions.UseSchema"/>.</summary>
    public DatabaseSchema Schema { get; } = options.FindExtension<SchemaExtension>()?.Schema ?? DatabaseSchema.StoreOnly;

    public DbSet<ResourceVersionRow> Resources => Set<ResourceVersionRow>();
    public DbSet<TokenIndexRow> Tokens => Set<TokenIndexRow>();
    public DbSet<StringIndexRow> Strings => Set<StringIndexRow>();
    public DbSet<DateIndexRow> Dates => Set<DateIndexRow>();
    public DbSet<NumberIndexRow> Numbers => Set<NumberIndexRow>();
    public DbSet<QuantityIndexRow> Quantities => Set<QuantityIndexRow>();
    public DbSet<ReferenceIndexRow> References => Set<ReferenceIndexRow>();
    public DbSet<UriIndexRow> Uris => Set<UriIndexRow>();
    public DbSet<SchemaVersionRow> SchemaVersions => Set<SchemaVersionRow>();

    protected override void OnModelCreating(ModelBuilder b)
    {
        b.Entity<ResourceVersionRow>(e =>
        {
            e.ToTable("ResourceVersion");
            e.HasKey(x => x.Id);
            e.HasIndex(x => new { x.ResourceType, x.ResourceId, x.Version }).IsUnique();
        });
        b.Entity<TokenIndexRow>().ToTable("TokenIndex").HasKey(x => x.Id);
        b.Entity<StringIndexRow>().ToTable("StringIndex").HasKey(x => x.Id);
        b.Entity<DateIndexRow>().ToTable("DateIndex").HasKey(x => x.Id);
        b.Entity<NumberIndexRow>().ToTable("NumberIndex").HasKey(x => x.Id);
        b.Entity<QuantityIndexRow>().ToTable("QuantityIndex").HasKey(x => x.Id);
        b.Entity<ReferenceIndexRow>().ToTable("ReferenceIndex").HasKey(x => x.Id);
        b.Entity<UriIndexRow>().ToTable("UriIndex").HasKey(x => x.Id);
        b.Entity<Encryption.DataKeyRow>(e =>
        {
            e.ToTable("DataKey");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).ValueGeneratedNever();
        });
        b.Entity<SchemaVersionRow>(e =>
        {
            e.ToTable("SchemaVersion");
            e.HasKey(x => x.Version);
            e.Property(x => x.Version).ValueGeneratedNever();
        });
        Schema.Map(b);
    }
}

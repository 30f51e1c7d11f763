using Microsoft.EntityFrameworkCore;

namespace FhirArchive.Storage;

/// <summary>
/// The EF Core model. The schema itself is created by <see cref="Schema.SchemaMigrator"/> from hand-written,
/// versioned DDL (the EF design-time tooling is not available); table and column names here must match it.
/// </summary>
public sealed class FhirDbContext(DbContextOptions<FhirDbContext> options) : DbContext(options)
{
    public DbSet<ResourceVersionRow> Resources => Set<ResourceVersionRow>();
    public DbSet<TokenIndexRow> Tokens => Set<TokenIndexRow>();
    public DbSet<StringIndexRow> Strings => Set<StringIndexRow>();
    public DbSet<DateIndexRow> Dates => Set<DateIndexRow>();
    public DbSet<NumberIndexRow> Numbers => Set<NumberIndexRow>();
    public DbSet<QuantityIndexRow> Quantities => Set<QuantityIndexRow>();
    public DbSet<ReferenceIndexRow> References => Set<ReferenceIndexRow>();
    public DbSet<UriIndexRow> Uris => Set<UriIndexRow>();
    public DbSet<SchemaVersionRow> SchemaVersions => Set<SchemaVersionRow>();
    public DbSet<Audit.AuditRecordRow> AuditRecords => Set<Audit.AuditRecordRow>();
    public DbSet<Audit.AuditKeyRow> AuditKeys => Set<Audit.AuditKeyRow>();
    public DbSet<Audit.AuditBlockRow> AuditBlocks => Set<Audit.AuditBlockRow>();
    public DbSet<Auth.State.AuthCodeRow> AuthCodes => Set<Auth.State.AuthCodeRow>();
    public DbSet<Auth.State.RefreshTokenRow> RefreshTokens => Set<Auth.State.RefreshTokenRow>();
    public DbSet<Auth.State.RevokedTokenRow> RevokedTokens => Set<Auth.State.RevokedTokenRow>();
    public DbSet<AuthState.UsedOnceRow> UsedOnce => Set<AuthState.UsedOnceRow>();
    public DbSet<AuthState.LoginFailureRow> LoginFailures => Set<AuthState.LoginFailureRow>();
    public DbSet<AuthState.AccountStateRow> AccountStates => Set<AuthState.AccountStateRow>();
    public DbSet<Grants.AccessRequestRow> AccessRequests => Set<Grants.AccessRequestRow>();

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
        b.Entity<Audit.AuditRecordRow>(e =>
        {
            e.ToTable("AuditRecord");
            e.HasKey(x => x.Seq);
            e.Property(x => x.Seq).ValueGeneratedNever();
            e.Ignore(x => x.Id);
        });
        b.Entity<Audit.AuditBlockRow>(e =>
        {
            e.ToTable("AuditBlock");
            e.HasKey(x => x.First);
            e.Property(x => x.First).ValueGeneratedNever();
        });
        b.Entity<Audit.AuditKeyRow>(e =>
        {
            e.ToTable("AuditKey");
            e.HasKey(x => new { x.Key, x.Bucket });
        });
        // The authorisation server's grant state (migration 7).
        b.Entity<Auth.State.AuthCodeRow>().ToTable("AuthCode").HasKey(x => x.Hash);
        b.Entity<Auth.State.RefreshTokenRow>().ToTable("AuthRefreshToken").HasKey(x => x.Hash);
        b.Entity<Auth.State.RevokedTokenRow>().ToTable("AuthRevokedToken").HasKey(x => x.TokenId);
        b.Entity<AuthState.UsedOnceRow>().ToTable("AuthUsedOnce").HasKey(x => x.Key);
        b.Entity<AuthState.LoginFailureRow>().ToTable("AuthLoginFailure").HasKey(x => x.Id);
        b.Entity<AuthState.AccountStateRow>().ToTable("AuthAccountState").HasKey(x => x.Username);
        b.Entity<Grants.AccessRequestRow>(e =>
        {
            e.ToTable("AccessRequest");
            e.HasKey(x => x.Id);
        });
        b.Entity<SchemaVersionRow>(e =>
        {
            e.ToTable("SchemaVersion");
            e.HasKey(x => x.Version);
            e.Property(x => x.Version).ValueGeneratedNever();
        });
    }
}

namespace FhirArchive.Tests.Support;

/// <summary>The dedicated test configuration of field encryption at rest (Storage:FieldEncryption), with a fixed test key.</summary>
public static class EncryptedStorage
{
    /// <summary>A test key-encryption key (16 bytes, hex): public, for tests only.</summary>
    public const string KeyEncryptionKey = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";

    /// <summary>These settings with field encryption on.</summary>
    public static Dictionary<string, string> Settings(IDictionary<string, string>? settings = null) =>
        new(settings ?? new Dictionary<string, string>()) { ["Storage:FieldEncryption:KeyEncryptionKey"] = KeyEncryptionKey };
}

/// <summary>A server whose storage encrypts the protected fields (SQLite).</summary>
public sealed class EncryptedServerFixture() : ServerFixtureWith(EncryptedStorage.Settings(), null);

/// <summary>A server whose storage encrypts the protected fields (PostgreSQL; skipped without the binaries).</summary>
public sealed class EncryptedPostgresServerFixture() : PostgresServerFixture(EncryptedStorage.Settings(), null);

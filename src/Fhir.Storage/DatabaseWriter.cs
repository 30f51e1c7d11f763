namespace FhirArchive.Storage;

/// <summary>
/// The database's one writer. SQLite lets a single connection write at a time, and a second writer is not queued by
/// SQLite but refused (SQLITE_BUSY) and retried by the driver after sleeps of its own; so the resource writer and the
/// audit trail take turns here instead. It also makes version numbering race-free within this process.
/// </summary>
public sealed class DatabaseWriter
{
    public SemaphoreSlim Gate { get; } = new(1, 1);
}

namespace FhirArchive.Storage.Writing;

public static class WriteSessionContext
{
    /// <summary>
    /// The session's context, for a module's own tables (its <see cref="Schema.SchemaPart"/>): what is saved through
    /// it commits or rolls back with the session, behind the same single writer.
    /// </summary>
    public static FhirDbContext DbContext(this IWriteSession session) =>
        (session as WriteSession ?? throw new ArgumentException("Not a write session of the resource store.", nameof(session))).Db;

    /// <summary>
    /// One change of a module's own rows in its own write session, behind the single writer: <paramref name="change"/>
    /// says whether to commit (false: nothing is kept, e.g. a conditional update that matched no row); tracked
    /// additions are saved before the commit.
    /// </summary>
    public static async Task<bool> WriteOwnRowsAsync(this IResourceStore store, Func<FhirDbContext, Task<bool>> change, CancellationToken ct)
    {
        await using var s = await store.BeginWriteAsync(ct);
        var db = s.DbContext();
        var commit = await change(db);
        if (commit && db.ChangeTracker.HasChanges()) await db.SaveChangesAsync(ct);
        db.ChangeTracker.Clear();
        if (commit) await s.CommitAsync(ct);
        return commit;
    }
}

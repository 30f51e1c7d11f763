namespace FhirArchive.Storage.Writing;

public static class WriteSessionContext
{
    /// <summary>
    /// The session's context, for a module's own tables (its <see cref="Schema.SchemaPart"/>): what is saved through
    /// it commits or rolls back with the session, behind the same single writer.
    /// </summary>
    public static FhirDbContext DbContext(this IWriteSession session) =>
        (session as WriteSession ?? throw new ArgumentException("Not a write session of the resource store.", nameof(session))).Db;
}

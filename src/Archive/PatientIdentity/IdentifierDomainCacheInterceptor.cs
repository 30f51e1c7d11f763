using FhirArchive.Rest.Writing;

namespace FhirArchive.Archive.PatientIdentity;

/// <summary>
/// Forgets the identifier domains' kept answers when a NamingSystem is written: once after the write and once more
/// when its write session commits (with or without an HTTP request), so a look-up made in between with the old state
/// is not kept. Other instances' writes are not seen here: their answers expire (<see cref="IdentifierDomains"/>).
/// </summary>
public sealed class IdentifierDomainCacheInterceptor(IdentifierDomains domains) : IWriteInterceptor
{
    public WriteStage Stage => WriteStage.Cache;

    public ValueTask BeforeWriteAsync(WriteContext context) => ValueTask.CompletedTask;

    public ValueTask AfterWriteAsync(WriteContext context)
    {
        if (context.ResourceType != "NamingSystem") return ValueTask.CompletedTask;
        domains.Forget();
        context.Session.OnCommitted(() =>
        {
            domains.Forget();
            return Task.CompletedTask;
        });
        return ValueTask.CompletedTask;
    }
}

using FhirArchive.Storage;

namespace FhirArchive.Server.Access;

/// <summary>Two policies in turn: the second sees what the first shows (possibly redacted); either may hide it.</summary>
public sealed class PolicyChain(IAccessPolicy first, IAccessPolicy second) : IAccessPolicy
{
    public async ValueTask OnStartAsync(AccessContext context)
    {
        await first.OnStartAsync(context);
        await second.OnStartAsync(context);
    }

    public async ValueTask<StoredResource?> ShowAsync(AccessContext context, StoredResource resource) =>
        await first.ShowAsync(context, resource) is { } shown ? await second.ShowAsync(context, shown) : null;

    public async ValueTask OnEndAsync(AccessContext context)
    {
        await second.OnEndAsync(context);
        await first.OnEndAsync(context);
    }
}

using FhirArchive.Storage;

namespace FhirArchive.Rest.Access;

/// <summary>
/// The access policies in order: each sees what the one before shows (possibly redacted); any may hide it. Started
/// in order, ended in reverse.
/// </summary>
public sealed class PolicyChain(IReadOnlyList<IAccessPolicy> policies) : IAccessPolicy
{
    public async ValueTask OnStartAsync(AccessContext context)
    {
        foreach (var p in policies) await p.OnStartAsync(context);
    }

    public async ValueTask<StoredResource?> ShowAsync(AccessContext context, StoredResource resource)
    {
        StoredResource? shown = resource;
        for (var i = 0; i < policies.Count && shown is not null; i++) shown = await policies[i].ShowAsync(context, shown);
        return shown;
    }

    public async ValueTask<StoredResource> ShapeAsync(AccessContext context, StoredResource resource)
    {
        foreach (var p in policies) resource = await p.ShapeAsync(context, resource);
        return resource;
    }

    public async ValueTask OnEndAsync(AccessContext context)
    {
        for (var i = policies.Count - 1; i >= 0; i--) await policies[i].OnEndAsync(context);
    }

    public bool MayChooseIds(Caller caller) => policies.All(p => p.MayChooseIds(caller));
    public bool MayHide(Caller caller, string? type) => policies.Any(p => p.MayHide(caller, type));
    public bool ShowsWhole(Caller caller, string type) => policies.Any(p => p.ShowsWhole(caller, type));
}

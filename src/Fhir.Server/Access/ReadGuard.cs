using FhirArchive.Storage;

namespace FhirArchive.Server.Access;

/// <summary>
/// Runs a read operation through the access policy: start, per-resource filter, end. The configured
/// <see cref="IAccessPolicy"/> is always wrapped by <see cref="ScopedAccessPolicy"/> (the token's reach).
/// </summary>
public sealed class ReadGuard(IAccessPolicy configured, PatientLinks links)
{
    private readonly IAccessPolicy policy = new ScopedAccessPolicy(configured, links);

    public async Task<T> RunAsync<T>(HttpContext http, string interaction, string? type, Func<AccessContext, Task<T>> body)
    {
        var ctx = new AccessContext(http, interaction, type);
        await policy.OnStartAsync(ctx);
        try
        {
            return await body(ctx);
        }
        finally
        {
            await policy.OnEndAsync(ctx);
        }
    }

    public async ValueTask<bool> CanShowAsync(AccessContext ctx, StoredResource r)
    {
        if (!await policy.CanShowAsync(ctx, r)) return false;
        ctx.Http.Features.Get<IAccessRecorder>()?.Shown(r);
        return true;
    }

    public async Task<List<StoredResource>> FilterAsync(AccessContext ctx, IEnumerable<StoredResource> resources)
    {
        var shown = new List<StoredResource>();
        foreach (var r in resources)
            if (await CanShowAsync(ctx, r)) shown.Add(r);
        return shown;
    }
}

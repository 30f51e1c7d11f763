using FhirArchive.Storage;

namespace FhirArchive.Server.Access;

/// <summary>Runs a read operation through the <see cref="IAccessPolicy"/>: start, per-resource filter, end.</summary>
public sealed class ReadGuard(IAccessPolicy policy)
{
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

using FhirArchive.Storage;

namespace FhirArchive.Server.Access;

/// <summary>
/// Runs a read operation through the access policies: start, per-resource filter, end. In order: the token's reach
/// (<see cref="ScopedAccessPolicy"/>), the consent rules (<see cref="Features.Consent.ConsentAccessPolicy"/>), then
/// the configured <see cref="IAccessPolicy"/> (an extension point; by default it allows everything).
/// </summary>
public sealed class ReadGuard(IAccessPolicy configured, PatientLinks links, Features.Consent.ConsentAccessPolicy consent)
{
    private readonly IAccessPolicy policy = new ScopedAccessPolicy(new PolicyChain(consent, configured), links);

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

    /// <summary>The resource as the caller may see it (possibly redacted), or null: then answer as if it did not exist.</summary>
    public async ValueTask<StoredResource?> ShowAsync(AccessContext ctx, StoredResource r)
    {
        if (await policy.ShowAsync(ctx, r) is not { } shown) return null;
        ctx.Http.Features.Get<IAccessRecorder>()?.Shown(shown);
        return shown;
    }

    /// <summary>A direct read: null when missing or hidden (answer 404); a deletion passes as it is (answer 410).</summary>
    public async ValueTask<StoredResource?> ShowOrGoneAsync(AccessContext ctx, StoredResource? r) =>
        r is null ? null : r.IsDeleted ? r : await ShowAsync(ctx, r);

    /// <summary>
    /// The resources the caller may see, for matching only (totals, chained and _has parameters): nothing is
    /// disclosed, so nothing is recorded as shown or denied.
    /// </summary>
    public async Task<IReadOnlyList<StoredResource>> VisibleAsync(AccessContext ctx, IEnumerable<StoredResource> resources)
    {
        var counting = ctx.Counting;
        ctx.Counting = true;
        try
        {
            var visible = new List<StoredResource>();
            foreach (var r in resources)
                if (await policy.ShowAsync(ctx, r) is not null) visible.Add(r);
            return visible;
        }
        finally
        {
            ctx.Counting = counting;
        }
    }

    public async Task<List<StoredResource>> FilterAsync(AccessContext ctx, IEnumerable<StoredResource> resources)
    {
        var shown = new List<StoredResource>();
        foreach (var r in resources)
            if (await ShowAsync(ctx, r) is { } s) shown.Add(s);
        return shown;
    }
}

using FhirArchive.Storage;

namespace FhirArchive.Server.Access;

/// <summary>
/// Runs a read operation through the access policies: start, per-resource filter, end. In order: the token's reach
/// (<see cref="ScopedAccessPolicy"/>), the consent rules (<see cref="Features.Consent.ConsentAccessPolicy"/>), then
/// the configured <see cref="IAccessPolicy"/> (an extension point; by default it allows everything).
/// A deletion has no content to decide on: it is decided as the last version before it, so a hidden resource's
/// deletion (a 410, a DELETE entry in history) does not reveal that it existed, and a visible one's is shown.
/// </summary>
public sealed class ReadGuard(IAccessPolicy configured, PatientLinks links, Features.Consent.ConsentAccessPolicy consent, IResourceStore store)
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
        if (await DecideAsync(ctx, r) is not { } shown) return null;
        ctx.Http.Features.Get<IAccessRecorder>()?.Shown(shown);
        return shown;
    }

    /// <summary>A direct read: null when missing or hidden (answer 404); a deletion the caller may know of passes as it is (answer 410).</summary>
    public async ValueTask<StoredResource?> ShowOrGoneAsync(AccessContext ctx, StoredResource? r) =>
        r is null ? null : r.IsDeleted ? await DecideAsync(ctx, r) : await ShowAsync(ctx, r);

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
                if (await DecideAsync(ctx, r) is not null) visible.Add(r);
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

    /// <summary>The policies' answer for one version (possibly redacted, or null); a deletion is decided as the version before it.</summary>
    private async ValueTask<StoredResource?> DecideAsync(AccessContext ctx, StoredResource r) =>
        r.IsDeleted ? (await MaySeeDeletionAsync(ctx, r) ? r : null) : await policy.ShowAsync(ctx, r);

    /// <summary>
    /// Whether the caller may see the last version before this deletion (the decision is recorded as any other, but
    /// nothing of the version is disclosed). With no earlier version the deletion's own rules decide.
    /// </summary>
    private async ValueTask<bool> MaySeeDeletionAsync(AccessContext ctx, StoredResource deletion)
    {
        for (var v = deletion.Version - 1; v >= 1; v--)
            if (await store.ReadVersionAsync(deletion.ResourceType, deletion.Id, v, ctx.Http.RequestAborted) is { IsDeleted: false } before)
                return await policy.ShowAsync(ctx, before) is not null;
        return await policy.ShowAsync(ctx, deletion) is not null;
    }
}

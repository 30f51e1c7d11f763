using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Search;
using FhirArchive.Storage;

namespace FhirArchive.Rest.Subscriptions;

/// <summary>
/// After a write commits: which active Subscriptions of its type the written resource matches. Each is asked by
/// running its criteria through the search engine with <c>_id</c> of the written resource added (one meaning of
/// "matches": a search's), as its subscriber, so chained and _has parameters match only through what the subscriber
/// may see. The matches go to the outbox; the worker sends them.
/// </summary>
public sealed class SubscriptionMatcher(SubscriptionRegistry registry, SearchParser parser, IResourceStore store, ReadGuard guard,
    NotificationOutbox outbox, NotificationSignal signal, IServiceProvider services, TimeProvider clock, ILogger<SubscriptionMatcher> log)
{
    /// <summary>Never throws: the write it follows is committed (a failure is logged; that notification is lost).</summary>
    public async Task MatchAsync(StoredResource written)
    {
        var ct = CancellationToken.None; // the client may have gone: the write stands, so do its notifications
        try
        {
            var now = clock.GetUtcNow();
            var matched = new List<string>();
            foreach (var sub in await registry.ForTypeAsync(written.ResourceType, ct))
                if ((sub.End is null || sub.End > now) && await MatchesAsync(sub, written.Id, ct)) matched.Add(sub.Id);
            if (matched.Count == 0) return;
            await outbox.AppendAsync(matched, written, ct);
            signal.Nudge();
        }
        catch (Exception e)
        {
            log.LogError(e, "Subscription matching failed for {Type}/{Id}/_history/{Version}", written.ResourceType, written.Id, written.Version);
        }
    }

    private async Task<bool> MatchesAsync(ActiveSubscription sub, string id, CancellationToken ct)
    {
        var http = SubscriberCodec.ContextOf(sub.Subscriber, services);
        try
        {
            return await guard.RunAsync(http, "search-type", sub.ResourceType, async access =>
            {
                var (query, _) = await parser.ParseAsync(sub.ResourceType, [.. sub.Parameters, new("_id", id)], strict: false, ct,
                    visible: rs => guard.VisibleAsync(access, rs));
                (query.Count, query.Offset, query.CountOnly, query.IncludeTotal) = (1, 0, false, false);
                return (await store.SearchAsync(query, ct)).Matches.Count > 0;
            });
        }
        catch (FhirException e)
        {
            // The criteria no longer run for this subscriber (a parameter gone, the type out of reach): no match.
            log.LogWarning("Subscription/{Id}: criteria not run: {Message}", sub.Id, e.Message);
            return false;
        }
    }
}

/// <summary>Wakes the worker when the outbox got rows (a bounded one-slot signal: nudges while it is busy collapse).</summary>
public sealed class NotificationSignal
{
    private readonly System.Threading.Channels.Channel<bool> _channel =
        System.Threading.Channels.Channel.CreateBounded<bool>(new System.Threading.Channels.BoundedChannelOptions(1)
            { FullMode = System.Threading.Channels.BoundedChannelFullMode.DropWrite });

    public void Nudge() => _channel.Writer.TryWrite(true);

    /// <summary>Returns when nudged or after <paramref name="timeout"/>.</summary>
    public async Task WaitAsync(TimeSpan timeout, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            await _channel.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
        }
    }
}

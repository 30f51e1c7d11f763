using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Search;
using FhirArchive.Storage;

namespace FhirArchive.Rest.Subscriptions;

/// <summary>
/// Which active Subscriptions the written versions recorded in the outbox match. Each Subscription of their type is
/// asked once per batch by running its criteria through the search engine with <c>_id</c> of the written resources
/// added (one meaning of "matches": a search's), as its subscriber, so chained and _has parameters match only
/// through what the subscriber may see. A resource is matched as it stands when the worker takes its marker —
/// normally at once; after a crash, when the next worker starts.
/// </summary>
public sealed class SubscriptionMatcher(SubscriptionRegistry registry, SearchParser parser, IResourceStore store, ReadGuard guard,
    IServiceProvider services, TimeProvider clock, ILogger<SubscriptionMatcher> log)
{
    /// <summary>For each marker, the Subscriptions its resource matches.</summary>
    public async Task<List<(NotificationRow Marker, string SubscriptionId)>> MatchAsync(IReadOnlyList<NotificationRow> markers, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var asOf = new DateTimeOffset(markers.Max(m => m.Created), TimeSpan.Zero);
        var matches = new List<(NotificationRow, string)>();
        foreach (var written in markers.GroupBy(m => m.ResourceType))
        {
            var ids = written.Select(m => m.ResourceId).Distinct().ToList();
            foreach (var sub in await registry.ForTypeAsync(written.Key, asOf, ct))
            {
                if (sub.End is { } end && end <= now) continue;
                var matched = await MatchingIdsAsync(sub, ids, ct);
                matches.AddRange(written.Where(m => matched.Contains(m.ResourceId)).Select(m => (m, sub.Id)));
            }
        }
        return matches;
    }

    private async Task<HashSet<string>> MatchingIdsAsync(ActiveSubscription sub, List<string> ids, CancellationToken ct)
    {
        var http = SubscriberCodec.ContextOf(sub.Subscriber, services);
        try
        {
            return await guard.RunAsync(http, "search-type", sub.ResourceType, async access =>
            {
                var (query, _) = await parser.ParseAsync(sub.ResourceType, [.. sub.Parameters, new("_id", string.Join(',', ids))], strict: false, ct,
                    visible: rs => guard.VisibleAsync(access, rs));
                (query.Count, query.Offset, query.CountOnly, query.IncludeTotal) = (ids.Count, 0, false, false);
                return (await store.SearchAsync(query, ct)).Matches.Select(m => m.Id).ToHashSet();
            });
        }
        catch (FhirException e)
        {
            // The criteria no longer run for this subscriber (a parameter gone, the type out of reach): no match.
            log.LogWarning("Subscription/{Id}: criteria not run: {Message}", sub.Id, e.Message);
            return [];
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

using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Search;
using FhirArchive.Storage;
using FhirArchive.Storage.Encryption;
using FhirArchive.Storage.Search;
using Microsoft.EntityFrameworkCore;

namespace FhirArchive.Rest.Subscriptions;

/// <summary>
/// Which active Subscriptions the written versions recorded in the outbox match. Each Subscription of their type is
/// asked once per batch by running its criteria through the search engine with <c>_id</c> of the written resources
/// added (one meaning of "matches": a search's), as its subscriber, so chained and _has parameters match only
/// through what the subscriber may see. A resource is matched as it stands when the worker takes its marker —
/// normally at once; after a crash, when the next worker starts.
/// Before the search, a cheap pre-filter: criteria made only of plain token values (code=system|value, status=final,
/// _tag=…) are checked against the written resources' token index rows — the rows that search would compare, with the
/// same comparisons — so a resource that cannot match costs no search, and a Subscription none of the batch can match
/// none at all. The search still decides for the rest (access, chains, every other parameter type). Under field
/// encryption the pre-filter compares the criteria as the search does, blinded (<see cref="FieldEncryption.BlindCriteria"/>):
/// the rows of protected values hold their blind index. The criteria pass through the access policies as a search's
/// parameters, so a criterion the subscriber may not search by (a partial match of masked values) matches nothing.
/// </summary>
public sealed class SubscriptionMatcher(SubscriptionRegistry registry, SearchParser parser, IResourceStore store, ReadGuard guard,
    IDbContextFactory<FhirDbContext> factory, IServiceProvider services, TimeProvider clock, ILogger<SubscriptionMatcher> log,
    FieldEncryption? encryption = null)
{
    private readonly FieldEncryption _encryption = encryption ?? FieldEncryption.Off;

    /// <summary>For each marker, the Subscriptions its resource matches.</summary>
    public async Task<List<(NotificationRow Marker, string SubscriptionId)>> MatchAsync(IReadOnlyList<NotificationRow> markers, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var asOf = new DateTimeOffset(markers.Max(m => m.Created), TimeSpan.Zero);
        var matches = new List<(NotificationRow, string)>();
        foreach (var written in markers.GroupBy(m => m.ResourceType))
        {
            var subs = (await registry.ForTypeAsync(written.Key, asOf, ct)).Where(s => s.End is not { } end || end > now).ToList();
            if (subs.Count == 0) continue;
            var tokens = await TokensAsync(written.Key, written.Select(m => m.ResourceId).Distinct().ToList(), ct);
            foreach (var sub in subs)
            {
                var matched = await MatchingIdsAsync(sub, tokens, ct);
                matches.AddRange(written.Where(m => matched.Contains(m.ResourceId)).Select(m => (m, sub.Id)));
            }
        }
        return matches;
    }

    /// <summary>The token index rows of the written resources' current versions, by id and parameter (deleted ones: none).</summary>
    private async Task<Dictionary<string, ILookup<string, TokenIndexRow>>> TokensAsync(string type, List<string> ids, CancellationToken ct)
    {
        var current = (await store.ReadManyAsync(ids.Select(id => (type, id)), ct)).Where(r => !r.IsDeleted).ToList();
        var rowIds = current.Select(r => r.RowId).ToList();
        await using var db = await factory.CreateDbContextAsync(ct);
        var rows = (await db.Tokens.Where(t => rowIds.Contains(t.ResourceRowId)).ToListAsync(ct)).ToLookup(t => t.ResourceRowId);
        return current.ToDictionary(r => r.Id, r => rows[r.RowId].ToLookup(t => t.Param));
    }

    /// <summary>
    /// Whether the criterion may hold for a resource with these token rows: false only for a criterion of plain token
    /// alternatives none of which a row satisfies, compared as the search's SQL compares (SearchQueryBuilder).
    /// </summary>
    private static bool MayHold(SearchCriterion c, ILookup<string, TokenIndexRow> tokens) =>
        !IsPlainToken(c) || c.AnyOf.Any(p => p switch
        {
            TokenPredicate t => tokens[t.Param].Any(x => (!t.MatchCode || x.Code == t.Code) && (!t.MatchSystem || x.System == t.System)),
            TokenInPredicate i => tokens[i.Param].Any(x => i.Codes.Any(code => code.System == x.System && code.Code == x.Code)),
            _ => true,
        });

    private static bool IsPlainToken(SearchCriterion c) => !c.Negated && c.AnyOf.All(p => p is TokenPredicate or TokenInPredicate);

    private async Task<HashSet<string>> MatchingIdsAsync(ActiveSubscription sub, Dictionary<string, ILookup<string, TokenIndexRow>> written, CancellationToken ct)
    {
        // Known token criteria none of the batch satisfies: no access decision, no parse, no search.
        if (sub.TokenCriteria is { } known && !written.Values.Any(w => known.All(c => MayHold(c, w)))) return [];
        var http = SubscriberCodec.ContextOf(sub.Subscriber, services);
        try
        {
            return await guard.RunAsync(http, "search-type", sub.ResourceType, async access =>
            {
                var (query, _) = await parser.ParseAsync(sub.ResourceType, sub.Parameters, strict: false, ct, visible: rs => guard.VisibleAsync(access, rs));
                // As the index holds them (blinded protected values); the search blinds the query's own criteria again.
                var criteria = _encryption.BlindCriteria(sub.ResourceType, query.Criteria);
                // Kept for the next batches: plain codes only (an :in expansion may change while the Subscription does not).
                sub.TokenCriteria ??= [.. criteria.Where(c => IsPlainToken(c) && c.AnyOf.All(p => p is TokenPredicate))];
                var candidates = written.Where(w => criteria.All(c => MayHold(c, w.Value))).Select(w => w.Key).ToList();
                if (candidates.Count == 0) return [];
                query.Criteria.Add(new SearchCriterion([new IdInPredicate(candidates)]));
                (query.Count, query.Offset, query.CountOnly, query.IncludeTotal) = (candidates.Count, 0, false, false);
                return (await store.SearchAsync(query, ct)).Matches.Select(m => m.Id).ToHashSet();
            }, sub.Parameters);
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

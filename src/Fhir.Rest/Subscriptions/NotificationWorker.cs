using System.Net.Http.Headers;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Writing;
using FhirArchive.Storage;

namespace FhirArchive.Rest.Subscriptions;

/// <summary>
/// Works the outbox in rounds: claims due rows for a lease, matches the written versions among them
/// (<see cref="SubscriptionMatcher"/>) and sends the notifications (R4 rest-hook): at most <see cref="SubscriptionOptions.MaxParallelDeliveries"/>
/// at once, each bounded by <see cref="SubscriptionOptions.Timeout"/>, so a slow or dead endpoint costs the worker a
/// slot, never a write. Without a payload: an empty POST to the endpoint; with one: the resource, as its subscriber
/// may see it, PUT to [endpoint]/[type]/[id] (R4: the endpoint is then a service base). A failure is retried after a
/// doubling delay; after <see cref="SubscriptionOptions.MaxAttempts"/> the Subscription gets status error.
/// </summary>
public sealed class NotificationWorker(NotificationOutbox outbox, NotificationSignal signal, SubscriptionMatcher matcher, SubscriptionRegistry registry,
    IResourceStore store, ReadGuard guard, WritePipeline pipeline, WebSocketHub sockets, EndpointPolicy endpoints, INotificationAudit audit, SubscriptionOptions options,
    IServiceProvider services, TimeProvider clock, ILogger<NotificationWorker> log)
    : BackgroundService
{
    private readonly HttpClient _http = new(new SocketsHttpHandler { AllowAutoRedirect = false, PooledConnectionLifetime = TimeSpan.FromMinutes(2) })
    {
        Timeout = options.Timeout,
    };

    protected override async Task ExecuteAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var full = false;
            try
            {
                full = await RoundAsync(stop);
                await HeartbeatsAsync(stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                log.LogError(e, "The subscription outbox could not be processed");
            }
            if (full) continue;
            try
            {
                await signal.WaitAsync(options.PollInterval, stop);
                // Real time, not the server clock: it batches work, it is not a business period.
                if (options.GatherDelay > TimeSpan.Zero) await Task.Delay(options.GatherDelay, stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>One round; true when it took a full batch (more may be waiting).</summary>
    private async Task<bool> RoundAsync(CancellationToken stop)
    {
        // A claim of its own per round: rows still held from an earlier round (a lease not yet run out) are not taken twice.
        var claim = Guid.NewGuid().ToString("N");
        var claimed = await outbox.ClaimAsync(options.BatchSize, claim, stop);
        var markers = claimed.Where(r => r.IsMarker).ToList();
        var due = claimed.Where(r => !r.IsMarker).ToList();
        if (markers.Count > 0) due.AddRange(await outbox.ResolveAsync(markers, await matcher.MatchAsync(markers, stop), claim, stop));
        var done = new System.Collections.Concurrent.ConcurrentBag<long>();
        // Each Subscription read and parsed once per round, however many of its notifications the round sends.
        var specs = new System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<Task<SubscriptionSpec?>>>();
        await Parallel.ForEachAsync(due, new ParallelOptions { MaxDegreeOfParallelism = options.MaxParallelDeliveries, CancellationToken = stop },
            async (row, ct) =>
            {
                if (await DeliverAsync(row, id => specs.GetOrAdd(id, _ => new(() => SpecOfAsync(id, stop))).Value, ct)) done.Add(row.Id);
            });
        await outbox.RemoveAsync([.. done], stop);
        return claimed.Count == options.BatchSize;
    }

    /// <summary>When each Subscription with a heartbeat last had something sent by this instance (or was first seen).</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, DateTimeOffset> _lastSent = new();

    /// <summary>
    /// A heartbeat for each active Subscription with a period (<see cref="SubscriptionSpec.HeartbeatExtension"/>) that
    /// had nothing sent for that long, on the server's clock: rest-hook, an empty POST to the endpoint (R4's shape of a
    /// notification without payload); websocket, "heartbeat [id]" to the sockets bound here. A failed heartbeat is only
    /// logged: it counts towards no error status.
    /// </summary>
    private async Task HeartbeatsAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var active = (await registry.AllAsync(ct)).ToList();
        foreach (var gone in _lastSent.Keys.Except(active.Select(a => a.Id)).ToList()) _lastSent.TryRemove(gone, out _);
        foreach (var sub in active)
        {
            if (sub.Heartbeat is not { } period) continue;
            var last = _lastSent.GetOrAdd(sub.Id, now);
            if (now - last < period) continue;
            _lastSent[sub.Id] = now;
            try
            {
                if (sub.Channel == SubscriptionSpec.WebSocket) await sockets.SendAsync(sub.Id, "heartbeat", ct);
                else if (await SpecOfAsync(sub.Id, ct) is { Endpoint: { } endpoint } spec && endpoints.Refusal(endpoint) is null)
                {
                    using var request = RequestFor(spec with { Payload = null }, null);
                    using var response = await _http.SendAsync(request, ct);
                }
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                log.LogInformation("Subscription/{Id}: heartbeat failed ({Error})", sub.Id, e.Message);
            }
        }
    }

    /// <summary>The Subscription as it now stands (null once deleted).</summary>
    private async Task<SubscriptionSpec?> SpecOfAsync(string id, CancellationToken ct) =>
        await store.ReadAsync(SubscriptionWriteHook.Type, id, ct) is { IsDeleted: false, Json: { } json } ? SubscriptionSpec.Read(FhirFormats.ParseStored(json)) : null;

    public override void Dispose()
    {
        _http.Dispose();
        base.Dispose();
    }

    /// <summary>Sends one notification; true when its row is done with (sent, or nothing to send).</summary>
    private async Task<bool> DeliverAsync(NotificationRow row, Func<string, Task<SubscriptionSpec?>> specOf, CancellationToken ct)
    {
        // Too little of the lease left for a whole attempt: left to run out, for whichever worker claims it next.
        if (clock.GetUtcNow().UtcTicks + options.Timeout.Ticks > row.ClaimedUntil) return false;
        // A Subscription turned off, in error, deleted or past its end since the match sends nothing more.
        var sub = await registry.FindAsync(row.SubscriptionId, ct, new DateTimeOffset(row.Created, TimeSpan.Zero));
        if (sub is null || sub.End <= clock.GetUtcNow() || await specOf(sub.Id) is not { } spec) return true;
        var version = await store.ReadVersionAsync(row.ResourceType, row.ResourceId, row.Version, ct);
        // What the subscriber may see, decided now as a read of theirs would be; hidden: nothing is sent at all.
        if (version is null || await DiscloseAsync(sub.Subscriber, version) is not { } shown) return true;
        _lastSent[sub.Id] = clock.GetUtcNow();
        if (spec.Endpoint is null)
        {
            // websocket: a ping to the sockets bound here; none bound, none to tell (R4: the client asks when it reconnects).
            if (await sockets.SendAsync(sub.Id, "ping", ct) is > 0 and var sent)
                await audit.NotifiedAsync(sub.Subscriber, sub.Id, spec.ChannelType, shown, $"{sent} websocket(s)", 200, null);
            return true;
        }
        string? failure = endpoints.Refusal(spec.Endpoint);
        if (failure is not null)
        {
            await SetErrorAsync(row.SubscriptionId, $"the endpoint is no longer allowed: {failure} / 通知地址已不在允许范围内", ct);
            return false;
        }
        var status = 0;
        try
        {
            using var request = RequestFor(spec, shown);
            using var response = await _http.SendAsync(request, ct);
            status = (int)response.StatusCode;
            failure = response.IsSuccessStatusCode ? null : $"HTTP {status}";
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            failure = e is TaskCanceledException ? $"no answer within {options.Timeout.TotalSeconds:0.#} s" : e.Message;
        }
        await audit.NotifiedAsync(sub.Subscriber, sub.Id, spec.ChannelType, shown, spec.Endpoint.ToString(), status, failure);
        if (failure is null) return true;
        var attempts = row.Attempts + 1;
        if (attempts >= options.MaxAttempts)
        {
            await SetErrorAsync(row.SubscriptionId, $"{attempts} attempts to deliver a notification failed, the last: {failure} / 通知连续 {attempts} 次发送失败：{failure}", ct);
            return false;
        }
        var delay = TimeSpan.FromTicks(Math.Min(options.MaxRetryDelay.Ticks, options.RetryDelay.Ticks * (1L << Math.Min(attempts - 1, 30))));
        log.LogInformation("Subscription/{Id}: delivery failed ({Failure}); retry {Attempt} in {Delay}", row.SubscriptionId, failure, attempts + 1, delay);
        await outbox.RetryLaterAsync(row.Id, attempts, clock.GetUtcNow() + delay, failure, ct);
        return false;
    }

    /// <summary>The rest-hook request: without payload (or for a heartbeat, <paramref name="shown"/> null) an empty POST.</summary>
    private static HttpRequestMessage RequestFor(SubscriptionSpec spec, StoredResource? shown)
    {
        HttpRequestMessage request;
        if (spec.Payload is null || shown is null) request = new HttpRequestMessage(HttpMethod.Post, spec.Endpoint);
        else
        {
            var url = new Uri(spec.Endpoint!.ToString().TrimEnd('/') + $"/{shown.ResourceType}/{Uri.EscapeDataString(shown.Id)}");
            request = new HttpRequestMessage(HttpMethod.Put, url) { Content = new ByteArrayContent(shown.Json!) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue(FhirFormats.JsonType) { CharSet = "utf-8" };
        }
        foreach (var (name, value) in spec.Headers) request.Headers.TryAddWithoutValidation(name, value);
        return request;
    }

    /// <summary>The version as the subscriber may see it (possibly redacted), or null when it is hidden from them.</summary>
    private async Task<StoredResource?> DiscloseAsync(Caller subscriber, StoredResource version)
    {
        var http = SubscriberCodec.ContextOf(subscriber, services);
        try
        {
            return await guard.RunAsync(http, "read", version.ResourceType, async access => await guard.ShowAsync(access, version));
        }
        catch (FhirException)
        {
            return null; // the subscriber's reach refuses the type outright: as hidden
        }
    }

    /// <summary>Status error with the reason (R4 Subscription.error), through the write pipeline as the server; its queue is dropped.</summary>
    private async Task SetErrorAsync(string id, string error, CancellationToken ct)
    {
        log.LogWarning("Subscription/{Id} set to error: {Error}", id, error);
        await using var s = await store.BeginWriteAsync(ct);
        if (await s.ReadAsync(SubscriptionWriteHook.Type, id, ct) is { IsDeleted: false, Json: { } json } current
            && FhirFormats.ParseStored(json) is var node && node.Child("status")?.Value == "active")
        {
            // Only an active one: another delivery giving up at the same time, or a client's change, has decided already.
            node.Child("status")!.Value = "error";
            node.RemoveAll("error");
            node.Add("error", error);
            await pipeline.StoreAsync(s, WriteIntent.Update, node, SubscriptionWriteHook.Type, id, current, ct);
        }
        await NotificationOutbox.DropAllAsync(s, id, ct);
        await s.CommitAsync(ct);
    }
}

using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Search;
using FhirArchive.Rest.Writing;
using FhirArchive.Storage.Writing;
using Microsoft.EntityFrameworkCore;

namespace FhirArchive.Rest.Subscriptions;

/// <summary>
/// The subscriptions' place in the write pipeline. A Subscription write: its criteria and channel are checked and a
/// requested one becomes active (before the store); its state row follows it in the same transaction (after).
/// Any other write of a type some criteria name: a marker in the outbox, in the write's own transaction (a committed
/// write is always matched, even after a crash); the worker matches it — outside the write, so a Subscription never
/// holds one — and sends. Deletes send nothing: R4 Subscriptions are checked for "every resource that is created or
/// updated" (http://hl7.org/fhir/R4/subscription.html, Scope and Usage).
/// </summary>
public sealed class SubscriptionWriteHook(SearchParser parser, ReadGuard guard, SubscriptionRegistry registry, NotificationSignal signal, SubscriptionOptions options,
    EndpointPolicy endpoints, TimeProvider clock) : IWriteInterceptor
{
    public const string Type = "Subscription";

    public WriteStage Stage => WriteStage.Rules;

    public async ValueTask BeforeWriteAsync(WriteContext context)
    {
        if (context.ResourceType != Type || context.Resource is not { } resource) return;
        var spec = SubscriptionSpec.Read(resource);
        // Only a Subscription that will send is held to the allow-list (the server's own "error" update is not).
        if (spec.Endpoint is { } endpoint && spec.Status is "requested" or "active") endpoints.Check(endpoint);
        try
        {
            // A search the server can run: parsed as strictly as a conditional operation's criteria.
            await parser.ParseAsync(spec.ResourceType, spec.Parameters, strict: true, context.CancellationToken, context.Session);
        }
        catch (FhirException e)
        {
            throw new FhirException(e.Status, "invalid", $"Subscription.criteria cannot be run: {e.Message} / 订阅条件无法作为检索执行");
        }
        // The writer becomes the subscriber: criteria it could not search by (a masked caller probing by part of a
        // masked value) are refused now, as the search refuses them, not accepted and then never matched.
        if (context.Http is { } http)
            await guard.RunAsync(http, "search-type", spec.ResourceType, _ => Task.FromResult(0), spec.Parameters);
        if (spec.Status == "requested")
        {
            // R4: the server checks what it was asked for, then activates it; an old error no longer applies.
            resource.Child("status")!.Value = "active";
            resource.RemoveAll("error");
        }
    }

    public async ValueTask AfterWriteAsync(WriteContext context)
    {
        if (context.Stored is not { } stored) return;
        if (context.ResourceType == Type)
        {
            await SaveStateAsync(context);
            context.Session.OnCommitted(() =>
            {
                registry.Invalidate();
                return Task.CompletedTask;
            });
            return;
        }
        if (!options.Enabled || stored.IsDeleted || !registry.MayMatch(stored.ResourceType)) return;
        await NotificationOutbox.RecordWriteAsync(context.Session, stored, clock.GetUtcNow(), context.CancellationToken);
        context.Session.OnCommitted(() =>
        {
            signal.Nudge();
            return Task.CompletedTask;
        });
    }

    /// <summary>
    /// The state row beside the version: status and criteria, and the subscriber — the caller of this write (whoever
    /// changes a Subscription's criteria or endpoint receives what it sends), or, for the server's own writes (an
    /// error status), the one on file.
    /// </summary>
    private static async Task SaveStateAsync(WriteContext context)
    {
        var db = context.Session.DbContext();
        var ct = context.CancellationToken;
        var id = context.Id;
        var existing = await db.SubscriptionStates.AsNoTracking().FirstOrDefaultAsync(r => r.Id == id, ct);
        await db.SubscriptionStates.Where(r => r.Id == id).ExecuteDeleteAsync(ct);
        if (context.Resource is not { } resource)
        {
            await NotificationOutbox.DropAllAsync(context.Session, id, ct);
            return;
        }
        var spec = SubscriptionSpec.Read(resource);
        var subscriber = context.Http is { } http ? SubscriberCodec.Write(http.GetCaller())
            : existing?.Subscriber ?? SubscriberCodec.Write(Caller.Server);
        db.SubscriptionStates.Add(new SubscriptionStateRow
        {
            Id = id, Status = spec.Status, ResourceType = spec.ResourceType, Query = spec.Query, End = spec.End?.UtcTicks, Subscriber = subscriber,
            Channel = spec.ChannelType, Heartbeat = spec.Heartbeat is { } h ? (int)h.TotalSeconds : null,
        });
        await db.SaveChangesAsync(ct);
        db.ChangeTracker.Clear();
        if (spec.Status != "active") await NotificationOutbox.DropAllAsync(context.Session, id, ct);
    }
}

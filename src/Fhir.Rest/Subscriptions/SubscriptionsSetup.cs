using FhirArchive.Rest.Access;
using Microsoft.Extensions.DependencyInjection.Extensions;
using FhirArchive.Rest.Writing;
using FhirArchive.Storage;

namespace FhirArchive.Rest.Subscriptions;

/// <summary>R4 Subscriptions (rest-hook, websocket): the write hook, the matcher, the outbox table, the delivery worker and the websocket.</summary>
public static class SubscriptionsSetup
{
    /// <summary>Configuration "Subscriptions" (<see cref="SubscriptionOptions"/>).</summary>
    public static IServiceCollection AddSubscriptions(this IServiceCollection services, IConfiguration configuration)
    {
        var options = configuration.GetSection("Subscriptions").Get<SubscriptionOptions>() ?? new SubscriptionOptions();
        // A lease must outlast an attempt, or no notification would ever be sent.
        if (options.ClaimLease < 2 * options.Timeout) options.ClaimLease = 2 * options.Timeout;
        services.AddSingleton(options);
        services.AddSchemaPart(SubscriptionSchema.Part);
        services.AddSingleton<SubscriptionRegistry>();
        services.AddSingleton<NotificationOutbox>();
        services.AddSingleton<NotificationSignal>();
        services.AddSingleton<EndpointPolicy>();
        services.AddSingleton<WebSocketHub>();
        // The audit trail, registered before, records each notification; without it nothing is.
        services.TryAddSingleton<INotificationAudit, NoNotificationAudit>();
        services.AddSingleton<SubscriptionMatcher>();
        services.AddSingleton<IWriteInterceptor, SubscriptionWriteHook>();
        if (options.Enabled && options.Deliver)
        {
            services.AddSingleton<NotificationWorker>();
            services.AddHostedService(sp => sp.GetRequiredService<NotificationWorker>());
        }
        return services;
    }

    /// <summary>The websocket channel's endpoint (<see cref="WebSocketHub"/>), in the FHIR API's group: a token is needed, the connection is audited.</summary>
    public static void MapSubscriptions(this IEndpointRouteBuilder fhir)
    {
        if (fhir.ServiceProvider.GetRequiredService<SubscriptionOptions>().Enabled)
            fhir.MapGet(WebSocketHub.Path, (HttpContext http, WebSocketHub hub) => hub.RunAsync(http))
                .WithInteraction(InteractionKind.SearchType.On(SubscriptionWriteHook.Type)).WithTags("Subscriptions")
                .WithSummary("R4 websocket channel: bind-with-id [Subscription id]");
    }
}

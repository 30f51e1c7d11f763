using FhirArchive.Rest.Writing;
using FhirArchive.Storage;

namespace FhirArchive.Rest.Subscriptions;

/// <summary>R4 Subscriptions (rest-hook): the write hook, the matcher, the outbox table and the delivery worker.</summary>
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
        services.AddSingleton<SubscriptionMatcher>();
        services.AddSingleton<IWriteInterceptor, SubscriptionWriteHook>();
        if (options.Enabled && options.Deliver)
        {
            services.AddSingleton<NotificationWorker>();
            services.AddHostedService(sp => sp.GetRequiredService<NotificationWorker>());
        }
        return services;
    }
}

using FhirArchive.Server.Interception;

namespace FhirArchive.Server.Features.Consent;

/// <summary>The consent rules (issue 8): the decision on every read path, the security labels on every write.</summary>
public static class ConsentRules
{
    /// <summary>Configuration "Consent" (<see cref="ConsentOptions"/>).</summary>
    public static IServiceCollection AddConsentRules(this IServiceCollection services, IConfiguration configuration)
    {
        var options = configuration.GetSection("Consent").Get<ConsentOptions>() ?? new ConsentOptions();
        services.AddSingleton(options);
        services.AddSingleton<ConsentDecision>();
        services.AddSingleton<RecordDirectory>();
        services.AddSingleton<ConsentAccessPolicy>();
        services.AddSingleton<IWriteInterceptor, SecurityLabeller>();
        services.AddSingleton<IWriteInterceptor, ConsentCacheInterceptor>();
        return services;
    }
}

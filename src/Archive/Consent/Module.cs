using FhirArchive.Rest.Access;
using FhirArchive.Rest.Writing;

namespace FhirArchive.Archive.Consent;

/// <summary>The consent rules: the decision on every read path (an <see cref="IAccessPolicy"/>), the security labels on every write.</summary>
public static class ConsentModule
{
    /// <summary>Configuration "Consent" (<see cref="ConsentOptions"/>).</summary>
    public static IServiceCollection AddConsent(this IServiceCollection services, IConfiguration configuration)
    {
        var options = configuration.GetSection("Consent").Get<ConsentOptions>() ?? new ConsentOptions();
        services.AddSingleton(options);
        services.AddSingleton<ConsentDecision>();
        services.AddSingleton<RecordDirectory>();
        services.AddSingleton<ConsentAccessPolicy>();
        services.AddSingleton<IAccessPolicy>(sp => sp.GetRequiredService<ConsentAccessPolicy>());
        services.AddSingleton<IWriteInterceptor, SecurityLabeller>();
        services.AddSingleton<IWriteInterceptor, ConsentCacheInterceptor>();
        return services;
    }
}

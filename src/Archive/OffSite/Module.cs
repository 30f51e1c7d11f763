using FhirArchive.Rest.Writing;

namespace FhirArchive.Archive.OffSite;

/// <summary>
/// Off-site service (异地服务, annex 1 五): a non-holding institution's view of a key-population resident
/// (Patient/[id]/$offsite-summary, audited with purpose offsite-service), the push of its service records to the holder
/// (a Communication in the holder's work list until acknowledged), and the warning on a second free service in a year.
/// Key populations are personal health tags (HealthTags module).
/// </summary>
public static class OffSiteModule
{
    /// <summary>Configuration "OffSite" (<see cref="OffSiteOptions"/>).</summary>
    public static IServiceCollection AddOffSite(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(configuration.GetSection("OffSite").Get<OffSiteOptions>() ?? new OffSiteOptions());
        services.AddSingleton<IWriteInterceptor, OffSitePushInterceptor>();
        return services;
    }

    public static void MapOffSite(this IEndpointRouteBuilder app) => OffSiteSummaryEndpoint.Map(app);
}

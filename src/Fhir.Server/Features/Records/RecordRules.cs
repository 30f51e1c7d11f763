using FhirArchive.Server.Interception;

namespace FhirArchive.Server.Features.Records;

/// <summary>The resident health-record rules (issue 6), registered with one call each for services and endpoints.</summary>
public static class RecordRules
{
    /// <summary>Configuration "Records" (<see cref="RecordOptions"/>). The interceptors run in this order, after those registered before.</summary>
    public static IServiceCollection AddRecordRules(this IServiceCollection services, IConfiguration configuration)
    {
        var options = configuration.GetSection("Records").Get<RecordOptions>() ?? new RecordOptions();
        services.AddSingleton(options);
        services.AddSingleton<RecordScope>();
        services.AddSingleton<IWriteInterceptor, SourceLabelInterceptor>();
        services.AddSingleton<IWriteInterceptor, RecordMaintainerInterceptor>();
        services.AddSingleton<IWriteInterceptor, LifecycleInterceptor>();
        services.AddSingleton<IWriteInterceptor, ServiceRecordInterceptor>();
        services.AddSingleton<IWriteInterceptor, RecordNumberInterceptor>();
        services.AddSingleton<IWriteInterceptor, TimelinessInterceptor>();
        services.AddSingleton<IWriteInterceptor, IdentityKeyInterceptor>();
        services.AddSingleton<LostToFollowUpJob>();
        if (options.Enabled && options.LostToFollowUpJob) services.AddHostedService(sp => sp.GetRequiredService<LostToFollowUpJob>());
        return services;
    }

    public static void MapRecordEndpoints(this IEndpointRouteBuilder app)
    {
        LifecycleEndpoints.Map(app);
        CorrectionEndpoints.Map(app);
        MatchEndpoint.Map(app);
        MergeEndpoint.Map(app);
    }
}

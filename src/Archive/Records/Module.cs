using FhirArchive.Rest.Writing;

namespace FhirArchive.Archive.Records;

/// <summary>
/// The resident health record (一人一档): identity keys and record numbers, the responsible institution, the
/// lifecycle ($close, $reactivate, $purge), immutable service records and approved corrections, $match and $merge.
/// </summary>
public static class RecordsModule
{
    /// <summary>Configuration "Records" (<see cref="RecordOptions"/>). The record rules (stage Rules) run in this order.</summary>
    public static IServiceCollection AddRecords(this IServiceCollection services, IConfiguration configuration)
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
        services.AddSingleton<ITaskWorkflow, CorrectionWorkflow>();
        services.AddSingleton<LostToFollowUpJob>();
        if (options.Enabled && options.LostToFollowUpJob) services.AddHostedService(sp => sp.GetRequiredService<LostToFollowUpJob>());
        return services;
    }

    public static void MapRecords(this IEndpointRouteBuilder app)
    {
        LifecycleEndpoints.Map(app);
        TaskDecisions.Map(app);
        MatchEndpoint.Map(app);
        MergeEndpoint.Map(app);
    }
}

using FhirArchive.Archive.Records;
using FhirArchive.Rest.Writing;

namespace FhirArchive.Archive.Transfer;

/// <summary>
/// Record transfer (档案转迁, annex 1 四): the proposed holder's request ($transfer-request), the current holder's
/// confirmation or reasoned refusal (Task $approve / $reject, shared with the other record workflows), completion
/// (holder, contract, Provenance, consent following at once), escalation after 7 calendar days, the protection period.
/// </summary>
public static class TransferModule
{
    /// <summary>Configuration "Transfer" (<see cref="TransferOptions"/>).</summary>
    public static IServiceCollection AddTransfer(this IServiceCollection services, IConfiguration configuration)
    {
        var options = configuration.GetSection("Transfer").Get<TransferOptions>() ?? new TransferOptions();
        services.AddSingleton(options);
        services.AddSingleton<ITaskWorkflow, TransferWorkflow>();
        services.AddSingleton<IWriteInterceptor, TransferGuardInterceptor>();
        services.AddSingleton<TransferEscalationJob>();
        if (options.EscalationJob) services.AddHostedService(sp => sp.GetRequiredService<TransferEscalationJob>());
        return services;
    }

    public static void MapTransfer(this IEndpointRouteBuilder app)
    {
        TransferRequestEndpoint.Map(app);
        TransferStatisticsEndpoint.Map(app);
    }
}

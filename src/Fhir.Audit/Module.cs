using FhirArchive.Audit.Checkpoints;
using FhirArchive.Audit.Store;
using FhirArchive.Rest.Metadata;
using FhirArchive.Rest.Writing;
using FhirArchive.Storage;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace FhirArchive.Audit;

/// <summary>The audit trail: every interaction and write recorded, the authorisation server's events, the trail over REST.</summary>
public static class AuditModule
{
    public static IServiceCollection AddAudit(this IServiceCollection services)
    {
        services.AddAuditStore();
        // The audit answers for the authorisation server's events (registered before the auth setup, which only adds a default).
        services.AddSingleton<FhirArchive.Auth.IAuthEvents, AuditAuthEvents>();
        // And for each Subscription notification sent (a disclosure to the subscriber).
        services.AddSingleton<FhirArchive.Rest.Subscriptions.INotificationAudit, AuditNotificationEvents>();
        // And for each batch a bulk export writes (a disclosure of those patients' data to the requester).
        services.AddSingleton<FhirArchive.Rest.Bulk.IBulkExportAudit, AuditBulkExportEvents>();
        services.AddSingleton<IWriteInterceptor, AuditWriteInterceptor>();
        services.AddSingleton<AuditTrail>();
        services.AddHostedService(sp => sp.GetRequiredService<AuditTrail>());
        // Signed checkpoints of the head (registered after the trail: stopped before it, so the last events are signed).
        services.AddSingleton(sp => sp.GetRequiredService<IConfiguration>().GetSection("Audit:Checkpoints").Get<AuditCheckpointOptions>() ?? new AuditCheckpointOptions());
        services.AddSingleton<AuditCheckpoints>();
        services.AddHostedService<AuditCheckpointer>();
        services.AddSingleton(new OwnCapability("AuditEvent", DescribeTrail));
        return services;
    }

    /// <summary>The trail's tables and store alone (what the storage-only set-ups of tests and benchmarks need).</summary>
    public static IServiceCollection AddAuditStore(this IServiceCollection services)
    {
        services.AddSchemaPart(AuditSchema.Part);
        services.TryAddSingleton<AuditStore>();
        return services;
    }

    /// <summary>Audit:Enabled=false exists only to measure the audit's cost; it logs a warning.</summary>
    public static void UseAudit(this WebApplication app)
    {
        if (app.Configuration.GetValue("Audit:Enabled", true)) app.UseMiddleware<AuditMiddleware>();
        else app.Logger.LogWarning("Audit:Enabled=false: interactions are NOT audited. Use this for benchmarks only.");
    }

    public static void MapAudit(this IEndpointRouteBuilder app)
    {
        AuditEndpoints.Map(app);
        CheckpointEndpoints.Map(app);
    }

    /// <summary>The audit trail is the server's own and append-only: read and search (auditors), and $verify.</summary>
    private static void DescribeTrail(Fhir.Model.ElementNode r, Storage.Indexing.SearchParameterRegistry registry)
    {
        r.Add("documentation", "The server's append-only, SM3-chained audit trail (IHE BALP). Read and searched by auditors; never written by clients.");
        foreach (var i in new[] { "read", "search-type" }) r.Add("interaction").Add("code", i);
        foreach (var p in registry.For("AuditEvent").Where(p => AuditEndpoints.SearchParams.Contains(p.Code)).OrderBy(p => p.Code, StringComparer.Ordinal))
            CapabilityEndpoint.AddParam(r, p.Code, p.Url, p.Type.ToString().ToLowerInvariant());
    }
}

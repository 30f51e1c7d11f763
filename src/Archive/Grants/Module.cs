using FhirArchive.Rest.Writing;
using FhirArchive.Storage;

using FhirArchive.Archive.Consent;

namespace FhirArchive.Archive.Grants;

/// <summary>
/// Authorised retrieval: a resident's one-time code or health card ($request-access, $grant-access), emergency
/// break-glass, the family doctor's opening ($open-record), $revoke, and the guard that keeps Consents to these.
/// </summary>
public static class GrantsModule
{
    /// <summary>Configuration "Consent:Grants" (<see cref="GrantOptions"/>).</summary>
    public static IServiceCollection AddGrants(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(configuration.GetSection("Consent:Grants").Get<GrantOptions>() ?? new GrantOptions());
        services.AddSchemaPart(AccessRequestSchema.Part);
        services.AddSingleton<IHealthCardVerifier, PatientHealthCardVerifier>();
        services.AddSingleton<RecordLookup>();
        services.AddSingleton<IWriteInterceptor, ConsentGuardInterceptor>();
        return services;
    }

    public static void MapGrants(this IEndpointRouteBuilder app)
    {
        RequestAccessEndpoint.Map(app);
        GrantAccessEndpoint.Map(app);
        RevokeEndpoint.Map(app);
        BreakGlassEndpoint.Map(app);
        OpenRecordEndpoint.Map(app);
    }
}

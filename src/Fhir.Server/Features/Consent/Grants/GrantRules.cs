using FhirArchive.Server.Features.Consent.Notifications;
using FhirArchive.Server.Interception;

namespace FhirArchive.Server.Features.Consent.Grants;

/// <summary>The authorisation operations (issue 8): services, the Consent guard, and the endpoints.</summary>
public static class GrantRules
{
    /// <summary>Configuration "Consent:Grants" (<see cref="GrantOptions"/>) and "Consent:Sms" (<see cref="SmsOptions"/>).</summary>
    public static IServiceCollection AddConsentGrants(this IServiceCollection services, IConfiguration configuration, string dataFolder)
    {
        services.AddSingleton(configuration.GetSection("Consent:Grants").Get<GrantOptions>() ?? new GrantOptions());
        var sms = configuration.GetSection("Consent:Sms").Get<SmsOptions>() ?? new SmsOptions();
        services.AddSingleton(sms);
        services.AddSingleton<ISmsSender>(sp => sms.Sender switch
        {
            "file" => new FileSmsSender(Path.Combine(dataFolder, sms.File), sp.GetRequiredService<TimeProvider>()),
            "http" => new HttpSmsSender(sms),
            _ => throw new InvalidOperationException($"Consent:Sms:Sender '{sms.Sender}' is not known: use file or http."),
        });
        services.AddSingleton<IHealthCardVerifier, PatientHealthCardVerifier>();
        services.AddSingleton<RecordLookup>();
        services.AddSingleton<IWriteInterceptor, ConsentGuardInterceptor>();
        return services;
    }

    public static void MapConsentGrantEndpoints(this IEndpointRouteBuilder app)
    {
        RequestAccessEndpoint.Map(app);
        GrantAccessEndpoint.Map(app);
        RevokeEndpoint.Map(app);
        BreakGlassEndpoint.Map(app);
        OpenRecordEndpoint.Map(app);
    }
}

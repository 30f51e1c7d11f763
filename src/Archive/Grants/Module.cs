using FhirArchive.Crypto;
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
    /// <summary>
    /// Configuration "Consent:Grants" (<see cref="GrantOptions"/>) and "Consent:HealthCard" (<see cref="HealthCardOptions"/>):
    /// the card platform's verifier whenever its key is configured; without a key the demo verifier when
    /// <paramref name="demo"/> (the demo accounts, Security:DemoAccounts) is on, else none (method=health-card answers 501).
    /// A key file is under <paramref name="dataFolder"/> when relative.
    /// </summary>
    public static IServiceCollection AddGrants(this IServiceCollection services, IConfiguration configuration, string dataFolder, bool demo)
    {
        services.AddSingleton(configuration.GetSection("Consent:Grants").Get<GrantOptions>() ?? new GrantOptions());
        services.AddSchemaPart(AccessRequestSchema.Part);
        var cards = configuration.GetSection("Consent:HealthCard").Get<HealthCardOptions>() ?? new HealthCardOptions();
        services.AddSingleton(cards);
        if (cards.HasPlatformKey)
        {
            // Read now, so a wrong key stops the start rather than the first card.
            var key = PlatformKey(cards, dataFolder);
            services.AddSingleton<IHealthCardVerifier>(sp => ActivatorUtilities.CreateInstance<PlatformHealthCardVerifier>(sp, key));
        }
        else if (demo) services.AddSingleton<IHealthCardVerifier, PatientHealthCardVerifier>();
        else services.AddSingleton<IHealthCardVerifier, UnconfiguredHealthCardVerifier>();
        services.AddSingleton<RecordLookup>();
        services.AddSingleton<RequestSubjects>();
        services.AddSingleton<IWriteInterceptor, ConsentGuardInterceptor>();
        return services;
    }

    private static Sm2Key PlatformKey(HealthCardOptions options, string dataFolder) =>
        string.IsNullOrWhiteSpace(options.PlatformKeyFile)
            ? Sm2KeyFile.PublicFromPem(options.PlatformKey!, "card platform's key (Consent:HealthCard:PlatformKey)")
            : Sm2KeyFile.LoadPublic(Path.GetFullPath(options.PlatformKeyFile, dataFolder), "card platform's key (Consent:HealthCard:PlatformKeyFile)");

    public static void MapGrants(this IEndpointRouteBuilder app)
    {
        RequestAccessEndpoint.Map(app);
        GrantAccessEndpoint.Map(app);
        RevokeEndpoint.Map(app);
        BreakGlassEndpoint.Map(app);
        OpenRecordEndpoint.Map(app);
    }
}

using FhirArchive.Archive.Consent;
using FhirArchive.Archive.Documents;
using FhirArchive.Archive.Export;
using FhirArchive.Archive.Grants;
using FhirArchive.Archive.HealthTags;
using FhirArchive.Archive.Masking;
using FhirArchive.Archive.Homepage;
using FhirArchive.Archive.Mhd;
using FhirArchive.Archive.Notifications;
using FhirArchive.Archive.OffSite;
using FhirArchive.Archive.PatientIdentity;
using FhirArchive.Archive.Records;
using FhirArchive.Archive.Signatures;
using FhirArchive.Archive.Transfer;

namespace FhirArchive.Archive;

/// <summary>
/// The record-sharing domain's modules, in the order their write rules run. A new module is a folder with one
/// Module.cs (AddX for its services, rules and policies; MapX for its endpoints), added here.
/// </summary>
public static class ArchiveModules
{
    /// <param name="demo">Security:DemoAccounts: the demo stand-ins (the health card verifier) instead of the real ones.</param>
    public static IServiceCollection AddArchive(this IServiceCollection services, IConfiguration configuration, string dataFolder, bool demo) =>
        services.AddPatientIdentity()
            .AddRecords(configuration)
            .AddConsent(configuration)
            // Masking runs after the consent rules (policies run in registration order): it masks what they show.
            .AddMasking()
            .AddNotifications(configuration, dataFolder)
            .AddGrants(configuration, dataFolder, demo)
            .AddTransfer(configuration)
            .AddHealthTags()
            .AddOffSite(configuration)
            .AddMhd()
            .AddSignatures(configuration, dataFolder)
            .AddExport();

    public static void MapArchive(this IEndpointRouteBuilder app)
    {
        app.MapRecords();
        app.MapGrants();
        app.MapTransfer();
        app.MapOffSite();
        app.MapHomepage();
        app.MapDocuments();
        app.MapSignatures();
        app.MapPatientIdentity();
    }
}

using FhirArchive.Archive;
using FhirArchive.Audit;
using FhirArchive.Rest;
using FhirArchive.Server.SampleData;
using FhirArchive.Server.WebApp;
using FhirArchive.Storage;

namespace FhirArchive.Server;

/// <summary>
/// Host composition: the engine, the audit trail and the record-sharing modules over one store. Configuration:
/// Storage:Provider (sqlite|postgres), Storage:ConnectionString, Storage:DataFolder (default "data"), SampleData:Load
/// (default true), Security:DemoAccounts (default: SampleData:Load), ConformanceResources:Load (default true), WebApp:*
/// (the web app at /app: <see cref="WebAppHost"/>); the
/// engine's and the modules' own sections (README).
/// </summary>
public static class FhirServer
{
    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        // One base URL in the README, the scripts and the tokens' issuer, unless the start names its own addresses.
        if (!StartupBanner.UrlsConfigured(builder.Configuration)) builder.WebHost.UseUrls(StartupBanner.DefaultUrl);
        var storage = builder.Configuration.GetSection("Storage").Get<StorageOptions>() ?? new StorageOptions();
        storage.DataFolder = ResolveDataFolder(storage.DataFolder, builder.Environment.ContentRootPath);
        // The audit first: it answers for the authorisation server's events (the engine's security only adds a default).
        builder.Services.AddAudit();
        builder.AddFhirEngine(storage);
        builder.Services.AddArchive(builder.Configuration, storage.DataFolder, DemoAccountsOn(builder.Configuration));

        var app = builder.Build();
        // The demo people and clients (public passwords: README), registered before the configured clients (UseFhirAccess).
        if (DemoAccountsOn(app.Configuration))
        {
            DemoAccounts.AddTo(app.Services.GetRequiredService<FhirArchive.Auth.Accounts.InMemoryAuthDirectory>());
            app.Logger.LogWarning("Demo accounts are enabled (Security:DemoAccounts): their passwords are public (README). 演示账户已启用，切勿用于生产环境。");
            if (app.Services.GetRequiredService<FhirArchive.Archive.Grants.IHealthCardVerifier>() is FhirArchive.Archive.Grants.PatientHealthCardVerifier)
                app.Logger.LogWarning("Health card: no Consent:HealthCard:PlatformKey, the demo verifier takes the card number as the card. 电子健康卡使用演示校验（仅核对卡号），切勿用于生产环境。");
        }
        // The web app's public client (its redirect URIs), and its files ahead of the FHIR pipeline.
        if (WebAppHost.RegisterClientOn(app.Configuration))
            WebAppHost.Register(app.Services.GetRequiredService<FhirArchive.Auth.Accounts.InMemoryAuthDirectory>(), app.Configuration);
        app.UseWebApp();
        app.UseFhirFront();
        app.UseAudit();
        app.UseFhirAccess();
        var fhir = app.MapFhirEngine();
        fhir.MapAudit();
        fhir.MapArchive();

        // Schema first, then sample data (once: only into an empty database), then the package's conformance
        // resources (after the sample data, which loads only into an empty database).
        app.InitializeStoreAsync().GetAwaiter().GetResult();
        if (app.Configuration.GetValue("SampleData:Load", true))
            SampleDataLoader.LoadIfEmptyAsync(app.Services).GetAwaiter().GetResult();
        if (app.Configuration.GetValue("ConformanceResources:Load", true))
            app.LoadConformanceResourcesAsync().GetAwaiter().GetResult();
        // Always: the CapabilityStatement names them (after the sample data, which loads only into an empty database).
        app.LoadOperationDefinitionsAsync().GetAwaiter().GetResult();
        return app;
    }

    /// <summary>Security:DemoAccounts, by default on exactly when the sample data is loaded.</summary>
    public static bool DemoAccountsOn(IConfiguration c) => c.GetValue("Security:DemoAccounts", c.GetValue("SampleData:Load", true));

    /// <summary>
    /// A relative data folder is taken from the repository root when running from a checkout (dotnet run starts in
    /// the project folder, but data/ belongs at the root, where it is git-ignored), else from the content root.
    /// </summary>
    private static string ResolveDataFolder(string folder, string contentRoot)
    {
        if (Path.IsPathRooted(folder)) return folder;
        for (var dir = new DirectoryInfo(contentRoot); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "FhirArchive.sln"))) return Path.Combine(dir.FullName, folder);
        return Path.Combine(contentRoot, folder);
    }
}

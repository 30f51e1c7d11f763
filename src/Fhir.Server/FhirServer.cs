using System.IO.Compression;
using FhirArchive.Archive;
using FhirArchive.Audit;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Batch;
using FhirArchive.Rest.ConformanceResources;
using FhirArchive.Rest.Everything;
using FhirArchive.Rest.History;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Metadata;
using FhirArchive.Rest.Patch;
using FhirArchive.Rest.Resources;
using FhirArchive.Rest.Search;
using FhirArchive.Rest.Security;
using FhirArchive.Rest.Terminology;
using FhirArchive.Rest.Validation;
using FhirArchive.Rest.Writing;
using FhirArchive.Server.SampleData;
using FhirArchive.Storage;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.ResponseCompression;

namespace FhirArchive.Server;

/// <summary>
/// Host composition. Configuration: Storage:Provider (sqlite|postgres), Storage:ConnectionString,
/// Storage:DataFolder (default "data"), SampleData:Load (default true), Validation:BaseRules and
/// Validation:RecordProfiles (type → profile every write of that type must meet).
/// </summary>
public static class FhirServer
{
    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        var storage = builder.Configuration.GetSection("Storage").Get<StorageOptions>() ?? new StorageOptions();
        storage.DataFolder = ResolveDataFolder(storage.DataFolder, builder.Environment.ContentRootPath);
        // The official search parameters and the package's own (Patient record-status), indexed and searched alike.
        builder.Services.AddSingleton(new Storage.Indexing.SearchParameterRegistry(Fhir.Definitions.FhirDefinitions.R4, FhirArchive.Profiles.CnSearchParameters.Elements()));
        builder.Services.AddFhirStorage(storage);
        builder.Services.AddAudit();
        builder.AddFhirSecurity(storage.DataFolder);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<SearchParser>();
        builder.Services.AddSingleton<ResourceWriter>();
        builder.Services.AddSingleton(builder.Configuration.GetSection("Validation").Get<ValidationOptions>() ?? new ValidationOptions());
        builder.Services.AddSingleton(_ => FhirArchive.Terminology.TerminologyService.Default);
        builder.Services.AddSingleton<FhirArchive.Profiles.Validation.RecordValidator>();
        builder.Services.AddSingleton<WriteValidator>();
        builder.Services.AddSingleton<ResourcePatcher>();
        builder.Services.AddSingleton<SearchService>();
        builder.Services.AddSingleton<ReadGuard>();
        builder.Services.AddSingleton(builder.Configuration.GetSection("Consent").Get<PagingOptions>() ?? new PagingOptions());
        // Every write goes through the pipeline: the IWriteInterceptor singletons (the token's reach, the audit, the modules') run by stage (WriteStage).
        builder.Services.AddSingleton<WritePipeline>();
        builder.Services.AddArchive(builder.Configuration, storage.DataFolder);
        builder.Services.AddHttpContextAccessor();
        builder.Services.AddExceptionHandler<FhirExceptionHandler>();
        builder.Services.AddProblemDetails();
        builder.Services.AddResponseCompression(o =>
        {
            o.EnableForHttps = true;
            o.Providers.Add<BrotliCompressionProvider>();
            o.Providers.Add<GzipCompressionProvider>();
            o.MimeTypes = ResponseCompressionDefaults.MimeTypes.Concat([FhirFormats.JsonType, FhirFormats.XmlType]);
        });
        builder.Services.Configure<BrotliCompressionProviderOptions>(o => o.Level = CompressionLevel.Fastest);
        builder.Services.Configure<GzipCompressionProviderOptions>(o => o.Level = CompressionLevel.Fastest);
        builder.Services.AddEndpointsApiExplorer();
        builder.Services.AddSwaggerGen(o =>
        {
            o.SwaggerDoc("v1", new() { Title = "FhirArchive FHIR R4 API", Version = "v1" });
            SecuritySetup.AddBearer(o);
        });
        var limits = builder.Configuration.GetSection("Limits").Get<HttpLimits>() ?? new HttpLimits();
        builder.Services.AddSingleton(limits);
        var bundleLimits = builder.Configuration.GetSection("Bundle").Get<BundleLimits>() ?? new BundleLimits();
        builder.Services.AddSingleton(bundleLimits);
        builder.Services.AddSingleton(builder.Configuration.GetSection("Search").Get<SearchLimits>() ?? new SearchLimits());
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = Math.Max(FhirFormats.MaxBodyBytes, bundleLimits.MaxBytes) + 1;
            limits.ApplyTo(k.Limits);
        });

        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages(OutcomeStatusPages.WriteAsync);
        app.UseResponseCompression();
        // Oversized URLs and headers are refused before anything is done for them (as the web layer's own limits are).
        app.Use((ctx, next) =>
        {
            RequestGuard.CheckSize(ctx.Request, limits);
            return next(ctx);
        });
        // Routing before the audit and the authentication: they read what the matched endpoint says (its interaction,
        // open, audited); what matches none is judged from its path (RequestRoute).
        app.UseRouting();
        app.UseAudit();
        app.Use(async (ctx, next) =>
        {
            // An unknown _format is a 406 before any work: found only when the answer is written, a write would be done.
            FhirFormats.ResponseFormat(ctx);
            await RequestGuard.ReadFormAsync(ctx);
            await next(ctx);
        });
        app.UseSwagger();
        app.UseSwaggerUI();
        // Security:DemoAccounts (default: SampleData:Load) registers the demo people and clients.
        if (app.Configuration.GetValue("Security:DemoAccounts", app.Configuration.GetValue("SampleData:Load", true)))
        {
            DemoAccounts.AddTo(app.Services.GetRequiredService<FhirArchive.Auth.Accounts.InMemoryAuthDirectory>());
            app.Logger.LogWarning("Demo accounts are enabled (Security:DemoAccounts): their passwords are public (README). 演示账户已启用，切勿用于生产环境。");
        }
        app.UseFhirSecurity();
        app.UseMiddleware<InstanceOperationGuard>();

        // Open (no token): the CapabilityStatement and the health probe, which is not audited either.
        var open = app.MapGroup("").AllowAnonymous();
        open.MapGet("/health", () => Results.Json(new { status = "ok", fhirVersion = "4.0.1" })).NotAudited().WithTags("Health");
        CapabilityEndpoint.Map(open);
        // The FHIR API: every endpoint names its interaction; a token is needed and every request is audited.
        var fhir = app.MapGroup("");
        fhir.MapAudit();
        BatchEndpoint.Map(fhir);
        HistoryEndpoints.Map(fhir);
        ResourceEndpoints.Map(fhir);
        PatchEndpoints.Map(fhir);
        SearchEndpoints.Map(fhir);
        EverythingEndpoint.Map(fhir);
        TerminologyEndpoints.Map(fhir);
        ValidateEndpoint.Map(fhir);
        fhir.MapArchive();

        // Schema first, then the index rows of new search parameters, then sample data (once: only into an empty database).
        var store = app.Services.GetRequiredService<IResourceStore>();
        store.InitializeAsync().GetAwaiter().GetResult();
        SearchParameterIndexer.RunAsync(app.Services).GetAwaiter().GetResult();
        if (app.Configuration.GetValue("SampleData:Load", true))
            SampleDataLoader.LoadIfEmptyAsync(app.Services).GetAwaiter().GetResult();
        // The package's profiles, terminology and naming systems, kept current in the store (after the sample data,
        // which loads only into an empty database).
        if (app.Configuration.GetValue("ConformanceResources:Load", true))
            ConformanceResourceLoader.LoadAsync(app.Services).GetAwaiter().GetResult();
        return app;
    }

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

using System.IO.Compression;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Batch;
using FhirArchive.Rest.Bulk;
using FhirArchive.Rest.ConformanceResources;
using FhirArchive.Rest.Everything;
using FhirArchive.Rest.History;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Metadata;
using FhirArchive.Rest.Patch;
using FhirArchive.Rest.Resources;
using FhirArchive.Rest.Search;
using FhirArchive.Rest.Security;
using FhirArchive.Rest.Subscriptions;
using FhirArchive.Rest.Terminology;
using FhirArchive.Rest.Validation;
using FhirArchive.Rest.Writing;
using FhirArchive.Storage;
using Microsoft.AspNetCore.ResponseCompression;

namespace FhirArchive.Rest;

/// <summary>
/// The FHIR engine's composition: its services, its middleware in order, its endpoints. A host adds the audit trail
/// between <see cref="UseFhirFront"/> and <see cref="UseFhirAccess"/>, and its modules' endpoints to the group
/// <see cref="MapFhirEngine"/> returns. Configuration: Validation, Limits, Bundle, Search, Consent (paging), Security.
/// </summary>
public static class FhirEngine
{
    public static void AddFhirEngine(this WebApplicationBuilder builder, StorageOptions storage)
    {
        var services = builder.Services;
        var configuration = builder.Configuration;
        // The official search parameters and the package's own (Patient record-status), indexed and searched alike.
        services.AddSingleton(new Storage.Indexing.SearchParameterRegistry(Fhir.Definitions.FhirDefinitions.R4, FhirArchive.Profiles.CnSearchParameters.Elements()));
        services.AddFhirStorage(storage);
        builder.AddFhirSecurity(storage.DataFolder);
        services.AddFhirCors(configuration);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<SearchParser>();
        services.AddSingleton<ResourceWriter>();
        services.AddSingleton(configuration.GetSection("Validation").Get<ValidationOptions>() ?? new ValidationOptions());
        services.AddSingleton(_ => FhirArchive.Terminology.TerminologyService.Default);
        services.AddSingleton<FhirArchive.Profiles.Validation.RecordValidator>();
        services.AddSingleton<WriteValidator>();
        services.AddSingleton<ResourcePatcher>();
        services.AddSingleton<SearchService>();
        services.AddSingleton<ReadGuard>();
        // Operators set the paging bounds with the rules that hide resources (the Consent section).
        services.AddSingleton(configuration.GetSection("Consent").Get<PagingOptions>() ?? new PagingOptions());
        // Every write goes through the pipeline: the IWriteInterceptor singletons (the token's reach, the audit, the modules') run by stage (WriteStage).
        services.AddSingleton<WritePipeline>();
        // Subscriptions (R4 rest-hook, websocket): each write recorded in a durable outbox in its transaction, matched and sent by a background worker.
        services.AddSubscriptions(configuration);
        // Bulk Data export ($export): jobs in the database, run by a background worker, NDJSON files in the data folder.
        services.AddBulkExport(configuration);
        services.AddHttpContextAccessor();
        services.AddExceptionHandler<FhirExceptionHandler>();
        services.AddProblemDetails();
        services.AddResponseCompression(o =>
        {
            o.EnableForHttps = true;
            o.Providers.Add<BrotliCompressionProvider>();
            o.Providers.Add<GzipCompressionProvider>();
            o.MimeTypes = ResponseCompressionDefaults.MimeTypes.Concat([FhirFormats.JsonType, FhirFormats.XmlType]);
        });
        services.Configure<BrotliCompressionProviderOptions>(o => o.Level = CompressionLevel.Fastest);
        services.Configure<GzipCompressionProviderOptions>(o => o.Level = CompressionLevel.Fastest);
        services.AddEndpointsApiExplorer();
        services.AddSwaggerGen(o =>
        {
            o.SwaggerDoc("v1", new() { Title = "FhirArchive FHIR R4 API", Version = "v1" });
            SecuritySetup.AddBearer(o);
        });
        var limits = configuration.GetSection("Limits").Get<HttpLimits>() ?? new HttpLimits();
        services.AddSingleton(limits);
        var bundleLimits = configuration.GetSection("Bundle").Get<BundleLimits>() ?? new BundleLimits();
        services.AddSingleton(bundleLimits);
        services.AddSingleton(configuration.GetSection("Search").Get<SearchLimits>() ?? new SearchLimits());
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = Math.Max(FhirFormats.MaxBodyBytes, bundleLimits.MaxBytes) + 1;
            limits.ApplyTo(k.Limits);
        });
    }

    /// <summary>
    /// HEAD as GET, errors as OperationOutcomes, compression, size limits, routing (what follows reads the matched
    /// endpoint), then CORS: preflights are answered here, before the audit and authentication.
    /// </summary>
    public static void UseFhirFront(this WebApplication app)
    {
        var limits = app.Services.GetRequiredService<HttpLimits>();
        app.UseHeadAsGet();
        app.UseExceptionHandler();
        app.UseStatusCodePages(OutcomeStatusPages.WriteAsync);
        app.UseResponseCompression();
        // The Subscriptions' websocket channel (its endpoint is an ordinary one of the FHIR API: token, audit).
        app.UseWebSockets();
        // Oversized URLs and headers are refused before anything is done for them (as the web layer's own limits are).
        app.Use((ctx, next) =>
        {
            RequestGuard.CheckSize(ctx.Request, limits);
            return next(ctx);
        });
        // Routing before the audit and the authentication: they read what the matched endpoint says (its interaction,
        // open, audited); what matches none is judged from its path (RequestRoute).
        app.UseRouting();
        app.UseCors(CorsSetup.Policy);
    }

    /// <summary>The answer's format, the API docs, authentication and the token's reach, the instance-operation guard.</summary>
    public static void UseFhirAccess(this WebApplication app)
    {
        app.Use(async (ctx, next) =>
        {
            // A FHIR interaction whose answer cannot be given in a format asked for (_format, Accept) is a 406 before any
            // work: found only when the answer is written, a write would be done. Other endpoints (OAuth, health) have their own types.
            if (ctx.GetEndpoint()?.Metadata is { } metadata && metadata.GetMetadata<InteractionKind>() is not null)
            {
                if (metadata.GetMetadata<AnswersOwnFormat>() is null && !FhirFormats.WantsNativeBinary(ctx)) FhirFormats.ResponseFormat(ctx);
                // Health records are decided per request (a revoked authorisation refuses the next read): no browser or
                // proxy may keep an answer and show it again without asking. Conditional reads still revalidate (304).
                ctx.Response.Headers.CacheControl = "no-store";
            }
            await RequestGuard.ReadFormAsync(ctx);
            await next(ctx);
        });
        app.UseSwagger();
        app.UseSwaggerUI();
        app.UseFhirSecurity();
        app.UseMiddleware<InstanceOperationGuard>();
    }

    /// <summary>
    /// The open endpoints (the CapabilityStatement and the health probe, which is not audited either) and the FHIR
    /// interactions; returns the FHIR API's group, where modules map theirs: a token is needed and every request is audited.
    /// </summary>
    public static RouteGroupBuilder MapFhirEngine(this WebApplication app)
    {
        var open = app.MapGroup("").AllowAnonymous();
        open.MapGet("/health", () => Results.Json(new { status = "ok", fhirVersion = "4.0.1" })).NotAudited().WithTags("Health");
        CapabilityEndpoint.Map(open);
        var fhir = app.MapGroup("");
        BatchEndpoint.Map(fhir);
        HistoryEndpoints.Map(fhir);
        ResourceEndpoints.Map(fhir);
        PatchEndpoints.Map(fhir);
        SearchEndpoints.Map(fhir);
        EverythingEndpoint.Map(fhir);
        TerminologyEndpoints.Map(fhir);
        ValidateEndpoint.Map(fhir);
        fhir.MapSubscriptions();
        fhir.MapBulkExport();
        fhir.MapUnknownOperations();
        return fhir;
    }

    /// <summary>The schema, then the index rows of search parameters added since the last start.</summary>
    public static async Task InitializeStoreAsync(this WebApplication app)
    {
        await app.Services.GetRequiredService<IResourceStore>().InitializeAsync();
        await SearchParameterIndexer.RunAsync(app.Services);
    }

    /// <summary>The package's profiles, terminology and naming systems, kept current in the store.</summary>
    public static Task LoadConformanceResourcesAsync(this WebApplication app) => ConformanceResourceLoader.LoadAsync(app.Services);

    /// <summary>The OperationDefinitions of the operations mapped (the engine's and the modules'), kept current in the store.</summary>
    public static Task LoadOperationDefinitionsAsync(this WebApplication app) =>
        ConformanceResourceLoader.LoadOperationDefinitionsAsync(app.Services, ((IEndpointRouteBuilder)app).DataSources.SelectMany(d => d.Endpoints));
}

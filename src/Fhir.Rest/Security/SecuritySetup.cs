using FhirArchive.Auth;
using FhirArchive.Auth.Accounts;
using FhirArchive.Auth.Endpoints;
using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Access;
using Microsoft.AspNetCore.Authentication;
using Microsoft.OpenApi;

namespace FhirArchive.Rest.Security;

/// <summary>
/// Wires authentication and authorisation into the host. Settings under "Security" (<see cref="AuthOptions"/>):
/// Enabled (default true; false only for benchmarks/dev, logged loudly), BaseUrl, SigningAlgorithm, KeyFile,
/// External providers, Clients.
/// </summary>
public static class SecuritySetup
{
    public static void AddFhirSecurity(this WebApplicationBuilder builder, string dataFolder)
    {
        var options = builder.Configuration.GetSection("Security").Get<AuthOptions>() ?? new AuthOptions();
        builder.Services.AddFhirAuth(options, dataFolder);
        // The token scheme (the only one, so the default); policies authenticate with it, so endpoints may RequireAuthorization.
        builder.Services.AddAuthentication(BearerTokenHandler.SchemeName).AddScheme<AuthenticationSchemeOptions, BearerTokenHandler>(BearerTokenHandler.SchemeName, null);
        builder.Services.AddAuthorization();
        builder.Services.AddSingleton<PatientLinks>();
        // Stage Authorize: a write outside the token's reach is refused before the other write interceptors run.
        builder.Services.AddSingleton<Writing.IWriteInterceptor, ScopedWriteGuard>();
        builder.Services.AddHttpClient();
    }

    public static void UseFhirSecurity(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<AuthOptions>();
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("FhirArchive.Security");
        if (!options.Enabled)
            log.LogWarning("!!! SECURITY IS DISABLED (Security:Enabled=false): every request acts as the server itself, with no token. For benchmarks and local development only. / 安全认证已关闭，仅限性能测试与本地开发 !!!");
        else if (options.BaseUrl is null)
            log.LogInformation("Security:BaseUrl is not set: token issuer and audience follow each request's host. Set it in production.");
        // Clients registered in configuration (backend systems with their key sets): checked now, so a mistake stops the start.
        ConfiguredClients.AddTo(app.Services.GetRequiredService<InMemoryAuthDirectory>(), options,
            app.Services.GetRequiredService<FhirArchive.Storage.StorageOptions>().DataFolder,
            role => RolePolicy.Rules.TryGetValue(role, out var rule) ? new ConfiguredClients.RoleRule(rule.Ceiling, rule.Purposes) : null);
        app.Services.GetRequiredService<Auth.Keys.SigningKeys>(); // create or load the signing key at start-up, not on the first request
        app.UseAuthentication();
        app.UseMiddleware<TokenGate>();
        app.UseAuthorization();
        // The authorisation server's endpoints are open; its discovery document is not audited (as no /.well-known path is).
        var open = app.MapGroup("").AllowAnonymous();
        AuthEndpoints.Map(open);
        ((IEndpointConventionBuilder)open).Add(e => { if (e is RouteEndpointBuilder { RoutePattern.RawText: AuthEndpoints.Discovery }) e.Metadata.Add(new NotAudited()); });
    }

    /// <summary>Swagger: a Bearer (JWT) security scheme, so requests can be tried with a token.</summary>
    public static void AddBearer(Swashbuckle.AspNetCore.SwaggerGen.SwaggerGenOptions o)
    {
        o.AddSecurityDefinition("Bearer", new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            BearerFormat = "JWT",
            Description = "An access token from /auth/token (scripts/get-token.sh ROLE).",
        });
        o.AddSecurityRequirement(doc => new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("Bearer", doc)] = [] });
    }

    /// <summary>CapabilityStatement.rest.security: SMART on FHIR, with the OAuth endpoints (oauth-uris extension).</summary>
    public static void AddTo(ElementNode rest, string baseUrl)
    {
        var security = rest.Add("security");
        var uris = security.Add("extension");
        uris.Add("url", "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris");
        foreach (var (name, path) in new[] { ("authorize", "/authorize"), ("token", "/token"), ("revoke", "/revoke"), ("introspect", "/introspect") })
        {
            var e = uris.Add("extension");
            e.Add("url", name);
            e.Add("value", baseUrl + AuthEndpoints.PathPrefix + path, "uri");
        }
        security.Add("cors", "true");
        var service = security.Add("service");
        var coding = service.Add("coding");
        coding.Add("system", "http://terminology.hl7.org/CodeSystem/restful-security-service");
        coding.Add("code", "SMART-on-FHIR");
        service.Add("text", "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)");
        security.Add("description", $"SMART App Launch 2.x: discovery at {baseUrl}{AuthEndpoints.Discovery}. Every interaction but metadata needs a Bearer token.");
    }
}

namespace FhirArchive.Rest.Security;

/// <summary>
/// Cross-origin access for browser apps (SMART apps in another origin; the CapabilityStatement says cors=true), with
/// ASP.NET Core's CORS middleware. Setting <c>Cors:Origins</c>: the origins allowed; default any ("*").
/// Any origin is safe here because nothing is granted by ambient credentials: every FHIR interaction needs a Bearer
/// token the app sends itself in Authorization (a header any origin may send), and credentials (cookies) are never
/// allowed, so a foreign page cannot act with the login page's session. A list narrows which web apps may call the
/// server from a browser. Preflights are answered before authentication and the audit (they are no FHIR interaction).
/// </summary>
public static class CorsSetup
{
    public const string Policy = "fhir-browser-apps";

    /// <summary>The response headers a FHIR client reads (versions, created resources, the token challenge).</summary>
    public static readonly string[] ExposedHeaders = ["ETag", "Location", "Content-Location", "Last-Modified", "WWW-Authenticate"];

    public static void AddFhirCors(this IServiceCollection services, IConfiguration configuration)
    {
        var origins = configuration.GetSection("Cors:Origins").Get<string[]>() is { Length: > 0 } listed ? listed : ["*"];
        services.AddCors(o => o.AddPolicy(Policy, p =>
        {
            if (origins.Contains("*")) p.AllowAnyOrigin();
            else p.WithOrigins(origins);
            p.AllowAnyMethod().AllowAnyHeader().WithExposedHeaders(ExposedHeaders).SetPreflightMaxAge(TimeSpan.FromMinutes(10));
        }));
    }
}

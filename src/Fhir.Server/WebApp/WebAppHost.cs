using FhirArchive.Auth.Accounts;
using Microsoft.Extensions.FileProviders;

namespace FhirArchive.Server.WebApp;

/// <summary>
/// The web app (src/Fhir.Web, built into the output's <c>app/</c> folder by the server's build): its static files at
/// <see cref="Path"/> and its registration as a public SMART client. The app is a SMART App Launch client like any
/// other: it signs in through the server's own authorisation server and calls only the public FHIR API with the
/// user's token, so it needs nothing else from the server. Settings (WebApp:*): Enabled (serve the files, default
/// true), RegisterClient (default: the demo accounts' setting), RedirectUris (besides the loopback ones).
/// </summary>
public static class WebAppHost
{
    public const string Path = "/app";
    public const string ClientId = "fhirarchive-web";

    /// <summary>The loopback redirect URIs: any port (RFC 8252 §7.3, as the authorisation server matches loopback URIs).</summary>
    public static readonly string[] LoopbackRedirects = ["http://127.0.0.1/app/", "http://localhost/app/"];

    /// <summary>The folder the build copied the bundle into (next to the server's assembly).</summary>
    public static string Folder => System.IO.Path.Combine(AppContext.BaseDirectory, "app");

    /// <summary>Whether /app is served: WebApp:Enabled (default true) and the bundle built.</summary>
    public static bool Served(IConfiguration c) => c.GetValue("WebApp:Enabled", true) && Directory.Exists(Folder);

    public static bool RegisterClientOn(IConfiguration c) => c.GetValue("WebApp:RegisterClient", FhirServer.DemoAccountsOn(c));

    /// <summary>The app as a public client (PKCE, no secret, no roles of its own: a person's token carries the person's).</summary>
    public static void Register(InMemoryAuthDirectory directory, IConfiguration c)
    {
        var configured = c.GetSection("WebApp:RedirectUris").Get<string[]>() ?? [];
        directory.Add(new ClientRegistration(ClientId, "FhirArchive 居民电子健康档案 Web 应用 / web app", null, null,
            [.. LoopbackRedirects, .. configured], [], [], []));
    }

    /// <summary>
    /// Serves the bundle under <see cref="Path"/> ahead of the FHIR pipeline (static files are no FHIR interaction:
    /// no token, not audited): <c>/app</c> redirects to <c>/app/</c>, which is index.html; an unknown file is 404.
    /// </summary>
    public static void UseWebApp(this WebApplication app)
    {
        if (!app.Configuration.GetValue("WebApp:Enabled", true)) return;
        if (!Served(app.Configuration))
        {
            app.Logger.LogWarning("The web app was not built ({Folder} is missing): /app is not served. Web 应用未构建。", Folder);
            return;
        }
        var files = new PhysicalFileProvider(Folder);
        app.Map(Path, branch =>
        {
            branch.UseStatusCodePages(FhirArchive.Rest.Infrastructure.OutcomeStatusPages.WriteAsync);
            branch.UseResponseCompression();
            branch.Use((ctx, next) =>
            {
                if (ctx.Request.PathBase == Path && !ctx.Request.Path.HasValue)
                {
                    ctx.Response.Redirect(Path + "/" + ctx.Request.QueryString);
                    return Task.CompletedTask;
                }
                SetHeaders(ctx.Response);
                return next(ctx);
            });
            branch.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
            branch.UseStaticFiles(new StaticFileOptions { FileProvider = files });
            branch.Run(ctx =>
            {
                ctx.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            });
        });
    }

    /// <summary>
    /// The app runs only its own script and style, calls only this server, may not be framed; index.html is revalidated
    /// on each load (the bundle's names do not change between builds).
    /// </summary>
    private static void SetHeaders(HttpResponse response)
    {
        var h = response.Headers;
        h.ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
                                  "frame-ancestors 'none'; base-uri 'self'; form-action 'self'";
        h.XContentTypeOptions = "nosniff";
        h.XFrameOptions = "DENY";
        h["Referrer-Policy"] = "no-referrer";
        h.CacheControl = "no-cache";
    }
}

using System.Text;
using System.Text.Json;
using FhirArchive.Auth.Keys;
using FhirArchive.Auth.Tokens;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.WebUtilities;

namespace FhirArchive.Auth.Endpoints;

/// <summary>
/// SMART App Launch 2.x discovery and the OAuth 2.0 endpoints: /auth/authorize (login page), /auth/token,
/// /auth/revoke (RFC 7009), /auth/introspect (RFC 7662), /auth/jwks. Errors are OAuth JSON, never a 500.
/// </summary>
public static class AuthEndpoints
{
    public const string PathPrefix = "/auth";
    public const string Discovery = "/.well-known/smart-configuration";

    public static string BaseUrl(HttpContext ctx, AuthOptions o) =>
        (o.BaseUrl ?? $"{ctx.Request.Scheme}://{ctx.Request.Host}{ctx.Request.PathBase}").TrimEnd('/');

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet(Discovery, (HttpContext ctx, AuthOptions o) => Results.Json(Configuration(BaseUrl(ctx, o))))
            .WithTags("Security").WithSummary("SMART App Launch configuration");
        app.MapGet(PathPrefix + "/jwks", (SigningKeys k) => Results.Text(k.JwksJson, "application/json"))
            .WithTags("Security").WithSummary("the token-signing public keys (JWKS)");
        app.MapGet(PathPrefix + "/authorize", Authorize).WithTags("Security").WithSummary("login page (authorization code + PKCE)");
        app.MapPost(PathPrefix + "/authorize", Login).WithTags("Security").WithSummary("login form post").DisableAntiforgery();
        app.MapPost(PathPrefix + "/token", Token).WithTags("Security").WithSummary("token endpoint").DisableAntiforgery();
        app.MapPost(PathPrefix + "/revoke", Revoke).WithTags("Security").WithSummary("token revocation (RFC 7009)").DisableAntiforgery();
        app.MapPost(PathPrefix + "/introspect", Introspect).WithTags("Security").WithSummary("token introspection (RFC 7662)").DisableAntiforgery();
    }

    public static object Configuration(string baseUrl) => new Dictionary<string, object>
    {
        ["issuer"] = baseUrl,
        ["jwks_uri"] = baseUrl + PathPrefix + "/jwks",
        ["authorization_endpoint"] = baseUrl + PathPrefix + "/authorize",
        ["token_endpoint"] = baseUrl + PathPrefix + "/token",
        ["revocation_endpoint"] = baseUrl + PathPrefix + "/revoke",
        ["introspection_endpoint"] = baseUrl + PathPrefix + "/introspect",
        ["grant_types_supported"] = new[] { "authorization_code", "client_credentials", "refresh_token" },
        ["response_types_supported"] = new[] { "code" },
        ["token_endpoint_auth_methods_supported"] = new[] { "client_secret_basic", "client_secret_post", "private_key_jwt" },
        ["token_endpoint_auth_signing_alg_values_supported"] = new[] { "RS384", "ES384" },
        ["scopes_supported"] = new[] { "openid", "fhirUser", "launch/patient", "offline_access", "online_access", "patient/*.rs", "patient/*.cruds", "user/*.cruds", "system/*.cruds", "system/*.rs" },
        ["code_challenge_methods_supported"] = new[] { "S256" },
        ["capabilities"] = new[]
        {
            "launch-standalone", "client-public", "client-confidential-symmetric", "client-confidential-asymmetric",
            "context-standalone-patient", "permission-offline", "permission-online", "permission-patient", "permission-user",
            "permission-v1", "permission-v2", "sso-openid-connect",
        },
    };

    private static AuthServer.AuthorizeRequest ReadAuthorize(IEnumerable<KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues>> values)
    {
        var d = values.ToDictionary(kv => kv.Key, kv => kv.Value.ToString());
        string? V(string k) => d.TryGetValue(k, out var v) && v.Length > 0 ? v : null;
        return new(V("response_type"), V("client_id"), V("redirect_uri"), V("scope"), V("state"), V("aud"),
            V("code_challenge"), V("code_challenge_method"), V("purpose_of_use"));
    }

    private static IResult Authorize(HttpContext ctx, AuthServer server, AuthOptions o)
    {
        var r = ReadAuthorize(ctx.Request.Query);
        LoginPage.SetHeaders(ctx.Response, null);
        Tokens.OAuthException? redirectError = null;
        try
        {
            var client = server.CheckClientAndRedirect(r);
            LoginPage.SetHeaders(ctx.Response, r.RedirectUri);
            try { server.CheckRequest(r, BaseUrl(ctx, o)); }
            catch (OAuthException e) { redirectError = e; }
            if (redirectError is not null) return RedirectError(r, redirectError);
            return Page(LoginPage.Render(r, client.Name, null), 200);
        }
        catch (OAuthException e)
        {
            return Page(LoginPage.Render(r, null, e.Message), 400);
        }
    }

    private static async Task<IResult> Login(HttpContext ctx, AuthServer server, AuthOptions o)
    {
        LoginPage.SetHeaders(ctx.Response, null);
        if (!ctx.Request.HasFormContentType) return OAuthError(new("invalid_request", "post the login form"));
        var form = await ctx.Request.ReadFormAsync(ctx.RequestAborted);
        var r = ReadAuthorize(form);
        Accounts.ClientRegistration client;
        try { client = server.CheckClientAndRedirect(r); }
        catch (OAuthException e) { return Page(LoginPage.Render(r, null, e.Message), 400); }
        LoginPage.SetHeaders(ctx.Response, r.RedirectUri);
        try { server.CheckRequest(r, BaseUrl(ctx, o)); }
        catch (OAuthException e) { return RedirectError(r, e); }
        try
        {
            var code = await server.LoginAsync(r, client, form["username"].ToString(), form["password"].ToString(), form["otp"].ToString(),
                ctx.Connection.RemoteIpAddress?.ToString());
            var query = new Dictionary<string, string?> { ["code"] = code, ["state"] = r.State };
            return Results.Redirect(QueryHelpers.AddQueryString(r.RedirectUri!, query.Where(kv => kv.Value is not null)!));
        }
        catch (OAuthException e)
        {
            return Page(LoginPage.Render(r, client.Name, e.Message), 401);
        }
    }

    private static async Task<IResult> Token(HttpContext ctx, AuthServer server, AuthOptions o)
    {
        try
        {
            var form = await FormAsync(ctx);
            var baseUrl = BaseUrl(ctx, o);
            var grantType = form.GetValueOrDefault("grant_type");
            var credentials = Credentials(ctx, form);
            // SMART's refresh request for a public client carries no client_id: the refresh token names its client.
            var client = grantType == "refresh_token" && credentials is { ClientId: null, Assertion: null }
                ? await server.PublicClientOfAsync(form.GetValueOrDefault("refresh_token"))
                : await server.AuthenticateClientAsync(credentials, baseUrl + PathPrefix + "/token", requireConfidential: grantType == "client_credentials");
            var response = grantType switch
            {
                "client_credentials" => await server.ClientCredentialsAsync(client, form.GetValueOrDefault("scope"), form.GetValueOrDefault("purpose_of_use"), baseUrl),
                "authorization_code" => await server.ExchangeCodeAsync(client, form.GetValueOrDefault("code"), form.GetValueOrDefault("redirect_uri"), form.GetValueOrDefault("code_verifier"), baseUrl),
                "refresh_token" => await server.RefreshAsync(client, form.GetValueOrDefault("refresh_token"), form.GetValueOrDefault("scope"), baseUrl),
                null => throw new OAuthException("invalid_request", "grant_type is required"),
                _ => throw new OAuthException("unsupported_grant_type", $"grant_type {grantType} is not supported"),
            };
            ctx.Response.Headers.CacheControl = "no-store";
            ctx.Response.Headers.Pragma = "no-cache";
            var body = new Dictionary<string, object>
            {
                ["access_token"] = response.AccessToken,
                ["token_type"] = "Bearer",
                ["expires_in"] = response.ExpiresIn,
                ["scope"] = response.Scope,
            };
            if (response.RefreshToken is not null) body["refresh_token"] = response.RefreshToken;
            if (response.IdToken is not null) body["id_token"] = response.IdToken;
            if (response.Patient is not null) body["patient"] = response.Patient;
            return Results.Json(body);
        }
        catch (OAuthException e)
        {
            return ClientError(ctx, e);
        }
    }

    private static async Task<IResult> Revoke(HttpContext ctx, AuthServer server, AuthOptions o)
    {
        try
        {
            var form = await FormAsync(ctx);
            var baseUrl = BaseUrl(ctx, o);
            var client = await server.AuthenticateClientAsync(Credentials(ctx, form), baseUrl + PathPrefix + "/token", requireConfidential: false);
            await server.RevokeAsync(client, form.GetValueOrDefault("token"), baseUrl);
            return Results.Ok();
        }
        catch (OAuthException e) { return ClientError(ctx, e); }
    }

    private static async Task<IResult> Introspect(HttpContext ctx, AuthServer server, AuthOptions o)
    {
        try
        {
            var form = await FormAsync(ctx);
            var baseUrl = BaseUrl(ctx, o);
            // Only confidential clients may ask (RFC 7662 §2.1: the endpoint is protected).
            await server.AuthenticateClientAsync(Credentials(ctx, form), baseUrl + PathPrefix + "/token", requireConfidential: true);
            var answer = await server.IntrospectAsync(form.GetValueOrDefault("token"), baseUrl);
            return Results.Json(answer.Where(kv => kv.Value is not null).ToDictionary());
        }
        catch (OAuthException e) { return ClientError(ctx, e); }
    }

    private static async Task<Dictionary<string, string>> FormAsync(HttpContext ctx)
    {
        if (!ctx.Request.HasFormContentType) throw new OAuthException("invalid_request", "the body must be application/x-www-form-urlencoded");
        var form = await ctx.Request.ReadFormAsync(ctx.RequestAborted);
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in form)
        {
            if (v.Count > 1) throw new OAuthException("invalid_request", $"parameter {k} is repeated");
            if (v.ToString().Length > 0) d[k] = v.ToString();
        }
        return d;
    }

    /// <summary>HTTP Basic (client_id:secret, form-url-encoded as RFC 6749 §2.3.1 says) or the form fields.</summary>
    private static ClientCredentials Credentials(HttpContext ctx, Dictionary<string, string> form)
    {
        string? id = form.GetValueOrDefault("client_id"), secret = form.GetValueOrDefault("client_secret");
        var auth = ctx.Request.Headers.Authorization.ToString();
        if (auth.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            string decoded;
            try { decoded = Encoding.UTF8.GetString(Convert.FromBase64String(auth[6..].Trim())); }
            catch (FormatException) { throw new OAuthException("invalid_client", "malformed Basic credentials", 401); }
            var colon = decoded.IndexOf(':');
            if (colon < 0) throw new OAuthException("invalid_client", "malformed Basic credentials", 401);
            id = Uri.UnescapeDataString(decoded[..colon].Replace('+', ' '));
            secret = Uri.UnescapeDataString(decoded[(colon + 1)..].Replace('+', ' '));
        }
        return new ClientCredentials(id, secret, form.GetValueOrDefault("client_assertion_type"), form.GetValueOrDefault("client_assertion"));
    }

    private static IResult OAuthError(OAuthException e) =>
        Results.Json(new Dictionary<string, string> { ["error"] = e.Error, ["error_description"] = e.Message }, statusCode: e.Status);

    /// <summary>An error of a client-authenticating endpoint: a 401 (the client failed to authenticate) challenges for
    /// HTTP Basic, the scheme clients authenticate with here (RFC 6749 §5.2; HTTP requires a challenge on every 401).</summary>
    private static IResult ClientError(HttpContext ctx, OAuthException e)
    {
        if (e.Status == StatusCodes.Status401Unauthorized) ctx.Response.Headers.WWWAuthenticate = "Basic realm=\"fhirarchive\", charset=\"UTF-8\"";
        ctx.Response.Headers.CacheControl = "no-store";
        return OAuthError(e);
    }

    private static IResult RedirectError(AuthServer.AuthorizeRequest r, OAuthException e)
    {
        var query = new Dictionary<string, string?> { ["error"] = e.Error, ["error_description"] = e.Message, ["state"] = r.State };
        return Results.Redirect(QueryHelpers.AddQueryString(r.RedirectUri!, query.Where(kv => kv.Value is not null)!));
    }

    private static IResult Page(string html, int status) =>
        Results.Content(html, "text/html; charset=utf-8", Encoding.UTF8, status);
}

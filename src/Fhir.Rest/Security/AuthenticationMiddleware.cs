using FhirArchive.Auth;
using FhirArchive.Auth.Endpoints;
using FhirArchive.Auth.Tokens;
using FhirArchive.Fhir.Outcomes;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;

namespace FhirArchive.Rest.Security;

/// <summary>
/// Sets the request's <see cref="Caller"/> from its Bearer token and refuses what the token may not do: no or an
/// invalid token → 401 with WWW-Authenticate; an interaction outside the scopes or the roles → 403. Only the
/// CapabilityStatement, SMART discovery, the auth endpoints and login page, /health and Swagger UI are open.
/// </summary>
public sealed class AuthenticationMiddleware(RequestDelegate next, ValidatedTokenCache tokens, AuthOptions options, IAuthEvents events)
{
    public const string PurposeHeader = "X-Purpose-Of-Use";

    /// <summary>Who calls when Security:Enabled is false (benchmarks, local development only).</summary>
    public static readonly Caller Unsecured = new(CallerKind.System, "security-disabled", "Security disabled", new HashSet<string> { Roles.Server }, ["system/*.cruds"]);

    public async Task InvokeAsync(HttpContext ctx)
    {
        if (IsOpen(ctx.Request))
        {
            await next(ctx);
            return;
        }
        if (!options.Enabled)
        {
            ctx.SetCaller(Unsecured);
            await next(ctx);
            return;
        }
        var header = ctx.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || header.Length <= 7)
        {
            await ChallengeAsync(ctx, null, "An access token is required (Authorization: Bearer ...). See /.well-known/smart-configuration.");
            return;
        }
        var result = await tokens.ValidateAsync(header[7..].Trim(), AuthEndpoints.BaseUrl(ctx, options));
        if (result.Principal is not { } principal)
        {
            await events.TokenRejectedAsync(result.Error!, ctx.Connection.RemoteIpAddress?.ToString());
            await ChallengeAsync(ctx, "invalid_token", $"The access token is not valid: {result.Error}.");
            return;
        }
        var caller = ToCaller(principal, principal.Issuer == AuthEndpoints.BaseUrl(ctx, options));
        if (ctx.Request.Headers[PurposeHeader].ToString() is { Length: > 0 } purpose)
        {
            if (!RolePolicy.MayClaim(caller.Roles, purpose) && !caller.HasRole(Roles.Server))
                throw new FhirException(403, "forbidden", $"The purpose of use {purpose} may not be claimed by the role {string.Join(", ", caller.Roles)}.");
            caller = caller with { PurposeOfUse = purpose };
        }
        ctx.SetCaller(caller);
        if (FhirInteraction.Classify(ctx.Request.Method, ctx.Request.Path.Value ?? "/") is { } interaction)
            InteractionAuthorizer.Check(ctx, interaction);
        await next(ctx);
    }

    private static bool IsOpen(HttpRequest r)
    {
        var p = r.Path;
        return (p.Equals("/metadata", StringComparison.Ordinal) && (HttpMethods.IsGet(r.Method) || HttpMethods.IsHead(r.Method)))
            || p.Equals(AuthEndpoints.Discovery, StringComparison.Ordinal)
            || p.StartsWithSegments(AuthEndpoints.PathPrefix, StringComparison.Ordinal)
            || p.Equals("/health", StringComparison.Ordinal)
            || p.StartsWithSegments("/swagger", StringComparison.Ordinal);
    }

    /// <summary>
    /// The server's own tokens carry the roles the account has; an external provider's may not make anyone the
    /// server itself, and roles the server does not know are dropped.
    /// </summary>
    public static Caller ToCaller(TokenPrincipal p, bool ownIssuer)
    {
        var roles = p.Roles.Where(r => Roles.All.Contains(r) && (ownIssuer || r != Roles.Server)).ToHashSet();
        static string? Ref(string? r, string type) => r is null ? null : r.Contains('/') ? r : $"{type}/{r}";
        var fhirUser = p.FhirUser;
        return new Caller(
            p.IsPerson ? CallerKind.Person : CallerKind.System,
            p.Subject, p.DisplayName, roles, p.Scopes,
            Organization: p.Organization,
            Practitioner: fhirUser?.StartsWith("Practitioner/", StringComparison.Ordinal) == true ? fhirUser : null,
            Patient: Ref(p.Patient, "Patient"),
            Jurisdiction: p.Jurisdiction,
            PurposeOfUse: p.PurposeOfUse,
            ClientId: p.ClientId,
            FhirUser: fhirUser is null ? null : Ref(fhirUser, "Practitioner"));
    }

    private static Task ChallengeAsync(HttpContext ctx, string? error, string message)
    {
        var challenge = "Bearer realm=\"fhirarchive\"";
        if (error is not null) challenge += $", error=\"{error}\", error_description=\"{message.Replace("\"", "'")}\"";
        ctx.Response.Headers.WWWAuthenticate = challenge;
        return FhirFormats.WriteNodeAsync(ctx, 401, OperationOutcomes.Create(IssueSeverity.Error, "login", message));
    }
}

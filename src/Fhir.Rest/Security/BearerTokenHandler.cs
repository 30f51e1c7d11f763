using System.Security.Claims;
using System.Text.Encodings.Web;
using FhirArchive.Auth;
using FhirArchive.Auth.Endpoints;
using FhirArchive.Auth.Tokens;
using FhirArchive.Fhir.Outcomes;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace FhirArchive.Rest.Security;

/// <summary>
/// The ASP.NET Core authentication scheme of the FHIR API: the request's Bearer token, validated through
/// <see cref="ValidatedTokenCache"/>, becomes its <see cref="Caller"/> (set on the request, for
/// <see cref="CallerHttpContextExtensions.GetCaller"/>) and its <see cref="HttpContext.User"/>. No or an invalid token is
/// challenged with a 401, WWW-Authenticate and an OperationOutcome. Open endpoints are not authenticated: their callers
/// stay anonymous, whatever token they send.
/// </summary>
public sealed class BearerTokenHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> schemes, ILoggerFactory logger, UrlEncoder encoder,
    ValidatedTokenCache tokens, TokenService tokenService, AuthOptions options, IAuthEvents events)
    : AuthenticationHandler<AuthenticationSchemeOptions>(schemes, logger, encoder)
{
    public const string SchemeName = "FhirBearer";
    public const string PurposeHeader = "X-Purpose-Of-Use";

    /// <summary>Who calls when Security:Enabled is false (benchmarks, local development only).</summary>
    public static readonly Caller Unsecured = new(CallerKind.System, "security-disabled", "Security disabled", new HashSet<string> { Roles.Server }, ["system/*.cruds"]);

    /// <summary>A token that did not validate (the challenge names why); any other failure is thrown as it is.</summary>
    public sealed class InvalidTokenException(string reason) : Exception(reason);

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (RequestRoute.IsOpen(Context)) return AuthenticateResult.NoResult();
        if (!options.Enabled) return Success(Unsecured);
        var header = Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || header.Length <= 7) return AuthenticateResult.NoResult();
        var baseUrl = AuthEndpoints.BaseUrl(Context, options);
        var result = await tokens.ValidateAsync(header[7..].Trim(), baseUrl);
        if (result.Principal is not { } principal)
        {
            await events.TokenRejectedAsync(result.Error!, Context.Connection.RemoteIpAddress?.ToString());
            return AuthenticateResult.Fail(new InvalidTokenException(result.Error!));
        }
        var caller = ToCaller(principal, tokenService.IsOwnIssuer(principal.Issuer, baseUrl));
        if (Request.Headers[PurposeHeader].ToString() is { Length: > 0 } purpose)
        {
            if (!RolePolicy.MayClaim(caller.Roles, purpose) && !caller.HasRole(Roles.Server))
                return AuthenticateResult.Fail(new FhirException(403, "forbidden", $"The purpose of use {purpose} may not be claimed by the role {string.Join(", ", caller.Roles)}."));
            caller = caller with { PurposeOfUse = purpose };
        }
        return Success(caller);
    }

    private AuthenticateResult Success(Caller caller)
    {
        Context.SetCaller(caller);
        var claims = new List<Claim>(caller.Roles.Count + 1) { new(ClaimTypes.NameIdentifier, caller.Subject) };
        foreach (var role in caller.Roles) claims.Add(new Claim(ClaimTypes.Role, role));
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName)), SchemeName));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var (error, message) = (await HandleAuthenticateOnceSafeAsync()).Failure is InvalidTokenException invalid
            ? ("invalid_token", $"The access token is not valid: {invalid.Message}.")
            : ((string?)null, "An access token is required (Authorization: Bearer ...). See /.well-known/smart-configuration.");
        var challenge = "Bearer realm=\"fhirarchive\"";
        if (error is not null) challenge += $", error=\"{error}\", error_description=\"{message.Replace("\"", "'")}\"";
        Response.Headers.WWWAuthenticate = challenge;
        await FhirFormats.WriteNodeAsync(Context, 401, OperationOutcomes.Create(IssueSeverity.Error, "login", message));
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
}

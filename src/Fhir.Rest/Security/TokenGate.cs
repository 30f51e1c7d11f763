using System.Runtime.ExceptionServices;
using FhirArchive.Rest.Access;
using Microsoft.AspNetCore.Authentication;

namespace FhirArchive.Rest.Security;

/// <summary>
/// Refuses what the request's token may not do, after authentication (<see cref="BearerTokenHandler"/>): no or an
/// invalid token → the scheme's 401 challenge; an interaction outside the scopes or the roles → 403. Only open
/// endpoints pass without a token (<see cref="RequestRoute.IsOpen"/>: the CapabilityStatement, SMART discovery, the
/// auth endpoints and login page, /health and Swagger UI).
/// </summary>
public sealed class TokenGate(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext ctx)
    {
        // The hot path: UseAuthentication succeeded and left its result as a feature (an open endpoint never succeeds:
        // its handler gives no result), so neither the route nor the authentication service is asked again.
        var result = ctx.Features.Get<IAuthenticateResultFeature>()?.AuthenticateResult;
        if (result is not { Succeeded: true })
        {
            if (RequestRoute.IsOpen(ctx))
            {
                await next(ctx);
                return;
            }
            result = await ctx.AuthenticateAsync(BearerTokenHandler.SchemeName);
            if (result.Failure is { } failure and not BearerTokenHandler.InvalidTokenException) ExceptionDispatchInfo.Throw(failure);
            if (!result.Succeeded)
            {
                await ctx.ChallengeAsync(BearerTokenHandler.SchemeName);
                return;
            }
        }
        if (FhirInteraction.Of(RequestRoute.InteractionOf(ctx)) is { } interaction)
            InteractionAuthorizer.Check(ctx, interaction);
        await next(ctx);
    }
}

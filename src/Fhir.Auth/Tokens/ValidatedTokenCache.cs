using Microsoft.Extensions.Caching.Memory;

namespace FhirArchive.Auth.Tokens;

/// <summary>
/// Remembers the tokens that validated, until they expire: checking a signature costs a fraction of a millisecond,
/// which every request would otherwise pay again for the same token. A hit still checks expiry against the clock and
/// revocation of the token or its grant (<see cref="RevocationList"/>: in memory, refreshed from the database every few seconds, so a revocation
/// by another server instance counts too), so an expired or revoked token is refused exactly as on first sight.
/// </summary>
public sealed class ValidatedTokenCache(TokenService tokens, RevocationList revocations, AuthOptions options, TimeProvider clock)
{
    private const int Capacity = 10_000;
    private readonly MemoryCache _valid = new(new MemoryCacheOptions { SizeLimit = Capacity });

    public async Task<TokenService.Result> ValidateAsync(string token, string baseUrl)
    {
        if (_valid.TryGetValue((token, baseUrl), out TokenPrincipal? hit) && hit is not null)
        {
            if (hit.ExpiresAt is { } exp && exp + options.ClockSkew < clock.GetUtcNow())
            {
                _valid.Remove((token, baseUrl));
                return new(null, "token expired");
            }
            if (await revocations.IsRevokedAsync(hit)) return new(null, "token revoked");
            return new(hit, null);
        }
        var result = await tokens.ValidateAsync(token, baseUrl);
        // Only tokens that say when they end are kept (validation requires an expiry anyway).
        if (result.Principal is { ExpiresAt: not null } principal)
            _valid.Set((token, baseUrl), principal, new MemoryCacheEntryOptions { Size = 1 });
        return result;
    }
}

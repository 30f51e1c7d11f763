using Microsoft.IdentityModel.Tokens;

namespace FhirArchive.Auth.Tokens;

/// <summary>
/// Configured external OpenID Connect providers and their keys: a JWKS file is read once; a JWKS URL is fetched on
/// first use and again at most every ten minutes (key rotation).
/// </summary>
public sealed class ExternalProviders(AuthOptions options, IHttpClientFactory? http = null)
{
    private readonly Dictionary<string, (DateTimeOffset At, IList<SecurityKey> Keys)> _cache = new();
    private readonly SemaphoreSlim _lock = new(1, 1);

    public ExternalProviderOptions? Find(string? issuer) =>
        issuer is null ? null : options.External.FirstOrDefault(p => p.Issuer == issuer);

    public async Task<IList<SecurityKey>> KeysAsync(ExternalProviderOptions p)
    {
        await _lock.WaitAsync();
        try
        {
            if (_cache.TryGetValue(p.Issuer, out var c) && (p.JwksUrl is null || DateTimeOffset.UtcNow - c.At < TimeSpan.FromMinutes(10)))
                return c.Keys;
            string json;
            if (p.JwksFile is not null) json = await File.ReadAllTextAsync(p.JwksFile);
            else if (p.JwksUrl is not null)
            {
                using var client = http?.CreateClient("jwks") ?? new HttpClient();
                client.Timeout = TimeSpan.FromSeconds(10);
                json = await client.GetStringAsync(p.JwksUrl);
            }
            else throw new InvalidOperationException($"External provider {p.Issuer} has neither JwksFile nor JwksUrl.");
            var keys = new JsonWebKeySet(json).GetSigningKeys();
            _cache[p.Issuer] = (DateTimeOffset.UtcNow, keys);
            return keys;
        }
        finally { _lock.Release(); }
    }
}

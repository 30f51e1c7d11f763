using System.Collections.Concurrent;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace FhirArchive.Auth.Tokens;

/// <summary>
/// Configured external OpenID Connect providers and their signing keys. A JWKS file is read once. A JWKS URL or a
/// discovery document (MetadataUrl, <c>.well-known/openid-configuration</c>, whose <c>jwks_uri</c> is followed) is
/// fetched by the platform's <see cref="ConfigurationManager{T}"/> — what ASP.NET Core's JwtBearer uses: kept
/// and served without a lock, refreshed every ten minutes in the background, and refreshed early (in the background
/// too, at most every five minutes) when a token names a key it does not have (<see cref="RequestRefresh"/>), so a
/// provider's key rotation is followed within moments instead of ten minutes. HTTPS only, except on the loopback.
/// </summary>
public sealed class ExternalProviders(AuthOptions options, IHttpClientFactory? http = null, IDocumentRetriever? documents = null)
{
    public static readonly TimeSpan RefreshEvery = TimeSpan.FromMinutes(10);

    private readonly ConcurrentDictionary<string, Lazy<IConfigurationManager<OpenIdConnectConfiguration>>> _managers = new();
    private readonly ConcurrentDictionary<string, Lazy<Task<IList<SecurityKey>>>> _files = new();

    public ExternalProviderOptions? Find(string? issuer) =>
        issuer is null ? null : options.External.FirstOrDefault(p => p.Issuer == issuer);

    public async Task<IList<SecurityKey>> KeysAsync(ExternalProviderOptions p, CancellationToken ct = default)
    {
        if (p.JwksFile is { } file)
            return await _files.GetOrAdd(p.Issuer, _ => new(async () => new JsonWebKeySet(await File.ReadAllTextAsync(file, CancellationToken.None)).GetSigningKeys())).Value;
        var configuration = await Manager(p).GetConfigurationAsync(ct);
        return configuration.SigningKeys.ToList();
    }

    /// <summary>A token named a key the provider's set lacks: fetch the set again before the next validation (rate-limited).</summary>
    public void RequestRefresh(ExternalProviderOptions p)
    {
        if (p.JwksFile is null) Manager(p).RequestRefresh();
    }

    private IConfigurationManager<OpenIdConnectConfiguration> Manager(ExternalProviderOptions p) =>
        _managers.GetOrAdd(p.Issuer, _ => new(() => CreateManager(p))).Value;

    private ConfigurationManager<OpenIdConnectConfiguration> CreateManager(ExternalProviderOptions p)
    {
        var (address, retriever) = p switch
        {
            { MetadataUrl: { } metadata } => (metadata, (IConfigurationRetriever<OpenIdConnectConfiguration>)new OpenIdConnectConfigurationRetriever()),
            { JwksUrl: { } jwks } => (jwks, new JwksRetriever()),
            _ => throw new InvalidOperationException($"External provider {p.Issuer} has none of JwksFile, JwksUrl and MetadataUrl."),
        };
        var loopback = Uri.TryCreate(address, UriKind.Absolute, out var uri) && uri.IsLoopback;
        var client = http?.CreateClient("jwks") ?? new HttpClient();
        client.Timeout = TimeSpan.FromSeconds(10);
        return new ConfigurationManager<OpenIdConnectConfiguration>(address, retriever, documents ?? new HttpDocumentRetriever(client) { RequireHttps = !loopback })
        {
            AutomaticRefreshInterval = RefreshEvery,
        };
    }

    /// <summary>A bare JWKS address (no discovery document): the key set is the configuration.</summary>
    private sealed class JwksRetriever : IConfigurationRetriever<OpenIdConnectConfiguration>
    {
        public async Task<OpenIdConnectConfiguration> GetConfigurationAsync(string address, IDocumentRetriever retriever, CancellationToken cancel)
        {
            var set = new JsonWebKeySet(await retriever.GetDocumentAsync(address, cancel));
            var configuration = new OpenIdConnectConfiguration { JwksUri = address, JsonWebKeySet = set };
            foreach (var key in set.GetSigningKeys()) configuration.SigningKeys.Add(key);
            return configuration;
        }
    }
}

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
/// provider's key rotation is followed within moments instead of ten minutes. Every address fetched (the discovery
/// document and the jwks_uri it names) must be HTTPS, except on the loopback; a discovery document must name the
/// configured issuer (OpenID Connect Discovery 1.0 §4.3). Keys that could not be had (provider down, file not yet
/// written, wrong issuer) are tried again after <see cref="RetryAfterFailure"/>, never per token.
/// </summary>
public sealed class ExternalProviders(AuthOptions options, IHttpClientFactory? http = null, IDocumentRetriever? documents = null, TimeProvider? clock = null)
{
    public static readonly TimeSpan RefreshEvery = TimeSpan.FromMinutes(10);
    public static readonly TimeSpan RetryAfterFailure = TimeSpan.FromSeconds(30);

    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly ConcurrentDictionary<string, Lazy<IConfigurationManager<OpenIdConnectConfiguration>>> _managers = new();
    private readonly ConcurrentDictionary<string, Lazy<Task<IList<SecurityKey>>>> _files = new();
    /// <summary>When each provider's keys last failed to load, and why: until the retry is due, the same failure.</summary>
    private readonly ConcurrentDictionary<string, (DateTimeOffset At, Exception Error)> _failures = new();

    public ExternalProviderOptions? Find(string? issuer) =>
        issuer is null ? null : options.External.FirstOrDefault(p => p.Issuer == issuer);

    public async Task<IList<SecurityKey>> KeysAsync(ExternalProviderOptions p, CancellationToken ct = default)
    {
        if (_failures.TryGetValue(p.Issuer, out var failed))
        {
            if (_clock.GetUtcNow() - failed.At < RetryAfterFailure) throw failed.Error;
            // Due: load afresh (a new manager, the file read again), not the cached failure.
            _managers.TryRemove(p.Issuer, out _);
            _files.TryRemove(p.Issuer, out _);
            _failures.TryRemove(p.Issuer, out _);
        }
        try
        {
            if (p.JwksFile is { } file)
                return await _files.GetOrAdd(p.Issuer, _ => new(async () => new JsonWebKeySet(await File.ReadAllTextAsync(file, CancellationToken.None)).GetSigningKeys())).Value;
            var configuration = await Manager(p).GetConfigurationAsync(ct);
            if (p.MetadataUrl is not null && configuration.Issuer != p.Issuer)
                throw new InvalidOperationException($"The discovery document at {p.MetadataUrl} names issuer '{configuration.Issuer}', not '{p.Issuer}'.");
            return configuration.SigningKeys.ToList();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _failures[p.Issuer] = (_clock.GetUtcNow(), e);
            throw;
        }
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
        var fetch = documents ?? new HttpDocumentRetriever(Client()) { RequireHttps = false };
        return new ConfigurationManager<OpenIdConnectConfiguration>(address, retriever, new HttpsOnly(fetch))
        {
            AutomaticRefreshInterval = RefreshEvery,
        };
    }

    private HttpClient Client()
    {
        var client = http?.CreateClient("jwks") ?? new HttpClient();
        client.Timeout = TimeSpan.FromSeconds(10);
        return client;
    }

    /// <summary>
    /// Each address fetched must be HTTPS or on the loopback: the discovery document's jwks_uri too, which the
    /// platform's own check (decided once per retriever) would let through on a loopback discovery address.
    /// </summary>
    private sealed class HttpsOnly(IDocumentRetriever inner) : IDocumentRetriever
    {
        public Task<string> GetDocumentAsync(string address, CancellationToken cancel) =>
            Uri.TryCreate(address, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.IsLoopback)
                ? inner.GetDocumentAsync(address, cancel)
                : throw new ArgumentException($"Keys are fetched over HTTPS only (or on the loopback): {address}");
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

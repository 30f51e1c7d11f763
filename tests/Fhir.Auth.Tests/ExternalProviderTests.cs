using System.Security.Cryptography;
using FhirArchive.Auth.Keys;
using FhirArchive.Auth.Tokens;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Tokens;
using Xunit;

namespace FhirArchive.Auth.Tests;

/// <summary>
/// External providers' keys fetched by the platform's ConfigurationManager (JWKS URL or OpenID Connect discovery),
/// served here by an in-memory document retriever: tokens validate, a rotated key is fetched when a token names it,
/// and keys that cannot be had refuse the token (never an exception).
/// </summary>
public sealed class ExternalProviderTests : IAsyncLifetime
{
    private const string Issuer = "https://idp.example.test";
    private const string Audience = "http://x";
    private TempAuthState _state = null!;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "fhirarchive-ext-" + Guid.NewGuid().ToString("N"));

    public async Task InitializeAsync() => _state = await TempAuthState.CreateAsync();

    public async Task DisposeAsync()
    {
        await _state.DisposeAsync();
        if (Directory.Exists(_folder)) Directory.Delete(_folder, true);
    }

    /// <summary>Documents by address; counts the fetches and tells when the second one was served.</summary>
    private sealed class Documents : IDocumentRetriever
    {
        public System.Collections.Concurrent.ConcurrentDictionary<string, string> Served { get; } = [];
        public int Fetches;
        public TaskCompletionSource SecondFetch { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public System.Collections.Concurrent.ConcurrentBag<string> Requested { get; } = [];

        public Task<string> GetDocumentAsync(string address, CancellationToken cancel)
        {
            Requested.Add(address);
            var n = Interlocked.Increment(ref Fetches);
            if (!Served.TryGetValue(address, out var d)) throw new IOException($"no document at {address}");
            if (n == 2) _ = Task.Run(SecondFetch.SetResult, CancellationToken.None); // after this fetch's answer is taken in
            return Task.FromResult(d);
        }
    }

    private readonly ManualClock _clock = new();

    private TokenService Service(ExternalProviderOptions provider, IDocumentRetriever documents)
    {
        var options = new AuthOptions { External = [provider] };
        return new TokenService(options, new SigningKeys(options, Path.Combine(_folder, "key.pem")), new ExternalProviders(options, null, documents, _clock),
            new RevocationList(_state.Store, options, TimeProvider.System), TimeProvider.System);
    }

    private static string Token(RSA key, string kid)
    {
        var now = DateTime.UtcNow;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer, Audience = Audience, IssuedAt = now, NotBefore = now, Expires = now.AddMinutes(5),
            Claims = new Dictionary<string, object> { ["sub"] = "ext-user", ["roles"] = new[] { "clinician" } },
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(key) { KeyId = kid }, SecurityAlgorithms.RsaSha256),
        });
    }

    [Fact]
    public async Task A_token_validates_with_keys_from_a_JWKS_url_and_a_rotated_key_is_fetched_when_a_token_names_it()
    {
        using RSA first = RSA.Create(2048), second = RSA.Create(2048);
        var documents = new Documents();
        documents.Served["https://idp.example.test/jwks"] = SecurityFixture.Jwks(first, "k1", "RS256");
        var service = Service(new ExternalProviderOptions { Issuer = Issuer, JwksUrl = "https://idp.example.test/jwks", Audience = Audience }, documents);

        var result = await service.ValidateAsync(Token(first, "k1"), Audience);
        Assert.True(result.IsValid, result.Error);
        Assert.Equal("ext-user", result.Principal!.Subject);
        Assert.True((await service.ValidateAsync(Token(first, "k1"), Audience)).IsValid);
        Assert.Equal(1, documents.Fetches); // kept, not fetched per token

        // The provider rotates to a new key: the first token naming it is refused but makes the set be fetched again
        // (in the background, as the platform does); then tokens under the new key validate.
        documents.Served["https://idp.example.test/jwks"] = SecurityFixture.Jwks(second, "k2", "RS256");
        Assert.Equal("invalid signature", (await service.ValidateAsync(Token(second, "k2"), Audience)).Error);
        await documents.SecondFetch.Task.WaitAsync(TimeSpan.FromMinutes(1));
        var rotated = await Eventually(() => service.ValidateAsync(Token(second, "k2"), Audience));
        Assert.True(rotated.IsValid, rotated.Error);
        Assert.Equal(2, documents.Fetches);
        // A key no one published stays unknown: refused, and the set is not fetched again for each such token.
        using var stranger = RSA.Create(2048);
        for (var i = 0; i < 3; i++) Assert.Equal("invalid signature", (await service.ValidateAsync(Token(stranger, "k3"), Audience)).Error);
        Assert.Equal(2, documents.Fetches);
    }

    /// <summary>
    /// The refreshed set is swapped in by the platform's background task just after its fetch returns: validation is
    /// tried again until it takes (a few scheduler turns), not timed.
    /// </summary>
    private static async Task<TokenService.Result> Eventually(Func<Task<TokenService.Result>> validate)
    {
        var result = await validate();
        for (var i = 0; i < 1000 && !result.IsValid; i++)
        {
            await Task.Yield();
            await Task.Delay(1);
            result = await validate();
        }
        return result;
    }

    [Fact]
    public async Task A_token_validates_with_keys_found_through_the_providers_discovery_document()
    {
        using var key = RSA.Create(2048);
        var documents = new Documents();
        documents.Served["https://idp.example.test/.well-known/openid-configuration"] =
            $$"""{"issuer":"{{Issuer}}","jwks_uri":"https://idp.example.test/keys","authorization_endpoint":"https://idp.example.test/authorize"}""";
        documents.Served["https://idp.example.test/keys"] = SecurityFixture.Jwks(key, "d1", "RS256");
        var service = Service(new ExternalProviderOptions { Issuer = Issuer, MetadataUrl = "https://idp.example.test/.well-known/openid-configuration", Audience = Audience }, documents);
        var result = await service.ValidateAsync(Token(key, "d1"), Audience);
        Assert.True(result.IsValid, result.Error);
    }

    [Fact]
    public async Task Keys_that_cannot_be_had_refuse_the_token_without_an_exception()
    {
        using var key = RSA.Create(2048);
        // Nothing served at the address.
        var unreachable = Service(new ExternalProviderOptions { Issuer = Issuer, JwksUrl = "https://idp.example.test/jwks", Audience = Audience }, new Documents());
        Assert.Equal("the issuer's signing keys are unavailable", (await unreachable.ValidateAsync(Token(key, "k1"), Audience)).Error);
        // Plain HTTP to another host: the platform's retriever refuses it before any request.
        var options = new AuthOptions { External = [new ExternalProviderOptions { Issuer = Issuer, JwksUrl = "http://idp.example.test/jwks", Audience = Audience }] };
        var http = new TokenService(options, new SigningKeys(options, Path.Combine(_folder, "key.pem")), new ExternalProviders(options),
            new RevocationList(_state.Store, options, TimeProvider.System), TimeProvider.System);
        Assert.Equal("the issuer's signing keys are unavailable", (await http.ValidateAsync(Token(key, "k1"), Audience)).Error);
        // A file that is not a key set.
        Directory.CreateDirectory(_folder);
        var file = Path.Combine(_folder, "not-jwks.json");
        await File.WriteAllTextAsync(file, "not json");
        var broken = Service(new ExternalProviderOptions { Issuer = Issuer, JwksFile = file, Audience = Audience }, new Documents());
        Assert.Equal("the issuer's signing keys are unavailable", (await broken.ValidateAsync(Token(key, "k1"), Audience)).Error);
    }

    [Fact]
    public async Task A_discovery_document_naming_another_issuer_or_plain_http_keys_is_refused()
    {
        using var key = RSA.Create(2048);
        const string metadata = "https://idp.example.test/.well-known/openid-configuration";
        // OpenID Connect Discovery 1.0 §4.3: the document's issuer must be exactly the issuer configured.
        var documents = new Documents();
        documents.Served[metadata] = """{"issuer":"https://evil.example.test","jwks_uri":"https://idp.example.test/keys"}""";
        documents.Served["https://idp.example.test/keys"] = SecurityFixture.Jwks(key, "d1", "RS256");
        var other = Service(new ExternalProviderOptions { Issuer = Issuer, MetadataUrl = metadata, Audience = Audience }, documents);
        Assert.Equal("the issuer's signing keys are unavailable", (await other.ValidateAsync(Token(key, "d1"), Audience)).Error);

        // A jwks_uri over plain HTTP to another host is not followed, whatever retriever serves the documents.
        var plain = new Documents();
        plain.Served[metadata] = $$"""{"issuer":"{{Issuer}}","jwks_uri":"http://idp.example.test/keys"}""";
        plain.Served["http://idp.example.test/keys"] = SecurityFixture.Jwks(key, "d1", "RS256");
        var http = Service(new ExternalProviderOptions { Issuer = Issuer, MetadataUrl = metadata, Audience = Audience }, plain);
        Assert.Equal("the issuer's signing keys are unavailable", (await http.ValidateAsync(Token(key, "d1"), Audience)).Error);
        Assert.DoesNotContain("http://idp.example.test/keys", plain.Requested);
    }

    [Fact]
    public async Task Keys_that_could_not_be_had_are_tried_again_and_tokens_validate_once_they_are_there()
    {
        using var key = RSA.Create(2048);
        // A JWKS URL that does not answer at first (the provider is down when the server starts).
        var documents = new Documents();
        var service = Service(new ExternalProviderOptions { Issuer = Issuer, JwksUrl = "https://idp.example.test/jwks", Audience = Audience }, documents);
        Assert.Equal("the issuer's signing keys are unavailable", (await service.ValidateAsync(Token(key, "k1"), Audience)).Error);
        documents.Served["https://idp.example.test/jwks"] = SecurityFixture.Jwks(key, "k1", "RS256");
        // Not fetched again for each token while the failure is fresh; fetched again once the retry is due.
        Assert.Equal("the issuer's signing keys are unavailable", (await service.ValidateAsync(Token(key, "k1"), Audience)).Error);
        Assert.Equal(1, documents.Fetches);
        _clock.Now += ExternalProviders.RetryAfterFailure;
        var later = await service.ValidateAsync(Token(key, "k1"), Audience);
        Assert.True(later.IsValid, later.Error);

        // A JWKS file that is missing at first, then written.
        Directory.CreateDirectory(_folder);
        var file = Path.Combine(_folder, "late-jwks.json");
        var fromFile = Service(new ExternalProviderOptions { Issuer = Issuer, JwksFile = file, Audience = Audience }, new Documents());
        Assert.Equal("the issuer's signing keys are unavailable", (await fromFile.ValidateAsync(Token(key, "k1"), Audience)).Error);
        await File.WriteAllTextAsync(file, SecurityFixture.Jwks(key, "k1", "RS256"));
        _clock.Now += ExternalProviders.RetryAfterFailure;
        var written = await fromFile.ValidateAsync(Token(key, "k1"), Audience);
        Assert.True(written.IsValid, written.Error);
    }
}

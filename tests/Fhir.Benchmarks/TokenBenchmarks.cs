using BenchmarkDotNet.Attributes;
using FhirArchive.Auth;
using FhirArchive.Auth.Keys;
using FhirArchive.Auth.Scopes;
using FhirArchive.Auth.Tokens;
using FhirArchive.Storage;
using FhirArchive.Storage.AuthState;
using Microsoft.Extensions.DependencyInjection;

namespace FhirArchive.Benchmarks;

/// <summary>
/// What authentication costs every request: validating the Bearer token (signature, issuer, audience, lifetime,
/// deny-list, claims → principal) with RS256 and ES256 keys, and the scope check; minting shown for comparison.
/// The deny-list is the database's (SQLite in a temp folder), read through <see cref="RevocationList"/>: the cached
/// path with the default refresh interval, and with a database query on every request for comparison.
/// </summary>
[MemoryDiagnoser]
public class TokenBenchmarks
{
    private const string BaseUrl = "http://127.0.0.1:8080";
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "fhirarchive-bench-keys-" + Guid.NewGuid().ToString("N"));
    private TokenService _rs = null!, _es = null!;
    private string _rsToken = null!, _esToken = null!;
    private readonly TokenPrincipal _principal = new("chaoyang-his", false, "朝阳区社区卫生服务中心 HIS", ["system"], ["system/*.cruds"], "chaoyang-his", "Organization/bj-chaoyang-hospital");

    private ValidatedTokenCache _rsCache = null!, _rsCachePollEveryRequest = null!;
    private ServiceProvider _storage = null!;
    private AuthStateStore _state = null!;

    [GlobalSetup]
    public void Setup()
    {
        _storage = new ServiceCollection().AddFhirStorage(new StorageOptions { DataFolder = Path.Combine(_folder, "db") }).BuildServiceProvider();
        _storage.GetRequiredService<IResourceStore>().InitializeAsync().GetAwaiter().GetResult();
        _state = _storage.GetRequiredService<AuthStateStore>();
        (_rs, _rsToken) = Service("RS256");
        var options = new AuthOptions();
        _rsCache = new ValidatedTokenCache(_rs, new RevocationList(_state, options, TimeProvider.System), options, TimeProvider.System);
        var everyRequest = new AuthOptions { RevocationRefreshInterval = TimeSpan.Zero };
        _rsCachePollEveryRequest = new ValidatedTokenCache(_rs, new RevocationList(_state, everyRequest, TimeProvider.System), everyRequest, TimeProvider.System);
        (_es, _esToken) = Service("ES256");
        if (!_rs.ValidateAsync(_rsToken, BaseUrl).GetAwaiter().GetResult().IsValid || !_es.ValidateAsync(_esToken, BaseUrl).GetAwaiter().GetResult().IsValid)
            throw new InvalidOperationException("the benchmark tokens must validate");
    }

    private (TokenService, string) Service(string alg)
    {
        var options = new AuthOptions { SigningAlgorithm = alg };
        var keys = new SigningKeys(options, Path.Combine(_folder, alg + ".pem"));
        var service = new TokenService(options, keys, new ExternalProviders(options), new RevocationList(_state, options, TimeProvider.System), TimeProvider.System);
        return (service, service.CreateAccessToken(_principal, BaseUrl).Token);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _storage.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, true);
    }

    [Benchmark(Baseline = true)]
    public async Task<bool> ValidateRs256() => (await _rs.ValidateAsync(_rsToken, BaseUrl)).IsValid;

    [Benchmark]
    public async Task<bool> ValidateEs256() => (await _es.ValidateAsync(_esToken, BaseUrl)).IsValid;

    /// <summary>What a request with a token seen before costs (the authentication middleware's path).</summary>
    [Benchmark]
    public async Task<bool> ValidateRs256Cached() => (await _rsCache.ValidateAsync(_rsToken, BaseUrl)).IsValid;

    /// <summary>The same with the revocation list asked of the database on every request (RevocationRefreshInterval 0).</summary>
    [Benchmark]
    public async Task<bool> ValidateRs256CachedPollEveryRequest() => (await _rsCachePollEveryRequest.ValidateAsync(_rsToken, BaseUrl)).IsValid;

    [Benchmark]
    public bool ScopeCheck() => _principal.Scopes.Select(SmartScope.Parse).Any(s => s is not null && s.AppliesTo("Observation") && s.Permissions.HasFlag(Permission.Read));

    [Benchmark]
    public string MintRs256() => _rs.CreateAccessToken(_principal, BaseUrl).Token;
}

using System.Net.Http.Headers;
using System.Text.Json;
using FhirArchive.Server.SampleData;
using Hl7.Fhir.Rest;
using Xunit;

namespace FhirArchive.Client.Tests;

/// <summary>
/// The real host on 127.0.0.1 (a port the OS picks), a throwaway SQLite database with the sample data, the record
/// profiles and consent rules as shipped, the demo accounts on: what an integrator meets on a demo server.
/// </summary>
public sealed class FirelyServer() : ServerFixture(Settings, null, shippedRecordProfiles: true, kestrel: true)
{
    private static readonly Dictionary<string, string> Settings = new()
    {
        ["SampleData:Load"] = "true",
        ["Security:DemoAccounts"] = "true",
        ["Records:LostToFollowUpJob"] = "false",
    };

    /// <summary>The FHIR base as clients see it, without the trailing slash (the tokens' issuer and audience).</summary>
    public string Base => BaseAddress.ToString().TrimEnd('/');

    private readonly SystemToken _token = new();

    /// <summary>
    /// A FhirClient for the demo hospital system (client_credentials, system/*.cruds, acting for 北京市朝阳区社区卫生服务中心)
    /// in this format; every answer passes <see cref="StrictReparse"/> first.
    /// </summary>
    /// <param name="endpoint">Where the client sends its requests (default the server's base; the token is always
    /// fetched from the base the server announces).</param>
    public FirelyClient Connect(ResourceFormat format, Uri? endpoint = null)
    {
        var strict = new StrictReparse(format) { InnerHandler = new BearerToken(_token, Base) { InnerHandler = new SocketsHttpHandler() } };
        var settings = new FhirClientSettings
        {
            PreferredFormat = format,
            VerifyFhirVersion = false,
            ReturnPreference = ReturnPreference.Representation,
            Timeout = 60_000,
        };
        var client = new FhirClient(endpoint ?? BaseAddress, settings, strict);
        client.WithStrictSerializer();
        return new FirelyClient(client, strict);
    }

    /// <summary>The system client's access token, fetched from /auth/token once and again before it expires.</summary>
    private sealed class SystemToken
    {
        private readonly SemaphoreSlim _lock = new(1, 1);
        private string? _token;
        private DateTimeOffset _expires;

        public async Task<string> GetAsync(HttpMessageInvoker inner, string baseUrl, CancellationToken ct)
        {
            await _lock.WaitAsync(ct);
            try
            {
                if (_token is not null && _expires > DateTimeOffset.UtcNow.AddMinutes(1)) return _token;
                var request = new HttpRequestMessage(HttpMethod.Post, baseUrl + "/auth/token")
                {
                    Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["scope"] = "system/*.cruds" }),
                };
                request.Headers.Authorization = new AuthenticationHeaderValue("Basic",
                    Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{DemoAccounts.HospitalClient}:chaoyang-his-secret-2024")));
                using var response = await inner.SendAsync(request, ct);
                var body = await response.Content.ReadAsStringAsync(ct);
                Assert.True(response.IsSuccessStatusCode, "token request failed: " + body);
                var json = JsonDocument.Parse(body).RootElement;
                _token = json.GetProperty("access_token").GetString()!;
                _expires = DateTimeOffset.UtcNow.AddSeconds(json.GetProperty("expires_in").GetInt32());
                return _token;
            }
            finally { _lock.Release(); }
        }
    }

    /// <summary>Gives every request the system client's bearer token (the token request itself goes around it).</summary>
    private sealed class BearerToken(SystemToken token, string baseUrl) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
        {
            request.Headers.Authorization ??= new AuthenticationHeaderValue("Bearer", await token.GetAsync(new HttpMessageInvoker(InnerHandler!, false), baseUrl, ct));
            return await base.SendAsync(request, ct);
        }
    }
}

/// <summary>A FhirClient and the handler that re-parsed its answers (what it saw, for assertions on raw answers).</summary>
public sealed class FirelyClient(FhirClient fhir, StrictReparse strict) : IDisposable
{
    public FhirClient Fhir { get; } = fhir;
    public StrictReparse Strict { get; } = strict;

    public void Dispose()
    {
        Fhir.Dispose();
        Strict.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class FirelyCollection : ICollectionFixture<FirelyServer>
{
    public const string Name = "Firely client against the running server";
}

using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace FhirArchive.Server.Tests.Hostile;

/// <summary>The real host on a free loopback port: the web layer's own limits (414, 431) only show under Kestrel.</summary>
public sealed class KestrelHost : IAsyncLifetime
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "fhirarchive-kestrel-" + Guid.NewGuid().ToString("N"));
    private WebApplication? _app;
    public HttpClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_folder);
        _app = FhirServer.Build(["--urls", "http://127.0.0.1:0", $"--Storage:DataFolder={_folder}", "--SampleData:Load=false",
            "--ConformanceResources:Load=false", "--Security:DemoAccounts=false"]);
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Client = new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromSeconds(30) };
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }
}

public sealed class KestrelLimitTests(KestrelHost host) : IClassFixture<KestrelHost>
{
    private static async Task AssertOutcomeAsync(HttpResponseMessage r, HttpStatusCode status, string says)
    {
        var body = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == status, $"expected {status}, got {r.StatusCode}: '{body}'");
        Assert.Contains("OperationOutcome", body);
        Assert.Contains(says, body);
    }

    [Fact]
    public async Task A_url_over_8_KB_is_a_414_outcome()
    {
        await AssertOutcomeAsync(await host.Client.GetAsync("/Patient?name=" + new string('a', 9000)), HttpStatusCode.RequestUriTooLong, "at most 8,192");
        await AssertOutcomeAsync(await host.Client.GetAsync("/Patient?name=" + new string('a', 100_000)), HttpStatusCode.RequestUriTooLong, "at most 8,192");
    }

    [Fact]
    public async Task Headers_over_32_KB_or_100_fields_are_a_431_outcome()
    {
        var big = new HttpRequestMessage(HttpMethod.Get, "/metadata");
        big.Headers.TryAddWithoutValidation("X-Big", new string('h', 40_000));
        await AssertOutcomeAsync(await host.Client.SendAsync(big), HttpStatusCode.RequestHeaderFieldsTooLarge, "at most 32,768");
        var many = new HttpRequestMessage(HttpMethod.Get, "/metadata");
        for (var i = 0; i < 150; i++) many.Headers.TryAddWithoutValidation($"X-H{i}", "v");
        await AssertOutcomeAsync(await host.Client.SendAsync(many), HttpStatusCode.RequestHeaderFieldsTooLarge, "at most 100");
    }

    [Fact]
    public async Task A_multipart_body_without_a_boundary_is_a_400_outcome_under_Kestrel_too()
    {
        var content = new ByteArrayContent("--\r\nx"u8.ToArray());
        content.Headers.TryAddWithoutValidation("Content-Type", "multipart/form-data; boundary=");
        var r = await host.Client.PostAsync("/Observation", content);
        await AssertOutcomeAsync(r, HttpStatusCode.BadRequest, "boundary");
    }
}

using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using FhirArchive.Rest.Access;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Mvc.Testing.Handlers;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace FhirArchive.Tests.Support;

/// <summary>An in-process server on a fresh SQLite database in a temp folder (or any provider via settings).</summary>
public class ServerFixture : IDisposable
{
    private readonly string _folder;
    private readonly bool _ownsFolder;
    public WebApplicationFactory<Program> Factory { get; }
    public HttpClient Client { get; }
    /// <summary>The server's base URL: http://localhost in memory, the real http://127.0.0.1:port under Kestrel.</summary>
    public Uri BaseAddress { get; }

    public ServerFixture() : this(null, null) { }

    /// <summary>The record types whose profile appsettings.json turns on (tests that post foreign resources turn them off).</summary>
    public static readonly string[] RecordTypes = ["Patient", "Organization", "Practitioner", "Encounter", "Observation"];

    /// <param name="shippedRecordProfiles">false (most tests): the record profiles are turned off, since the suites post
    /// foreign, non-profiled resources; true: the profiles as appsettings.json ships them.</param>
    /// <param name="kestrel">true: the host listens on a real socket (127.0.0.1, a port the OS picks), for clients
    /// that bring their own HTTP stack; false: the in-memory test server.</param>
    /// <param name="folder">The data folder (SQLite database, audit journal, keys): one another instance used before, to
    /// test a restart; left in place at the end. Null: a fresh temp folder, deleted at the end.</param>
    protected ServerFixture(IDictionary<string, string>? settings, Action<IServiceCollection>? services, bool shippedRecordProfiles = false, bool kestrel = false,
        string? folder = null)
    {
        _ownsFolder = folder is null;
        _folder = folder ?? NewFolder();
        Directory.CreateDirectory(_folder);
        Factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            b.UseSetting("Storage:DataFolder", _folder);
            b.UseSetting("SampleData:Load", "false");
            b.UseSetting("ConformanceResources:Load", "false");
            // The suite's own client (unbound to any institution) acts for the platform: ordinary data of every record.
            b.UseSetting("Consent:PlatformClients:0", "test-suite");
            // The suites seed fixed ids as the callers they test (PUT as create); the default (off) is tested by the hidden-resource suites.
            b.UseSetting("Consent:UpdateCreateForAll", "true");
            if (!shippedRecordProfiles)
                foreach (var type in RecordTypes) b.UseSetting($"Validation:RecordProfiles:{type}", "");
            // Kestrel on the loopback, on a port the OS picks (the address the server reports once it listens).
            if (kestrel) b.UseSetting("urls", "http://127.0.0.1:0");
            foreach (var (k, v) in settings ?? new Dictionary<string, string>()) b.UseSetting(k, v);
            if (services is not null) b.ConfigureTestServices(services);
        });
        BaseAddress = new Uri("http://localhost");
        if (kestrel)
        {
            Factory.UseKestrel();
            Factory.StartServer();
            var address = Factory.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
            BaseAddress = new Uri(address);
        }
        Client = Factory.CreateDefaultClient(BaseAddress, new RedirectHandler(), new CookieContainerHandler(), new FullAccessToken(Factory, BaseAddress.ToString().TrimEnd('/')));
    }

    /// <summary>A fresh temp folder name for <see cref="Folder"/>.</summary>
    public static string NewFolder() => Path.Combine(Path.GetTempPath(), "fhirarchive-tests-" + Guid.NewGuid().ToString("N"));

    /// <summary>
    /// Runs a test with a data folder of its own (for servers it starts one after another on the same database, to test
    /// a restart), removed at the end.
    /// </summary>
    public static async Task WithFolderAsync(Func<string, Task> test)
    {
        var folder = NewFolder();
        try
        {
            await test(folder);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(folder, true); } catch (IOException) { }
        }
    }

    /// <summary>The server's data folder.</summary>
    public string Folder => _folder;

    /// <summary>
    /// Waits until the notification outbox is empty: every write matched, every notification sent or given up
    /// (bounded: fails after 20 s; not a timing assertion).
    /// </summary>
    public async Task OutboxEmptiedAsync()
    {
        var outbox = Factory.Services.GetRequiredService<Rest.Subscriptions.NotificationOutbox>();
        var until = DateTime.UtcNow.AddSeconds(20);
        while (await outbox.CountAsync() > 0)
        {
            if (DateTime.UtcNow > until) throw new Xunit.Sdk.XunitException("the outbox did not empty within 20 s");
            await Task.Delay(50);
        }
    }

    /// <summary>A client without a token (the negative security tests).</summary>
    public HttpClient BareClient() => Factory.CreateClient();

    /// <summary>
    /// Gives every request of <see cref="Client"/> a full-access system token minted in-process, so the suite runs
    /// with authentication on; re-minted before it expires.
    /// </summary>
    private sealed class FullAccessToken(WebApplicationFactory<Program> factory, string baseUrl) : DelegatingHandler
    {
        private string? _token;
        private DateTimeOffset _expires;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
        {
            if (request.Headers.Authorization is null)
            {
                if (_token is null || _expires < DateTimeOffset.UtcNow.AddMinutes(2))
                {
                    var principal = new Auth.TokenPrincipal("test-suite", false, "Test suite", [Roles.SystemClient], ["system/*.cruds"], "test-suite");
                    (_token, _expires) = factory.Services.GetRequiredService<Auth.Tokens.TokenService>().CreateAccessToken(principal, baseUrl);
                }
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
            }
            return base.SendAsync(request, ct);
        }
    }

    public virtual void Dispose()
    {
        Client.Dispose();
        Factory.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (_ownsFolder)
            try { Directory.Delete(_folder, true); } catch (IOException) { }
        GC.SuppressFinalize(this);
    }
}

public sealed class SampleDataFixture() : ServerFixtureWith(new Dictionary<string, string> { ["SampleData:Load"] = "true" }, null);

public class ServerFixtureWith(IDictionary<string, string>? settings, Action<IServiceCollection>? services, bool shippedRecordProfiles = false)
    : ServerFixture(settings, services, shippedRecordProfiles);

/// <summary>A server whose requests may name their caller (<see cref="TestCallers"/>).</summary>
public sealed class ServerFixtureWithCallers() : ServerFixtureWith(null, TestCallers.Register);

/// <summary>Hides resources tagged "secret" and fails hard on "Basic" reads: exercises the access hook and the 500 path.</summary>
public sealed class TestAccessPolicy : IAccessPolicy
{
    public List<string> Calls { get; } = [];

    public ValueTask OnStartAsync(AccessContext context)
    {
        lock (Calls) Calls.Add("start:" + context.Interaction);
        if (context.ResourceType == "Basic") throw new InvalidOperationException("boom");
        return ValueTask.CompletedTask;
    }

    public ValueTask<Storage.StoredResource?> ShowAsync(AccessContext context, Storage.StoredResource resource) =>
        ValueTask.FromResult<Storage.StoredResource?>((resource.Json is null || !Encoding.UTF8.GetString(resource.Json).Contains("\"secret\"")) ? resource : null);

    public ValueTask OnEndAsync(AccessContext context)
    {
        lock (Calls) Calls.Add("end:" + context.Interaction);
        return ValueTask.CompletedTask;
    }
}

public sealed class PolicyFixture() : ServerFixtureWith(null, s =>
{
    s.AddSingleton<TestAccessPolicy>();
    s.AddSingleton<IAccessPolicy>(sp => sp.GetRequiredService<TestAccessPolicy>());
});

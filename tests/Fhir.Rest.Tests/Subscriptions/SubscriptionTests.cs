using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Subscriptions;
using FhirArchive.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Rest.Tests.Subscriptions;

/// <summary>Retries close together, so the failure paths finish within the tests' bounded waits.</summary>
public static class SubscriptionSettings
{
    public static Dictionary<string, string> Fast(IDictionary<string, string>? more = null)
    {
        var s = new Dictionary<string, string>
        {
            ["Subscriptions:RetryDelay"] = "00:00:00.05",
            ["Subscriptions:PollInterval"] = "00:00:00.05",
            ["Subscriptions:MaxAttempts"] = "3",
            ["Subscriptions:Timeout"] = "00:00:05",
        };
        foreach (var (k, v) in more ?? new Dictionary<string, string>()) s[k] = v;
        return s;
    }
}

public sealed class SubscriptionFixture() : ServerFixtureWith(SubscriptionSettings.Fast(), null);

public sealed class PostgresSubscriptionFixture() : PostgresServerFixture(SubscriptionSettings.Fast(), null);

/// <summary>A server of a test's own: a database given by settings, a data folder another instance may have used.</summary>
public sealed class SubscriptionServer(IDictionary<string, string> settings, Action<IServiceCollection>? services = null, string? folder = null,
    bool kestrel = false) : ServerFixture(settings, services, kestrel: kestrel, folder: folder);

/// <summary>R4 Subscriptions, rest-hook: checks on create, matching through search, the outbox, delivery, retries, error, access.</summary>
public abstract class SubscriptionTestsBase<TFixture>(TFixture fx) where TFixture : ServerFixture
{
    private readonly HttpClient _c = fx.Client;

    /// <summary>The storage settings of a fresh database of this provider (none for SQLite: a fresh folder is one).</summary>
    protected abstract Dictionary<string, string> FreshDatabase();

    private static string Subscription(string criteria, Uri? endpoint, string? payload = "application/fhir+json", string channelType = "rest-hook",
        int? heartbeat = null, params string[] headers)
    {
        var channel = new JsonObject { ["type"] = channelType };
        if (heartbeat is not null)
            channel["extension"] = new JsonArray(new JsonObject { ["url"] = SubscriptionSpec.HeartbeatExtension, ["valueUnsignedInt"] = heartbeat });
        if (endpoint is not null) channel["endpoint"] = endpoint.ToString();
        if (payload is not null) channel["payload"] = payload;
        if (headers.Length > 0) channel["header"] = new JsonArray([.. headers.Select(h => (JsonNode)JsonValue.Create(h)!)]);
        return new JsonObject
        {
            ["resourceType"] = "Subscription", ["status"] = "requested", ["reason"] = "test", ["criteria"] = criteria, ["channel"] = channel,
        }.ToJsonString();
    }

    private static string Observation(string code, string extra = "") =>
        $$$"""{"resourceType":"Observation"{{{extra}}},"status":"final","code":{"coding":[{"system":"urn:test","code":"{{{code}}}"}]}}""";

    private static string CriteriaFor(string code) => $"Observation?code=urn:test|{code}";

    /// <summary>Waits (bounded) until the condition holds.</summary>
    private static async Task EventuallyAsync(Func<Task<bool>> condition, string what, int seconds = 20)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > until) throw new Xunit.Sdk.XunitException($"Not within {seconds} s: {what}");
            await Task.Delay(50);
        }
    }

    private static async Task<int> QueuedAsync(ServerFixture server, string subscriptionId)
    {
        await using var db = await server.Factory.Services.GetRequiredService<IDbContextFactory<FhirDbContext>>().CreateDbContextAsync();
        return await db.Notifications.CountAsync(n => n.SubscriptionId == subscriptionId);
    }

    /// <summary>Written versions recorded and not yet matched (markers).</summary>
    private static async Task<int> UnmatchedAsync(ServerFixture server)
    {
        await using var db = await server.Factory.Services.GetRequiredService<IDbContextFactory<FhirDbContext>>().CreateDbContextAsync();
        return await db.Notifications.CountAsync(n => n.SubscriptionId == NotificationRow.ToMatch);
    }

    /// <summary>Waits until every recorded write has been matched (so what was queued for a Subscription is known).</summary>
    private static Task MatchedAsync(ServerFixture server) => EventuallyAsync(async () => await UnmatchedAsync(server) == 0, "every write matched");

    [FhirFact]
    public async Task A_requested_subscription_is_checked_and_activated()
    {
        await using var hook = await HookListener.StartAsync();
        var created = await _c.PostAsync("/Subscription", Body(Subscription(CriteriaFor(Unique()), hook.Url)));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = (await created.JsonAsync()).GetProperty("id").GetString();
        Assert.Equal("active", (await (await _c.GetAsync($"/Subscription/{id}")).JsonAsync()).GetProperty("status").GetString());

        // Criteria the search engine cannot run: 400; what this server cannot honour: 422, each an OperationOutcome.
        (string Body, HttpStatusCode Status, string Says)[] refused =
        [
            (Subscription("Observation?no-such-parameter=1", hook.Url), HttpStatusCode.BadRequest, "no-such-parameter"),
            (Subscription("NoSuchType?code=1", hook.Url), HttpStatusCode.UnprocessableEntity, "资源类型"),
            (Subscription(CriteriaFor("x"), hook.Url, channelType: "email"), HttpStatusCode.UnprocessableEntity, "websocket"),
            (Subscription(CriteriaFor("x"), hook.Url, heartbeat: 0), HttpStatusCode.UnprocessableEntity, "heartbeat"),
            (Subscription(CriteriaFor("x"), new Uri("ftp://127.0.0.1/hook")), HttpStatusCode.UnprocessableEntity, "http(s)"),
            (Subscription(CriteriaFor("x"), hook.Url, payload: "text/csv"), HttpStatusCode.UnprocessableEntity, "application/fhir+json"),
            (Subscription(CriteriaFor("x"), hook.Url, headers: "no colon"), HttpStatusCode.UnprocessableEntity, "Name: value"),
        ];
        foreach (var (body, status, says) in refused)
        {
            var r = await _c.PostAsync("/Subscription", Body(body));
            var outcome = await r.JsonAsync();
            Assert.True(r.StatusCode == status, $"{body} -> {(int)r.StatusCode} {outcome}");
            AssertOutcome(outcome, says);
        }
    }

    [FhirFact]
    public async Task A_matching_write_is_sent_with_the_resource_and_the_channel_headers()
    {
        await using var hook = await HookListener.StartAsync();
        var code = Unique();
        await _c.CreateAsync(Subscription(CriteriaFor(code), hook.Url, headers: "Authorization: Bearer hook-secret"));

        var id = await _c.CreateAsync(Observation(code));
        var n = await hook.NextAsync();
        // R4 with a payload: the resource is PUT to [endpoint]/[type]/[id].
        Assert.Equal("PUT", n.Method);
        Assert.Equal($"/hook/Observation/{id}", n.Path);
        Assert.StartsWith("application/fhir+json", n.ContentType);
        Assert.Equal("Bearer hook-secret", n.Headers["Authorization"]);
        var sent = JsonDocument.Parse(n.Body).RootElement;
        Assert.Equal(id, sent.GetProperty("id").GetString());
        Assert.Equal(code, sent.GetProperty("code").GetProperty("coding")[0].GetProperty("code").GetString());

        // An update that still matches is sent too, as the new version.
        var updated = JsonNode.Parse(Observation(code))!.AsObject();
        updated["id"] = id;
        updated["status"] = "amended";
        await _c.PutAsync(updated.ToJsonString());
        var again = JsonDocument.Parse((await hook.NextAsync()).Body).RootElement;
        Assert.Equal("2", again.GetProperty("meta").GetProperty("versionId").GetString());
    }

    [FhirFact]
    public async Task Without_a_payload_the_notification_is_an_empty_POST()
    {
        await using var hook = await HookListener.StartAsync();
        var code = Unique();
        await _c.CreateAsync(Subscription(CriteriaFor(code), hook.Url, payload: null));
        await _c.CreateAsync(Observation(code));
        var n = await hook.NextAsync();
        Assert.Equal("POST", n.Method);
        Assert.Equal("/hook", n.Path);
        Assert.Equal("", n.Body);
    }

    [FhirFact]
    public async Task A_write_that_does_not_match_sends_nothing()
    {
        await using var hook = await HookListener.StartAsync();
        var code = Unique();
        var sub = await _c.CreateAsync(Subscription(CriteriaFor(code), hook.Url));
        await _c.CreateAsync(Observation(Unique()));
        await _c.CreateAsync("""{"resourceType":"Patient","name":[{"family":"Unrelated"}]}""");
        // Once matched, nothing is waiting for this Subscription.
        await MatchedAsync(fx);
        Assert.Equal(0, await QueuedAsync(fx, sub));

        var matching = await _c.CreateAsync(Observation(code));
        var n = await hook.NextAsync();
        Assert.Equal($"/hook/Observation/{matching}", n.Path);
        await EventuallyAsync(async () => await QueuedAsync(fx, sub) == 0, "the outbox emptied");
        Assert.Equal(1, hook.Calls);
        Assert.Empty(hook.Pending());
    }

    [FhirFact]
    public async Task Token_criteria_match_as_the_search_does()
    {
        // The matcher's token pre-filter must agree with the search: any system, one of several, no system, :not.
        await using var hook = await HookListener.StartAsync();
        var code = Unique();
        string[] criteria =
        [
            $"Observation?code={code}", $"Observation?code=urn:other|{code},urn:test|{code}", $"Observation?code=|{code}",
            $"Observation?code=urn:test|{code}&status:not=final", $"Observation?code=urn:test|{code}&status=final,amended&value-quantity=gt5",
        ];
        for (var i = 0; i < criteria.Length; i++) await _c.CreateAsync(Subscription(criteria[i], new Uri(hook.Url + $"/s{i}")));
        var id = await _c.CreateAsync(Observation(code, ""","valueQuantity":{"value":7}"""));
        await MatchedAsync(fx);
        var paths = new List<string> { (await hook.NextAsync()).Path, (await hook.NextAsync()).Path, (await hook.NextAsync()).Path };
        await Task.Delay(300);
        paths.AddRange(hook.Pending().Select(r => r.Path));
        Assert.Equal([$"/hook/s0/Observation/{id}", $"/hook/s1/Observation/{id}", $"/hook/s4/Observation/{id}"], paths.Order());
    }

    [FhirFact]
    public async Task A_delete_sends_nothing()
    {
        // R4 (subscription.html, Scope and Usage): the server checks "every resource that is created or updated".
        await using var hook = await HookListener.StartAsync();
        var code = Unique();
        await _c.CreateAsync(Subscription(CriteriaFor(code), hook.Url, payload: null));
        var first = await _c.CreateAsync(Observation(code));
        await hook.NextAsync();
        Assert.True((await _c.DeleteAsync($"/Observation/{first}")).IsSuccessStatusCode);
        await _c.CreateAsync(Observation(code));
        await hook.NextAsync();
        await MatchedAsync(fx);
        await Task.Delay(200);
        Assert.Equal(2, hook.Calls);
    }

    [FhirFact]
    public async Task A_failing_endpoint_is_retried_with_back_off_until_it_answers()
    {
        await using var hook = await HookListener.StartAsync(failFirst: 2);
        var code = Unique();
        var sub = await _c.CreateAsync(Subscription(CriteriaFor(code), hook.Url));
        var id = await _c.CreateAsync(Observation(code));

        var n = await hook.NextAsync();
        Assert.Equal($"/hook/Observation/{id}", n.Path);
        Assert.Equal(3, hook.Calls);
        await EventuallyAsync(async () => await QueuedAsync(fx, sub) == 0, "the outbox emptied");
        Assert.Equal("active", (await (await _c.GetAsync($"/Subscription/{sub}")).JsonAsync()).GetProperty("status").GetString());
    }

    [FhirFact]
    public async Task A_dead_endpoint_puts_the_subscription_in_error()
    {
        var code = Unique();
        var sub = await _c.CreateAsync(Subscription(CriteriaFor(code), HookListener.DeadUrl()));
        var write = await _c.PostAsync("/Observation", Body(Observation(code)));
        // The write does not wait for the endpoint.
        Assert.Equal(HttpStatusCode.Created, write.StatusCode);

        JsonElement current = default;
        await EventuallyAsync(async () =>
        {
            current = await (await _c.GetAsync($"/Subscription/{sub}")).JsonAsync();
            return current.GetProperty("status").GetString() == "error";
        }, "status error");
        Assert.Contains("3", current.GetProperty("error").GetString());
        Assert.Equal(0, await QueuedAsync(fx, sub));

        // In error, it matches nothing more.
        await _c.CreateAsync(Observation(code));
        await MatchedAsync(fx);
        Assert.Equal(0, await QueuedAsync(fx, sub));
    }

    [FhirFact]
    public async Task A_resource_hidden_from_the_subscriber_is_not_sent()
    {
        // TestAccessPolicy hides resources labelled "secret" from every caller, the subscriber (the suite's client) too.
        using var server = new SubscriptionServer(SubscriptionSettings.Fast(FreshDatabase()), s =>
        {
            s.AddSingleton<TestAccessPolicy>();
            s.AddSingleton<IAccessPolicy>(sp => sp.GetRequiredService<TestAccessPolicy>());
        });
        await using var hook = await HookListener.StartAsync();
        var code = Unique();
        var sub = await server.Client.CreateAsync(Subscription(CriteriaFor(code), hook.Url));
        var hidden = await server.Client.CreateAsync(Observation(code, ""","meta":{"tag":[{"system":"urn:test","code":"secret"}]}"""));
        var shown = await server.Client.CreateAsync(Observation(code));

        var n = await hook.NextAsync();
        await EventuallyAsync(async () => await QueuedAsync(server, sub) == 0, "the outbox emptied");
        var paths = new[] { n }.Concat(hook.Pending()).Select(r => r.Path).ToList();
        Assert.Equal([$"/hook/Observation/{shown}"], paths);
        Assert.DoesNotContain(paths, p => p.Contains(hidden));
        Assert.Equal(1, hook.Calls);
    }

    [FhirFact]
    public async Task A_committed_write_is_delivered_after_a_restart_before_it_was_matched()
    {
        await using var hook = await HookListener.StartAsync();
        var database = SubscriptionSettings.Fast(FreshDatabase());
        await ServerFixture.WithFolderAsync(async folder =>
        {
            string sub, id;
            // The first instance only records its writes (Subscriptions:Deliver=false: no worker), then stops: as a
            // crash right after the commit, before anything was matched or sent.
            using (var first = new SubscriptionServer(new Dictionary<string, string>(database) { ["Subscriptions:Deliver"] = "false" }, folder: folder))
            {
                var code = Unique();
                sub = await first.Client.CreateAsync(Subscription(CriteriaFor(code), hook.Url));
                id = await first.Client.CreateAsync(Observation(code));
                // The write's marker was committed with it, in its transaction: it is there when the write is answered.
                await using var db = await first.Factory.Services.GetRequiredService<IDbContextFactory<FhirDbContext>>().CreateDbContextAsync();
                Assert.Equal(1, await db.Notifications.CountAsync(n => n.SubscriptionId == NotificationRow.ToMatch && n.ResourceId == id));
            }
            Assert.Equal(0, hook.Calls);

            // A new instance on the same database matches it and delivers.
            using var second = new SubscriptionServer(database, folder: folder);
            var n = await hook.NextAsync();
            Assert.Equal($"/hook/Observation/{id}", n.Path);
            await EventuallyAsync(async () => await QueuedAsync(second, sub) == 0 && await UnmatchedAsync(second) == 0, "the outbox emptied");
            Assert.Equal(1, hook.Calls);
        });
    }

    [FhirFact]
    public async Task A_delivery_cut_short_by_a_stop_is_sent_again_after_the_claim_lapses()
    {
        // The endpoint never answers the first request: the instance sending it stops in the middle of that delivery.
        await using var hook = await HookListener.StartAsync(holdFirst: 1);
        var database = SubscriptionSettings.Fast(new Dictionary<string, string>(FreshDatabase())
            { ["Subscriptions:Timeout"] = "00:00:03", ["Subscriptions:ClaimLease"] = "00:00:06" });
        await ServerFixture.WithFolderAsync(async folder =>
        {
            string sub, id;
            using (var first = new SubscriptionServer(database, folder: folder))
            {
                var code = Unique();
                sub = await first.Client.CreateAsync(Subscription(CriteriaFor(code), hook.Url));
                id = await first.Client.CreateAsync(Observation(code));
                await EventuallyAsync(() => Task.FromResult(hook.Calls == 1), "the first delivery under way");
            }
            // Still queued (claimed by the stopped instance until its lease runs out), then sent by the next one.
            using var second = new SubscriptionServer(database, folder: folder);
            var n = await hook.NextAsync();
            Assert.Equal($"/hook/Observation/{id}", n.Path);
            await EventuallyAsync(async () => await QueuedAsync(second, sub) == 0, "the outbox emptied");
            Assert.Equal(2, hook.Calls);
        });
    }

    [FhirFact]
    public async Task Two_instances_on_one_database_send_each_notification_once()
    {
        await using var hook = await HookListener.StartAsync();
        await ServerFixture.WithFolderAsync(async folder =>
        {
            var database = SubscriptionSettings.Fast(SharedDatabase(folder));
            using var a = new SubscriptionServer(database, folder: Path.Combine(folder, "a"));
            var code = Unique();
            var sub = await a.Client.CreateAsync(Subscription(CriteriaFor(code), hook.Url));
            // The audit trail has one writer per database (AuditStore refuses a second): the second instance does not audit.
            // (Started after the Subscription: an instance learns of another's Subscriptions within Subscriptions:RefreshInterval.)
            using var b = new SubscriptionServer(new Dictionary<string, string>(database) { ["Audit:Enabled"] = "false" }, folder: Path.Combine(folder, "b"));
            var written = new List<string>();
            for (var i = 0; i < 20; i++)
                written.Add(await (i % 2 == 0 ? a : b).Client.CreateAsync(Observation(code)));

            var paths = new List<string>();
            for (var i = 0; i < written.Count; i++) paths.Add((await hook.NextAsync()).Path);
            await EventuallyAsync(async () => await QueuedAsync(a, sub) == 0 && await UnmatchedAsync(a) == 0, "the outbox emptied");
            // Both workers polled the outbox all along: had they shared a row, the endpoint would have had it twice.
            await Task.Delay(300);
            paths.AddRange(hook.Pending().Select(r => r.Path));
            Assert.Equal(written.Select(id => $"/hook/Observation/{id}").Order(), paths.Order());
            Assert.Equal(written.Count, hook.Calls);
        });
    }

    [FhirFact]
    public async Task Rest_hook_endpoints_must_be_allowed()
    {
        // As in production: no loopback; an https prefix and a host pattern listed. Nothing is sent (Deliver=false).
        using var server = new SubscriptionServer(SubscriptionSettings.Fast(new Dictionary<string, string>(FreshDatabase())
        {
            ["Subscriptions:AllowLoopback"] = "false", ["Subscriptions:Deliver"] = "false",
            ["Subscriptions:AllowedEndpoints:0"] = "https://hooks.example.org/fhir/", ["Subscriptions:AllowedEndpoints:1"] = "*.example.net",
        }));
        (string Endpoint, HttpStatusCode Status)[] cases =
        [
            ("https://hooks.example.org/fhir/r4", HttpStatusCode.Created),
            ("https://a.example.net/hook", HttpStatusCode.Created),
            ("http://127.0.0.1:8080/hook", HttpStatusCode.UnprocessableEntity),
            ("http://localhost/hook", HttpStatusCode.UnprocessableEntity),
            ("http://hooks.example.org/fhir/r4", HttpStatusCode.UnprocessableEntity),
            ("https://hooks.example.org/admin", HttpStatusCode.UnprocessableEntity),
            ("https://hooks.example.org.evil.test/fhir/r4", HttpStatusCode.UnprocessableEntity),
            ("https://hooks.example.org:8443/fhir/r4", HttpStatusCode.UnprocessableEntity),
            ("https://169.254.169.254/latest/meta-data", HttpStatusCode.UnprocessableEntity),
            ("https://example.net.evil.test/hook", HttpStatusCode.UnprocessableEntity),
        ];
        foreach (var (endpoint, status) in cases)
        {
            var r = await server.Client.PostAsync("/Subscription", Body(Subscription(CriteriaFor("x"), new Uri(endpoint))));
            var answer = await r.JsonAsync();
            Assert.True(r.StatusCode == status, $"{endpoint} -> {(int)r.StatusCode} {answer}");
            if (status != HttpStatusCode.Created) AssertOutcome(answer, "endpoint");
        }
        // An update is checked as a create is.
        var id = await server.Client.CreateAsync(Subscription(CriteriaFor("x"), new Uri("https://hooks.example.org/fhir/r4")));
        var moved = JsonNode.Parse(Subscription(CriteriaFor("x"), new Uri("http://10.0.0.1/hook")))!.AsObject();
        moved["id"] = id;
        var put = await server.Client.PutAsync($"/Subscription/{id}", Body(moved.ToJsonString()));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, put.StatusCode);
    }

    private static async Task<string> ReceiveAsync(System.Net.WebSockets.ClientWebSocket ws, int seconds = 20)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        var buffer = new byte[1024];
        var r = await ws.ReceiveAsync(buffer, cts.Token);
        return System.Text.Encoding.UTF8.GetString(buffer, 0, r.Count);
    }

    private static Task SendAsync(System.Net.WebSockets.ClientWebSocket ws, string text) =>
        ws.SendAsync(System.Text.Encoding.UTF8.GetBytes(text), System.Net.WebSockets.WebSocketMessageType.Text, true, CancellationToken.None);

    /// <summary>A real websocket to the server (Kestrel), as <paramref name="caller"/> (<see cref="TestCallers"/>).</summary>
    private static async Task<System.Net.WebSockets.ClientWebSocket> ConnectAsync(Uri url, (string Name, string Value) caller)
    {
        var ws = new System.Net.WebSockets.ClientWebSocket();
        ws.Options.SetRequestHeader(caller.Name, caller.Value);
        await ws.ConnectAsync(url, CancellationToken.None);
        return ws;
    }

    /// <summary>The suite's own client (the subscriber of what <see cref="ServerFixture.Client"/> writes), named by a test caller header.</summary>
    private static readonly (string, string) Suite = TestCallers.As("test-suite", Roles.SystemClient, kind: "system");

    [FhirFact]
    public async Task A_websocket_client_binds_and_is_pinged_for_each_match()
    {
        using var server = new SubscriptionServer(SubscriptionSettings.Fast(FreshDatabase()), TestCallers.Register, kestrel: true);
        // The CapabilityStatement names the websocket (R4 extension capabilitystatement-websocket).
        var rest = (await (await server.Client.GetAsync("/metadata")).JsonAsync()).GetProperty("rest")[0];
        var url = new Uri(rest.GetProperty("extension").EnumerateArray()
            .Single(e => e.GetProperty("url").GetString() == WebSocketHub.CapabilityExtension).GetProperty("valueUri").GetString()!);
        Assert.Equal($"ws://{server.BaseAddress.Authority}/websocket", url.ToString());

        var code = Unique();
        var sub = await server.Client.CreateAsync(Subscription(CriteriaFor(code), null, payload: null, channelType: "websocket"));
        using var ws = await ConnectAsync(url, Suite);
        await SendAsync(ws, $"bind-with-id {sub}");
        Assert.Equal($"bound {sub}", await ReceiveAsync(ws));

        // Another client may not bind to it; an unknown id or command is refused too, and the socket stays open.
        using var other = await ConnectAsync(url, TestCallers.As("other-client", Roles.SystemClient, kind: "system"));
        await SendAsync(other, $"bind-with-id {sub}");
        Assert.StartsWith($"error {sub} only the Subscription's subscriber", await ReceiveAsync(other));
        await SendAsync(other, "bind-with-id no-such-subscription");
        Assert.StartsWith("error no-such-subscription", await ReceiveAsync(other));
        await SendAsync(other, "hello");
        Assert.StartsWith("error unknown command", await ReceiveAsync(other));

        // A write that does not match sends nothing; one that matches, a ping (the next message is the match's).
        await server.Client.CreateAsync(Observation(Unique()));
        await server.Client.CreateAsync(Observation(code));
        Assert.Equal($"ping {sub}", await ReceiveAsync(ws));
        await server.Client.CreateAsync(Observation(code));
        Assert.Equal($"ping {sub}", await ReceiveAsync(ws));
        // The other socket got nothing of it.
        using var none = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => other.ReceiveAsync(new byte[64], none.Token));

        // Without a websocket upgrade the address is a 400 OperationOutcome; without a token, 401.
        var plain = await server.Client.GetAsync("/websocket");
        Assert.Equal(HttpStatusCode.BadRequest, plain.StatusCode);
        AssertOutcome(await plain.JsonAsync(), "websocket");
        using var bare = new System.Net.WebSockets.ClientWebSocket();
        await Assert.ThrowsAnyAsync<System.Net.WebSockets.WebSocketException>(() => bare.ConnectAsync(url, CancellationToken.None));
    }

    [FhirFact]
    public async Task Heartbeats_follow_the_server_clock()
    {
        var clock = new ManualClock();
        using var server = new SubscriptionServer(SubscriptionSettings.Fast(FreshDatabase()), s =>
        {
            TestCallers.Register(s);
            s.AddSingleton<TimeProvider>(clock);
        }, kestrel: true);
        await using var hook = await HookListener.StartAsync();
        await server.Client.CreateAsync(Subscription(CriteriaFor(Unique()), hook.Url, heartbeat: 60));
        var socketed = await server.Client.CreateAsync(Subscription(CriteriaFor(Unique()), null, payload: null, channelType: "websocket", heartbeat: 60));
        using var ws = await ConnectAsync(new Uri($"ws://{server.BaseAddress.Authority}/websocket"), Suite);
        await SendAsync(ws, $"bind-with-id {socketed}");
        Assert.Equal($"bound {socketed}", await ReceiveAsync(ws));

        // Real time passing is not the server's: no heartbeat while its clock stands still.
        await Task.Delay(500);
        Assert.Equal(0, hook.Calls);
        // A period on the server clock later (moved again until the worker has seen the Subscriptions and sent).
        var received = ReceiveAsync(ws);
        for (var i = 0; i < 100 && (hook.Calls == 0 || !received.IsCompleted); i++)
        {
            clock.Now += TimeSpan.FromSeconds(61);
            await Task.Delay(100);
        }
        Assert.Equal($"heartbeat {socketed}", await received);
        var beat = await hook.NextAsync();
        Assert.Equal(("POST", "/hook", ""), (beat.Method, beat.Path, beat.Body));
    }

    [FhirFact]
    public async Task Each_delivery_attempt_is_audited_as_a_disclosure_to_the_subscriber()
    {
        using var server = new SubscriptionServer(SubscriptionSettings.Fast(FreshDatabase()), TestCallers.Register);
        await using var hook = await HookListener.StartAsync(failFirst: 1);
        var code = Unique();
        var sub = await server.Client.CreateAsync(Subscription(CriteriaFor(code), hook.Url));
        var id = await server.Client.CreateAsync(Observation(code));
        await hook.NextAsync();

        // Two attempts (a 503, then 200), each an Export event naming the subscriber, the resource and the Subscription.
        List<JsonElement> events = [];
        await EventuallyAsync(async () =>
        {
            var bundle = await (await server.Client.SendAsync(HttpMethod.Get, $"/AuditEvent?entity=Observation/{id}&subtype=rest-hook", null,
                TestCallers.Auditor)).JsonAsync();
            events = bundle.TryGetProperty("entry", out var e) ? [.. e.EnumerateArray().Select(x => x.GetProperty("resource"))] : [];
            return events.Count == 2;
        }, "two notification events");
        foreach (var ev in events)
        {
            Assert.Equal("110106", ev.GetProperty("type").GetProperty("code").GetString());
            Assert.Equal("rest-hook", ev.GetProperty("subtype")[0].GetProperty("code").GetString());
            Assert.Contains(ev.GetProperty("agent").EnumerateArray(), a => a.ToString().Contains("test-suite"));
            var what = ev.GetProperty("entity").EnumerateArray().Select(x => x.GetProperty("what").GetProperty("reference").GetString()).ToList();
            Assert.Contains($"Observation/{id}", what);
            Assert.Contains($"Subscription/{sub}", what);
        }
        Assert.Equal(["0", "8"], events.Select(e => e.GetProperty("outcome").GetString()).Order());
    }

    /// <summary>Storage settings two instances can share: one database (SQLite: one file outside their data folders).</summary>
    protected abstract Dictionary<string, string> SharedDatabase(string folder);
}

public sealed class SubscriptionTests(SubscriptionFixture fx) : SubscriptionTestsBase<SubscriptionFixture>(fx), IClassFixture<SubscriptionFixture>
{
    protected override Dictionary<string, string> FreshDatabase() => new();

    protected override Dictionary<string, string> SharedDatabase(string folder) => new()
    {
        ["Storage:ConnectionString"] = $"Data Source={Path.Combine(Directory.CreateDirectory(folder).FullName, "shared.db")}",
    };
}

public sealed class PostgresSubscriptionTests(PostgresSubscriptionFixture fx)
    : SubscriptionTestsBase<PostgresSubscriptionFixture>(fx), IClassFixture<PostgresSubscriptionFixture>
{
    protected override Dictionary<string, string> FreshDatabase() => PostgresCluster.Settings();

    protected override Dictionary<string, string> SharedDatabase(string folder) => PostgresCluster.Settings();
}

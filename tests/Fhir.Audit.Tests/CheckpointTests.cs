using System.Net;
using System.Text.Json;
using FhirArchive.Audit.Checkpoints;
using FhirArchive.Audit.Store;
using FhirArchive.Crypto;
using FhirArchive.Rest.Access;
using FhirArchive.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Audit.Tests;

/// <summary>
/// Signed audit checkpoints over REST: signed on demand and when due, stored, read by auditors only, and checked by
/// the operator's audit-checkpoint-verify with the published public key alone (and the exported events).
/// </summary>
public sealed class CheckpointTests(AuditFixture fx) : IClassFixture<AuditFixture>, IDisposable
{
    private readonly HttpClient _c = fx.Client;
    private readonly string _dir = Directory.CreateTempSubdirectory("checkpoint-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private async Task<JsonElement> Ok(HttpMethod method, string url, string? body = null)
    {
        var r = await _c.SendAsync(method, url, body, TestCallers.Auditor);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        return await r.JsonAsync();
    }

    private async Task<string> Save(string name, HttpResponseMessage r)
    {
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var file = Path.Combine(_dir, name);
        await File.WriteAllTextAsync(file, await r.Content.ReadAsStringAsync());
        return file;
    }

    private static int Cli(params string[] args) => FhirArchive.Tools.Cli.Run(args, new StringWriter(), new StringWriter());

    [Fact]
    public async Task A_checkpoint_signed_on_demand_verifies_with_the_published_key_and_the_exported_events_recompute_its_head()
    {
        for (var i = 0; i < 3; i++) await _c.SendAsync(HttpMethod.Get, $"/Patient/cp{i}", null, TestCallers.As("u", Roles.Clinician));
        var signed = await Ok(HttpMethod.Post, "/AuditEvent/$sign-checkpoint", """{"resourceType":"Parameters"}""");
        var seq = long.Parse(Param(signed, "sequence")!);
        Assert.True(seq >= 3);
        Assert.Equal(ChainCheckpoint.Format, Param(signed, "format"));
        Assert.Equal("SM2SM3", Param(signed, "algorithm"));

        // The head signed is the chain's link at that event.
        var (_, head) = await fx.Factory.Services.GetRequiredService<AuditStore>().HeadAsync();
        var chain = await fx.Factory.Services.GetRequiredService<AuditStore>().ChainAsync(0, seq);
        Assert.Equal(Convert.ToHexStringLower(ChainCheckpoint.Recompute(0, Sm3.Genesis, chain).Head), Param(signed, "head"));
        Assert.NotEqual(Convert.ToHexStringLower(head), Param(signed, "head")); // the sign request's own event came after it

        // Anyone gets the public key; auditors read the checkpoint (the newest, or by its sequence number) and the events.
        var key = await Save("public.pem", await fx.BareClient().GetAsync(AuditCheckpoints.WellKnownPath));
        var latest = await Save("checkpoint.json", await _c.SendAsync(HttpMethod.Get, "/AuditEvent/$checkpoint", null, TestCallers.Auditor));
        var bySequence = await Ok(HttpMethod.Get, $"/AuditEvent/$checkpoint?sequence={seq}");
        Assert.Equal(Param(signed, "signature"), Param(bySequence, "signature"));
        var events = await Save("chain.json", await _c.SendAsync(HttpMethod.Get, $"/AuditEvent/$chain?after=0&through={seq}", null, TestCallers.Auditor));

        Assert.Equal(0, Cli("audit-checkpoint-verify", latest, key));
        Assert.Equal(0, Cli("audit-checkpoint-verify", latest, key, "--events", events));
        var other = Path.Combine(_dir, "other.pem");
        await File.WriteAllTextAsync(other, Sm2Key.Generate().PublicKeyPem());
        Assert.Equal(1, Cli("audit-checkpoint-verify", latest, other));
    }

    [Fact]
    public async Task A_later_checkpoint_is_checked_from_the_earlier_one_with_only_the_events_between()
    {
        var first = await Save("first.json", await _c.SendAsync(HttpMethod.Post, "/AuditEvent/$sign-checkpoint", null, TestCallers.Auditor));
        await _c.SendAsync(HttpMethod.Get, "/Patient/later", null, TestCallers.As("u", Roles.Clinician));
        var second = await Ok(HttpMethod.Post, "/AuditEvent/$sign-checkpoint");
        var (from, to) = (Param(await JsonFile(first), "sequence"), Param(second, "sequence"));
        Assert.True(long.Parse(to!) > long.Parse(from!));
        var latest = await Save("second.json", await _c.SendAsync(HttpMethod.Get, $"/AuditEvent/$checkpoint?sequence={to}", null, TestCallers.Auditor));
        var events = await Save("chain.json", await _c.SendAsync(HttpMethod.Get, $"/AuditEvent/$chain?after={from}&through={to}", null, TestCallers.Auditor));
        var key = await Save("public.pem", await fx.BareClient().GetAsync(AuditCheckpoints.WellKnownPath));
        Assert.Equal(0, Cli("audit-checkpoint-verify", latest, key, "--events", events, "--after", first));
        // Without the earlier checkpoint the events between do not start at the first event.
        Assert.Equal(1, Cli("audit-checkpoint-verify", latest, key, "--events", events));
    }

    private static async Task<JsonElement> JsonFile(string file) => JsonDocument.Parse(await File.ReadAllTextAsync(file)).RootElement;

    [Fact]
    public async Task Checkpoints_are_stored_append_only_and_a_signed_head_is_not_signed_twice()
    {
        var checkpoints = fx.Factory.Services.GetRequiredService<AuditCheckpoints>();
        await _c.SendAsync(HttpMethod.Get, "/Patient/stored", null, TestCallers.As("u", Roles.Clinician));
        var a = await checkpoints.SignAsync();
        var b = await checkpoints.SignAsync();
        Assert.NotNull(a);
        Assert.Equal(a.Sequence, b!.Sequence);
        Assert.Equal(a.Signature, b.Signature);
        await using var db = await fx.Factory.Services.GetRequiredService<IDbContextFactory<FhirDbContext>>().CreateDbContextAsync();
        var row = await db.AuditCheckpoints.SingleAsync(c => c.Seq == a.Sequence);
        Assert.Equal(a.Signature, row.Signature);
        await Assert.ThrowsAnyAsync<Exception>(() => db.Database.ExecuteSqlRawAsync("""UPDATE "AuditCheckpoint" SET "Time" = 'x'"""));
        await Assert.ThrowsAnyAsync<Exception>(() => db.Database.ExecuteSqlRawAsync("""DELETE FROM "AuditCheckpoint" """));
    }

    [Fact]
    public async Task Two_instances_on_one_database_signing_the_same_head_both_succeed_with_one_row()
    {
        var services = fx.Factory.Services;
        AuditCheckpoints Instance() => new(services.GetRequiredService<AuditStore>(), services.GetRequiredService<IDbContextFactory<FhirDbContext>>(),
            services.GetRequiredService<AuditCheckpointOptions>(), services.GetRequiredService<StorageOptions>(), TimeProvider.System,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<AuditCheckpoints>.Instance);
        var (a, b) = (Instance(), Instance());
        await _c.SendAsync(HttpMethod.Get, "/Patient/two-instances", null, TestCallers.As("u", Roles.Clinician));
        _ = await a.LatestAsync(); // a has looked before b signs
        var byB = await b.SignAsync();
        var byA = await a.SignAsync();
        Assert.NotNull(byB);
        Assert.Equal(byB.Sequence, byA!.Sequence);
        Assert.Equal(byB.Signature, byA.Signature);
        // Both at once on a new head: both answer the one stored checkpoint.
        await _c.SendAsync(HttpMethod.Get, "/Patient/two-instances-2", null, TestCallers.As("u", Roles.Clinician));
        var both = await Task.WhenAll(Instance().SignAsync(), Instance().SignAsync());
        Assert.Equal(both[0]!.Sequence, both[1]!.Sequence);
        Assert.Equal(both[0]!.Signature, both[1]!.Signature);
        await using var db = await services.GetRequiredService<IDbContextFactory<FhirDbContext>>().CreateDbContextAsync();
        Assert.Equal(1, await db.AuditCheckpoints.CountAsync(c => c.Seq == byB.Sequence));
        Assert.Equal(both[0]!.Signature, (await db.AuditCheckpoints.SingleAsync(c => c.Seq == both[0]!.Sequence)).Signature);
    }

    [Fact]
    public async Task Only_auditors_read_or_sign_checkpoints_and_export_the_chain()
    {
        var clinician = TestCallers.As("dr-cp", Roles.Clinician);
        foreach (var (method, url) in new[] { (HttpMethod.Get, "/AuditEvent/$checkpoint"), (HttpMethod.Post, "/AuditEvent/$sign-checkpoint"), (HttpMethod.Get, "/AuditEvent/$chain?through=1") })
        {
            var r = await _c.SendAsync(method, url, null, clinician);
            Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
            Assert.Equal("OperationOutcome", (await r.JsonAsync()).GetProperty("resourceType").GetString());
        }
    }

    [Theory]
    [InlineData("GET", "/AuditEvent/$checkpoint?sequence=abc", HttpStatusCode.BadRequest)]
    [InlineData("GET", "/AuditEvent/$checkpoint?sequence=0", HttpStatusCode.BadRequest)]
    [InlineData("GET", "/AuditEvent/$checkpoint?sequence=2000000000", HttpStatusCode.NotFound)]
    [InlineData("GET", "/AuditEvent/$chain", HttpStatusCode.BadRequest)]
    [InlineData("GET", "/AuditEvent/$chain?after=5&through=5", HttpStatusCode.BadRequest)]
    [InlineData("GET", "/AuditEvent/$chain?after=-1&through=5", HttpStatusCode.BadRequest)]
    [InlineData("GET", "/AuditEvent/$chain?after=0&through=10001", HttpStatusCode.BadRequest)]
    [InlineData("GET", "/AuditEvent/$sign-checkpoint", HttpStatusCode.MethodNotAllowed)]
    public async Task Bad_requests_get_an_OperationOutcome_with_the_right_status(string method, string url, HttpStatusCode expected)
    {
        var r = await _c.SendAsync(new HttpMethod(method), url, null, TestCallers.Auditor);
        Assert.Equal(expected, r.StatusCode);
        Assert.Equal("OperationOutcome", (await r.JsonAsync()).GetProperty("resourceType").GetString());
    }

    [Fact]
    public void A_checkpoint_is_due_after_enough_events_or_enough_time_with_new_events()
    {
        var options = new AuditCheckpointOptions { EveryEvents = 100, EveryMinutes = 60 };
        var start = new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);
        var last = ChainCheckpoint.Sign(50, Sm3.Genesis, start, Sm2Key.Generate());
        Assert.False(AuditCheckpoints.IsDue(options, 50, last, start, start.AddHours(5)));   // nothing new
        Assert.False(AuditCheckpoints.IsDue(options, 149, last, start, start.AddMinutes(59)));
        Assert.True(AuditCheckpoints.IsDue(options, 150, last, start, start.AddMinutes(1))); // 100 events
        Assert.True(AuditCheckpoints.IsDue(options, 51, last, start, start.AddMinutes(60))); // an hour, one event
        // None yet: counted from the first event, timed from the signer's start.
        Assert.True(AuditCheckpoints.IsDue(options, 100, null, start, start));
        Assert.False(AuditCheckpoints.IsDue(options, 1, null, start, start.AddMinutes(59)));
        Assert.True(AuditCheckpoints.IsDue(options, 1, null, start, start.AddMinutes(60)));
        Assert.False(AuditCheckpoints.IsDue(new AuditCheckpointOptions { EveryEvents = 0, EveryMinutes = 0 }, 10_000, null, start, start.AddDays(1)));
    }
}

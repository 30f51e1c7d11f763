using System.Net;
using System.Text.Json;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Bulk;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Rest.Tests.Bulk;

/// <summary>The export worker looks often and writes small batches, so several batches, resumption and polling are exercised.</summary>
public static class BulkSettings
{
    public static Dictionary<string, string> Fast(IDictionary<string, string>? more = null)
    {
        var s = new Dictionary<string, string>
        {
            ["BulkExport:PollInterval"] = "00:00:00.05",
            ["BulkExport:BatchSize"] = "2",
            ["BulkExport:MaxActivePerCaller"] = "100",
            ["BulkExport:RetryAfterSeconds"] = "1",
        };
        foreach (var (k, v) in more ?? new Dictionary<string, string>()) s[k] = v;
        return s;
    }

    /// <summary>Callers named by a header, and an access policy that hides what is marked "bulk-hidden" (from every read path).</summary>
    public static void Services(IServiceCollection s)
    {
        TestCallers.Register(s);
        s.AddSingleton<IAccessPolicy, HidingPolicy>();
    }

    public const string HiddenMark = "bulk-hidden";

    private sealed class HidingPolicy : IAccessPolicy
    {
        public ValueTask OnStartAsync(AccessContext context) => ValueTask.CompletedTask;
        public ValueTask OnEndAsync(AccessContext context) => ValueTask.CompletedTask;
        public ValueTask<StoredResource?> ShowAsync(AccessContext context, StoredResource resource) =>
            ValueTask.FromResult(resource.Json is { } json && System.Text.Encoding.UTF8.GetString(json).Contains(HiddenMark) ? null : resource);
    }
}

public sealed class BulkExportFixture() : ServerFixtureWith(BulkSettings.Fast(), BulkSettings.Services);

public sealed class PostgresBulkExportFixture() : PostgresServerFixture(BulkSettings.Fast(), BulkSettings.Services);

/// <summary>A server of a test's own: a database given by settings, a data folder another instance may have used.</summary>
public sealed class BulkServer(IDictionary<string, string> settings, Action<IServiceCollection>? services = null, string? folder = null)
    : ServerFixture(settings, services, folder: folder);

/// <summary>
/// An export policy that lets everything through and, once armed, blocks on its <see cref="BlockAt"/>-th resource until
/// the worker is stopped: a job cut short in the middle of a batch, after earlier batches were saved.
/// </summary>
public sealed class BlockingExportPolicy(int blockAt) : IBulkExportPolicy
{
    private int _seen;
    public int BlockAt { get; } = blockAt;
    public TaskCompletionSource Blocked { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ValueTask<BulkExportSpec> AuthorizeAsync(HttpContext http, BulkExportSpec requested) => ValueTask.FromResult(requested);

    public async ValueTask<byte[]?> TransformAsync(Caller requester, BulkExportSpec spec, StoredResource shown, CancellationToken ct)
    {
        if (Interlocked.Increment(ref _seen) == BlockAt)
        {
            Blocked.TrySetResult();
            await Task.Delay(Timeout.Infinite, ct);
        }
        return shown.Json;
    }
}

/// <summary>FHIR Bulk Data export: kick-off, polling, manifest, files, cancel, expiry, the requester's files only, restart mid-job, bad parameters.</summary>
public abstract class BulkExportTestsBase<TFixture>(TFixture fx) where TFixture : ServerFixture
{
    private readonly HttpClient _c = fx.Client;
    private static readonly (string, string) Other = TestCallers.As("other-system", Roles.SystemClient, kind: "system");

    /// <summary>The storage settings of a fresh database of this provider (none for SQLite: a fresh folder is one).</summary>
    protected abstract Dictionary<string, string> FreshDatabase();

    private const string Codes = "urn:test:bulk";

    private static string Observation(string code, string? patient = null, string? extra = null) =>
        $$"""{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"{{Codes}}","code":"{{code}}"}{{extra}}]}{{(patient is null ? "" : $",\"subject\":{{\"reference\":\"Patient/{patient}\"}}")}}}""";

    private static string Patient(string family) => $$"""{"resourceType":"Patient","name":[{"family":"{{family}}"}]}""";

    private static void AssertIds(IEnumerable<string> expected, IEnumerable<string> actual) =>
        Assert.Equal(expected.Order(StringComparer.Ordinal).ToList(), actual.Order(StringComparer.Ordinal).ToList());

    private static string Only(string code) => $"_typeFilter={Uri.EscapeDataString($"Observation?code={Codes}|{code}")}";

    [FhirFact]
    public async Task Kick_off_answers_202_the_status_gives_the_manifest_and_the_files_hold_every_resource_once()
    {
        var code = Unique();
        var patient = await _c.CreateAsync(Patient("Bulk" + code));
        var ids = new HashSet<string>();
        for (var i = 0; i < 5; i++) ids.Add(await _c.CreateAsync(Observation(code, patient)));

        var kick = await _c.SendAsync(HttpMethod.Get, $"/$export?_type=Patient,Observation&{Only(code)}&_outputFormat=application/fhir%2Bndjson", null,
            BulkExportClient.RespondAsync);
        Assert.Equal(HttpStatusCode.Accepted, kick.StatusCode);
        AssertOutcome(await kick.JsonAsync());
        var status = kick.Content.Headers.ContentLocation!.ToString();
        Assert.StartsWith("http://localhost/bulk-export/", status);

        var manifest = await _c.ManifestAsync(status);
        Assert.True(DateTimeOffset.TryParse(manifest.GetProperty("transactionTime").GetString(), out _));
        Assert.Contains("/$export?_type=Patient,Observation", manifest.GetProperty("request").GetString());
        Assert.True(manifest.GetProperty("requiresAccessToken").GetBoolean());
        Assert.Equal(0, manifest.GetProperty("error").GetArrayLength());
        var files = await _c.DownloadAsync(manifest);
        AssertIds(ids, files.Ids("Observation"));
        Assert.Equal(5, files["Observation"].Count);
        Assert.Contains(patient, files.Ids("Patient"));
        Assert.Equal(["Observation", "Patient"], files.Keys.Order().ToList());
    }

    [FhirFact]
    public async Task Files_need_a_token_and_are_served_only_to_the_requester()
    {
        var code = Unique();
        await _c.CreateAsync(Observation(code));
        var status = await _c.KickOffAsync($"/$export?_type=Observation&{Only(code)}");
        var manifest = await _c.ManifestAsync(status);
        var file = manifest.GetProperty("output")[0].GetProperty("url").GetString()!;

        // Another system client: the job and its files are as unknown to it as a job that does not exist.
        var otherStatus = await _c.SendAsync(HttpMethod.Get, status, null, Other);
        Assert.Equal(HttpStatusCode.NotFound, otherStatus.StatusCode);
        AssertOutcome(await otherStatus.JsonAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await _c.SendAsync(HttpMethod.Get, file, null, Other)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _c.SendAsync(HttpMethod.Delete, status, null, Other)).StatusCode);
        // No token at all: 401.
        Assert.Equal(HttpStatusCode.Unauthorized, (await fx.BareClient().GetAsync(file)).StatusCode);
        // The requester still has it (the other's DELETE changed nothing).
        Assert.Equal(HttpStatusCode.OK, (await _c.GetAsync(file)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _c.GetAsync(file + "x")).StatusCode);
    }

    [FhirFact]
    public async Task _since_exports_only_what_changed_from_then_on()
    {
        var code = Unique();
        var before = await _c.CreateAsync(Observation(code));
        await Task.Delay(20); // the two writes get distinct lastUpdated instants (data set-up, not an assertion)
        var after = await (await _c.PostAsync("/Observation", Body(Observation(code)))).JsonAsync();
        var since = after.GetProperty("meta").GetProperty("lastUpdated").GetString()!;
        var files = await _c.ExportAsync($"/$export?_type=Observation&{Only(code)}&_since={Uri.EscapeDataString(since)}");
        AssertIds([after.GetProperty("id").GetString()!], files.Ids("Observation"));
        Assert.DoesNotContain(before, files.Ids("Observation"));
    }

    [FhirFact]
    public async Task Several_type_filters_of_a_type_export_what_matches_any_of_them_once()
    {
        var (x, y, z) = (Unique(), Unique(), Unique());
        var onlyX = await _c.CreateAsync(Observation(x));
        var both = await _c.CreateAsync(Observation(x, extra: $$""",{"system":"{{Codes}}","code":"{{y}}"}"""));
        var onlyY = await _c.CreateAsync(Observation(y));
        await _c.CreateAsync(Observation(z));
        var files = await _c.ExportAsync($"/$export?_type=Observation&{Only(x)}&{Only(y)}");
        AssertIds([onlyX, both, onlyY], files.Ids("Observation"));
        Assert.Equal(3, files["Observation"].Count);
    }

    [FhirFact]
    public async Task Patient_and_Group_level_export_the_record_data_of_every_patient_or_of_the_members()
    {
        var code = Unique();
        var (p1, p2, p3) = (await _c.CreateAsync(Patient("A" + code)), await _c.CreateAsync(Patient("B" + code)), await _c.CreateAsync(Patient("C" + code)));
        var (o1, o2, o3) = (await _c.CreateAsync(Observation(code, p1)), await _c.CreateAsync(Observation(code, p2)), await _c.CreateAsync(Observation(code, p3)));
        var loose = await _c.CreateAsync(Observation(code)); // nobody's
        var organization = await _c.CreateAsync("""{"resourceType":"Organization","name":"bulk"}""");
        var group = await _c.CreateAsync("""{"resourceType":"Group","type":"person","actual":true,"member":["""
            + string.Join(",", new[] { p1, p2 }.Select(p => "{\"entity\":{\"reference\":\"Patient/" + p + "\"}}")) + "]}");

        var members = await _c.ExportAsync($"/Group/{group}/$export?{Only(code)}");
        AssertIds([o1, o2], members.Ids("Observation"));
        AssertIds([p1, p2], members.Ids("Patient"));
        Assert.False(members.ContainsKey("Organization"));

        var everyone = await _c.ExportAsync($"/Patient/$export?_type=Patient,Observation&{Only(code)}");
        AssertIds([o1, o2, o3], everyone.Ids("Observation"));
        Assert.DoesNotContain(loose, everyone.Ids("Observation"));
        Assert.Superset(new HashSet<string> { p1, p2, p3 }, everyone.Ids("Patient"));

        var system = await _c.ExportAsync($"/$export?_type=Organization,Observation&{Only(code)}");
        Assert.Contains(organization, system.Ids("Organization"));
        AssertIds([o1, o2, o3, loose], system.Ids("Observation"));

        var missing = await _c.SendAsync(HttpMethod.Get, "/Group/no-such-group/$export", null, BulkExportClient.RespondAsync);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        AssertOutcome(await missing.JsonAsync());
    }

    [FhirFact]
    public async Task What_the_access_policies_hide_is_not_exported()
    {
        var code = Unique();
        var shown = await _c.CreateAsync(Observation(code));
        var hidden = await _c.CreateAsync(Observation(code, extra: $$""",{"system":"{{Codes}}","code":"{{BulkSettings.HiddenMark}}"}"""));
        var files = await _c.ExportAsync($"/$export?_type=Observation&{Only(code)}");
        AssertIds([shown], files.Ids("Observation"));
        Assert.DoesNotContain(hidden, files.Ids("Observation"));
    }

    [FhirFact]
    public async Task Each_batch_is_audited_as_a_disclosure_of_its_patients_to_the_requester()
    {
        var code = Unique();
        var patient = await _c.CreateAsync(Patient("Audit" + code));
        await _c.CreateAsync(Observation(code, patient));
        var status = await _c.KickOffAsync($"/$export?_type=Observation&{Only(code)}");
        await _c.ManifestAsync(status);
        var job = status.Split('/')[^1];
        var events = await (await _c.SendAsync(HttpMethod.Get, $"/AuditEvent?patient=Patient/{patient}", null, TestCallers.Auditor)).Content.ReadAsStringAsync();
        Assert.Contains($"bulk export {job}", events);
        Assert.Contains("110106", events); // DICOM Export
    }

    [FhirFact]
    public async Task Cancel_answers_202_and_removes_the_job_and_its_files()
    {
        var code = Unique();
        await _c.CreateAsync(Observation(code));
        var status = await _c.KickOffAsync($"/$export?_type=Observation&{Only(code)}");
        var manifest = await _c.ManifestAsync(status);
        var file = manifest.GetProperty("output")[0].GetProperty("url").GetString()!;
        var job = status.Split('/')[^1];
        var folder = fx.Factory.Services.GetRequiredService<BulkExportJobs>().FolderOf(job);
        Assert.True(Directory.Exists(folder));

        var cancel = await _c.DeleteAsync(status);
        Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        AssertOutcome(await cancel.JsonAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await _c.GetAsync(status)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _c.GetAsync(file)).StatusCode);
        Assert.False(Directory.Exists(folder));
    }

    [FhirFact]
    public async Task An_export_past_its_expiry_loses_its_files_and_answers_410()
    {
        var code = Unique();
        await _c.CreateAsync(Observation(code));
        var status = await _c.KickOffAsync($"/$export?_type=Observation&{Only(code)}");
        var manifest = await _c.ManifestAsync(status);
        var file = manifest.GetProperty("output")[0].GetProperty("url").GetString()!;
        var job = status.Split('/')[^1];
        var jobs = fx.Factory.Services.GetRequiredService<BulkExportJobs>();

        // The expiry has come (the default lifetime is 24 h): move it into the past, then let the clean-up run.
        await using (var db = await fx.Factory.Services.GetRequiredService<IDbContextFactory<FhirDbContext>>().CreateDbContextAsync())
            await db.Set<BulkExportJobRow>().Where(j => j.Id == job).ExecuteUpdateAsync(s => s.SetProperty(j => j.Expires, DateTimeOffset.UtcNow.AddMinutes(-1).UtcTicks));
        // Before the clean-up has run, the files are refused already.
        Assert.Equal(HttpStatusCode.Gone, (await _c.GetAsync(file)).StatusCode);
        Assert.True(await jobs.ExpireAsync(CancellationToken.None) >= 0);
        Assert.False(Directory.Exists(jobs.FolderOf(job)));
        var gone = await _c.GetAsync(status);
        Assert.Equal(HttpStatusCode.Gone, gone.StatusCode);
        AssertOutcome(await gone.JsonAsync());
        Assert.Equal(HttpStatusCode.Gone, (await _c.GetAsync(file)).StatusCode);
    }

    public static TheoryData<string, string?, string> BadKickOffs => new()
    {
        { "/$export?_type=Observation", null, "respond-async" },
        { "/$export?_outputFormat=text/csv", "respond-async", "_outputFormat" },
        { "/$export?_outputFormat=application/fhir%2Bjson", "respond-async", "_outputFormat" },
        { "/$export?_type=NoSuchType", "respond-async", "NoSuchType" },
        { "/$export?_since=yesterday", "respond-async", "_since" },
        { "/$export?_since=2026-01-01", "respond-async", "_since" },
        { "/$export?_typeFilter=Observation", "respond-async", "_typeFilter" },
        { "/$export?_typeFilter=Observation%3Fno-such-param%3D1", "respond-async", "no-such-param" },
        { "/$export?_typeFilter=Observation%3F_count%3D1", "respond-async", "_count" },
        { "/$export?_type=Patient&_typeFilter=Observation%3Fstatus%3Dfinal", "respond-async", "_type" },
        { "/$export?includeAssociatedData=LatestProvenanceResources", "respond-async", "includeAssociatedData" },
        { "/$export?patient=Patient/1", "respond-async", "patient" },
        { "/Patient/$export?_type=Organization", "respond-async", "Organization" },
    };

    [Theory]
    [MemberData(nameof(BadKickOffs))]
    public async Task Bad_kick_off_parameters_are_400_with_an_OperationOutcome(string url, string? prefer, string diagnostics)
    {
        var r = await _c.SendAsync(HttpMethod.Get, url, null, prefer is null ? [] : [("Prefer", prefer)]);
        var body = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.BadRequest, $"{url}: {(int)r.StatusCode} {body}");
        AssertOutcome(JsonDocument.Parse(body).RootElement, diagnostics);
    }

    [FhirFact]
    public async Task A_POST_kick_off_takes_its_parameters_in_a_Parameters_body()
    {
        var code = Unique();
        var id = await _c.CreateAsync(Observation(code));
        var body = Params(("_type", "String", "Observation"), ("_typeFilter", "String", $"Observation?code={Codes}|{code}"));
        var r = await _c.SendAsync(HttpMethod.Post, "/$export", body, BulkExportClient.RespondAsync);
        Assert.True(r.StatusCode == HttpStatusCode.Accepted, await r.Content.ReadAsStringAsync());
        var files = await _c.DownloadAsync(await _c.ManifestAsync(r.Content.Headers.ContentLocation!.ToString()));
        AssertIds([id], files.Ids("Observation"));
    }

    [Fact]
    public async Task Without_a_domain_policy_only_system_clients_and_the_server_export()
    {
        var policy = new SystemClientExportPolicy();
        var spec = new BulkExportSpec(BulkExportLevel.System, "/$export", ["Observation"]);
        foreach (var role in Roles.All)
        {
            var http = new DefaultHttpContext();
            http.SetCaller(new Caller(CallerKind.Person, "someone", null, new HashSet<string> { role }, []));
            if (role is Roles.SystemClient or Roles.Server) Assert.Same(spec, await policy.AuthorizeAsync(http, spec));
            else Assert.Equal(403, (await Assert.ThrowsAsync<FhirException>(async () => await policy.AuthorizeAsync(http, spec))).Status);
        }
    }

    [FhirFact]
    public async Task The_status_of_a_job_not_yet_run_is_202_with_progress_and_Retry_After()
    {
        await ServerFixture.WithFolderAsync(async folder =>
        {
            using var server = new BulkServer(BulkSettings.Fast(new Dictionary<string, string>(FreshDatabase()) { ["BulkExport:Run"] = "false" }), folder: folder);
            var status = await server.Client.KickOffAsync("/$export?_type=Observation");
            for (var i = 0; i < 2; i++)
            {
                var r = await server.Client.GetAsync(status);
                Assert.Equal(HttpStatusCode.Accepted, r.StatusCode);
                Assert.Equal("queued", r.Headers.GetValues("X-Progress").Single());
                Assert.Equal(TimeSpan.FromSeconds(1), r.Headers.RetryAfter?.Delta);
            }
        });
    }

    [FhirFact]
    public async Task A_job_cut_short_by_a_stop_is_resumed_by_the_next_start_with_every_resource_once()
    {
        var database = BulkSettings.Fast(new Dictionary<string, string>(FreshDatabase()) { ["BulkExport:ClaimLease"] = "00:00:01" });
        await ServerFixture.WithFolderAsync(async folder =>
        {
            // Batches of 2: the 1st and 2nd batch are saved, the 3rd has written its first line when the worker is
            // stopped on its second (that line is past the saved position, on disk when the file is closed).
            var gate = new BlockingExportPolicy(blockAt: 6);
            var code = Unique();
            var ids = new HashSet<string>();
            string status;
            using (var first = new BulkServer(database, s => s.AddSingleton<IBulkExportPolicy>(gate), folder))
            {
                for (var i = 0; i < 9; i++) ids.Add(await first.Client.CreateAsync(Observation(code)));
                status = await first.Client.KickOffAsync($"/$export?_type=Observation&{Only(code)}");
                await gate.Blocked.Task.WaitAsync(TimeSpan.FromSeconds(60));
                var running = await first.Client.GetAsync(status);
                Assert.Equal(HttpStatusCode.Accepted, running.StatusCode);
                Assert.Contains("4 resources written", running.Headers.GetValues("X-Progress").Single());
            }

            using var second = new BulkServer(database, folder: folder);
            var files = await second.Client.DownloadAsync(await second.Client.ManifestAsync(status));
            Assert.Equal(9, files["Observation"].Count);
            AssertIds(ids, files.Ids("Observation"));
        });
    }

}

public sealed class BulkExportTests(BulkExportFixture fx) : BulkExportTestsBase<BulkExportFixture>(fx), IClassFixture<BulkExportFixture>
{
    protected override Dictionary<string, string> FreshDatabase() => [];
}

public sealed class PostgresBulkExportTests(PostgresBulkExportFixture fx) : BulkExportTestsBase<PostgresBulkExportFixture>(fx), IClassFixture<PostgresBulkExportFixture>
{
    protected override Dictionary<string, string> FreshDatabase() => PostgresCluster.Settings();
}

using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using FhirArchive.Rest.Access;
using FhirArchive.Storage;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using Xunit.Abstractions;

namespace FhirArchive.Server.Tests.Hostile;

/// <summary>
/// Seeded fuzzing of the whole server in process: ten thousand malformed and hostile requests (bodies, XML, content
/// types and forms, searches, headers, patches, Bundles, URLs) as a system client, a clinician and anonymously. No
/// answer may be a 5xx or take 10 s, every error is an OperationOutcome, a refused write stores nothing, and the
/// server still answers afterwards.
/// </summary>
public sealed class FuzzTests(ServerFixtureWithCallers fx, ITestOutputHelper output) : IClassFixture<ServerFixtureWithCallers>
{
    private const int Seed = 20_261_207;
    private const int Requests = 10_000;
    private static readonly TimeSpan SlowestAnswer = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Ten_thousand_hostile_requests_get_no_5xx_no_hang_and_an_OperationOutcome_for_every_error()
    {
        var client = fx.Client;
        var anonymous = fx.BareClient();
        var store = fx.Factory.Services.GetRequiredService<IResourceStore>();
        var patientId = await client.CreateAsync("""{"resourceType":"Patient","identifier":[{"system":"urn:fuzz","value":"1"}],"name":[{"family":"张"}]}""");
        await client.CreateAsync($$$"""{"resourceType":"Observation","status":"final","code":{"text":"体温"},"subject":{"reference":"Patient/{{{patientId}}}"}}""");
        var rnd = new Random(Seed);
        var requests = new HostileRequests(rnd, patientId);
        var clinician = TestCallers.As("dr-fuzz", Roles.Clinician, org: "Organization/fuzz-org", practitioner: "Practitioner/fuzz-dr");

        var failures = new List<string>();
        var statuses = new SortedDictionary<int, int>();
        var versions = await VersionsAsync(store);
        var total = Stopwatch.StartNew();
        var slowest = TimeSpan.Zero;
        for (var n = 0; n < Requests && failures.Count < 100; n++)
        {
            var r = requests.Next();
            var caller = rnd.Next(3);
            var message = new HttpRequestMessage(r.Method, r.Url);
            if (r.Body is not null)
            {
                message.Content = new ByteArrayContent(r.Body);
                if (!string.IsNullOrEmpty(r.ContentType)) message.Content.Headers.TryAddWithoutValidation("Content-Type", r.ContentType);
            }
            foreach (var (name, value) in r.Headers)
                if (!message.Headers.TryAddWithoutValidation(name, value)) message.Content?.Headers.TryAddWithoutValidation(name, value);
            if (caller == 1) message.Headers.TryAddWithoutValidation(clinician.Item1, clinician.Item2);
            if (rnd.Next(4) == 0 && !r.Headers.Any(h => h.Name == "Accept")) message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(HostileRequests.XmlType));

            using var cts = new CancellationTokenSource(SlowestAnswer);
            var watch = Stopwatch.StartNew();
            HttpResponseMessage response;
            string body;
            try
            {
                response = await (caller == 2 ? anonymous : client).SendAsync(message, cts.Token);
                body = await response.Content.ReadAsStringAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                failures.Add($"#{n} no answer within {SlowestAnswer.TotalSeconds} s: {r}");
                continue;
            }
            catch (Exception e)
            {
                // The in-process server lets an exception it did not turn into a response reach the client: a 500.
                failures.Add($"#{n} the server threw {e.GetType().Name}: {e.Message}: {r}");
                continue;
            }
            watch.Stop();
            if (watch.Elapsed > slowest) slowest = watch.Elapsed;
            var status = (int)response.StatusCode;
            statuses[status] = statuses.GetValueOrDefault(status) + 1;
            var who = caller switch { 0 => "system", 1 => "clinician", _ => "anonymous" };
            if (status >= 500) failures.Add($"#{n} {status} as {who}: {r} → {Short(body)}");
            else if (status >= 400 && !IsOperationOutcome(response, body)) failures.Add($"#{n} {status} without an OperationOutcome as {who}: {r} → '{Short(body)}'");
            if (watch.Elapsed > SlowestAnswer) failures.Add($"#{n} took {watch.Elapsed.TotalSeconds:F1} s: {r}");

            if (r.IsWrite)
            {
                var now = await VersionsAsync(store);
                if (status >= 400 && now != versions) failures.Add($"#{n} refused ({status}) but stored {now - versions} version(s): {r}");
                versions = now;
            }
        }
        total.Stop();
        output.WriteLine($"{Requests} requests in {total.Elapsed.TotalSeconds:F1} s, slowest {slowest.TotalMilliseconds:F0} ms; statuses: {string.Join(", ", statuses.Select(kv => $"{kv.Key}×{kv.Value}"))}");

        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/metadata")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/Patient/{patientId}")).StatusCode);
    }

    private static async Task<int> VersionsAsync(IResourceStore store) => (await store.HistoryAsync(new HistoryQuery(null, null, null, null, 0, 0))).Total;

    private static bool IsOperationOutcome(HttpResponseMessage response, string body)
    {
        var type = response.Content.Headers.ContentType?.MediaType ?? "";
        if (type.Contains("xml")) return body.Contains("<OperationOutcome", StringComparison.Ordinal);
        try
        {
            return JsonDocument.Parse(body).RootElement.GetProperty("resourceType").GetString() == "OperationOutcome";
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return false;
        }
    }

    private static string Short(string s) => s.Length > 300 ? s[..300] + "…" : s;
}

using System.Net.Http.Headers;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using FhirArchive.Auth;
using FhirArchive.Auth.Tokens;
using FhirArchive.Rest.Access;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace FhirArchive.Benchmarks;

/// <summary>
/// What masking by role costs on a read by id and a search: the whole server in process (sample data, consent rules,
/// audit and masking as shipped), 张伟's record read by the holder's clinician (full view: the masking policy only
/// decides) and by 北京安贞医院's clinician under 张伟's authorisation (masked: the Patient is parsed, masked, labelled and
/// written again). The difference also holds the consent decision's own difference (the holder against an authorised
/// grant), so it bounds masking's cost from above.
/// </summary>
[MemoryDiagnoser]
public class MaskingBenchmarks
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "fhirarchive-bench-masking-" + Guid.NewGuid().ToString("N"));
    // Any type of the host's assembly names its entry point (this project has a Program of its own).
    private WebApplicationFactory<Server.SampleData.SampleDataLoader.Resident> _factory = null!;
    private HttpClient _client = null!;
    private string _search = null!;
    private byte[] _patient = null!;

    /// <summary>holder: full view; elsewhere: masked.</summary>
    [Params("holder", "elsewhere")]
    public string Caller { get; set; } = "holder";

    [GlobalSetup]
    public void Setup()
    {
        Directory.CreateDirectory(_folder);
        _factory = new WebApplicationFactory<Server.SampleData.SampleDataLoader.Resident>().WithWebHostBuilder(b =>
        {
            b.UseSetting("Storage:DataFolder", _folder);
            b.UseSetting("SampleData:Load", "true");
        });
        _client = _factory.CreateClient();
        var (role, org, practitioner) = Caller == "holder"
            ? (Roles.Clinician, "Organization/bj-chaoyang-hospital", "Practitioner/dr-zhao-lei")
            : (Roles.Clinician, "Organization/bj-anzhen-hospital", "Practitioner/dr-wu-hao");
        var rule = RolePolicy.Rules[role];
        var principal = new TokenPrincipal("bench-" + Caller, true, "bench", [role], [.. rule.Ceiling], "bench", org, practitioner, PurposeOfUse: rule.Purposes[0]);
        var (token, _) = _factory.Services.GetRequiredService<TokenService>().CreateAccessToken(principal, "http://localhost");
        _client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var patient = JsonDocument.Parse(Get("/Patient/zhang-wei").GetAwaiter().GetResult()).RootElement;
        var masked = patient.TryGetProperty("meta", out var meta) && meta.TryGetProperty("security", out var s)
                     && s.EnumerateArray().Any(l => l.GetProperty("code").GetString() == "MASKED");
        if (masked != (Caller == "elsewhere")) throw new InvalidOperationException($"{Caller}: masked={masked}");
        var card = JsonDocument.Parse(Get("/Patient/zhang-wei", holder: true).GetAwaiter().GetResult()).RootElement.GetProperty("identifier")
            .EnumerateArray().First(i => i.GetProperty("system").GetString() == "urn:oid:2.16.156.10011.1.3");
        _search = "/Patient?identifier=" + Uri.EscapeDataString("urn:oid:2.16.156.10011.1.3|" + card.GetProperty("value").GetString());
        _patient = System.Text.Encoding.UTF8.GetBytes(Get("/Patient/zhang-wei", holder: true).GetAwaiter().GetResult());
    }

    private async Task<string> Get(string url, bool holder = false)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (holder)
        {
            // The holder's system client: the values as stored.
            var principal = new TokenPrincipal("bench-his", false, "bench", [Roles.SystemClient], ["system/*.cruds"], "bench-his", "Organization/bj-chaoyang-hospital");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer",
                _factory.Services.GetRequiredService<TokenService>().CreateAccessToken(principal, "http://localhost").Item1);
        }
        using var r = await _client.SendAsync(request);
        var body = await r.Content.ReadAsStringAsync();
        if (!r.IsSuccessStatusCode) throw new InvalidOperationException($"{url}: {r.StatusCode} {body}");
        return body;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _client.Dispose();
        _factory.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }

    [Benchmark]
    public Task<string> ReadById() => Get("/Patient/zhang-wei");

    [Benchmark]
    public Task<string> SearchByIdentifier() => Get(_search);

    /// <summary>The masking work alone on 张伟's Patient as stored: parse, mask, serialise (what a masked view adds per resource).</summary>
    [Benchmark]
    public byte[] MaskPatientOnly()
    {
        var node = Rest.Infrastructure.FhirFormats.ParseStored(_patient);
        Archive.Masking.PersonDataMasker.Mask(node, Archive.Masking.MaskView.Masked);
        return Fhir.Serialization.Json.FhirJsonSerializer.SerializeToUtf8Bytes(node);
    }
}

using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FhirArchive.Fhir.Tests.Support;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Rest.Tests;

/// <summary>
/// A SQLite server holding every official R4 example (hl7.fhir.r4.examples@4.0.1), loaded through transactions
/// of a few hundred PUTs each.
/// </summary>
public sealed class OfficialExamplesFixture : ServerFixture
{
    private const int BatchSize = 300;
    private const int BatchBytes = 12 * 1024 * 1024;

    /// <summary>Distinct resources loaded (the package holds ImplementationGuide/fhir twice: the second is version 2).</summary>
    public int Loaded { get; }

    /// <summary>Examples larger than the server's 16 MB body limit (Bundle/resources, Bundle/dataelements): not sent.</summary>
    public List<string> TooLarge { get; } = [];

    /// <summary>Examples whose id breaks FHIR's 64-character limit (the server rightly refuses them).</summary>
    public List<string> InvalidId { get; } = [];

    /// <summary>AuditEvent examples: the audit trail is the server's own, append-only (clients get 405), so not sent.</summary>
    public List<(string Url, JsonObject Resource)> ServerOwned { get; } = [];

    /// <summary>
    /// Subscription/example calls https://biliwatch.com/…: its host is allowed (else 422, Subscriptions:AllowedEndpoints),
    /// and nothing is sent (Deliver=false): the suite calls no host on the internet.
    /// </summary>
    public OfficialExamplesFixture()
        : base(new Dictionary<string, string> { ["Subscriptions:AllowedEndpoints:0"] = "biliwatch.com", ["Subscriptions:Deliver"] = "false" }, null) =>
        Loaded = LoadAsync().GetAwaiter().GetResult();

    private async Task<int> LoadAsync()
    {
        var entries = new List<(string Key, JsonObject Entry, int Bytes)>();
        foreach (var (_, content) in OfficialExamples.JsonFiles())
        {
            var resource = JsonNode.Parse(content)!.AsObject();
            var url = $"{resource["resourceType"]}/{resource["id"]}";
            var bytes = Encoding.UTF8.GetByteCount(resource.ToJsonString());
            if (bytes > BatchBytes) TooLarge.Add(url);
            else if (resource["id"]!.ToString().Length > 64) InvalidId.Add(url);
            else if (resource["resourceType"]!.ToString() == "AuditEvent") ServerOwned.Add((url, resource));
            else entries.Add((url, new JsonObject { ["resource"] = resource, ["request"] = new JsonObject { ["method"] = "PUT", ["url"] = url } }, bytes));
        }
        // A transaction must not touch one resource twice: a repeated id waits for the next transaction.
        var pending = entries;
        while (pending.Count > 0)
        {
            var later = new List<(string, JsonObject, int)>();
            var batch = new List<JsonObject>();
            var seen = new HashSet<string>();
            var size = 0;
            foreach (var (key, entry, bytes) in pending)
            {
                if (seen.Contains(key))
                {
                    later.Add((key, entry, bytes));
                    continue;
                }
                if (batch.Count == BatchSize || size + bytes > BatchBytes)
                {
                    await SendAsync(batch);
                    seen.Clear();
                    size = 0;
                }
                seen.Add(key);
                batch.Add(entry);
                size += bytes;
            }
            if (batch.Count > 0) await SendAsync(batch);
            pending = later;
        }
        return entries.Select(e => e.Key).Distinct().Count();
    }

    private async Task SendAsync(List<JsonObject> batch)
    {
        var bundle = new JsonObject { ["resourceType"] = "Bundle", ["type"] = "transaction", ["entry"] = new JsonArray(batch.Select(e => (JsonNode)e).ToArray()) };
        var r = await Client.PostAsync("/", new StringContent(bundle.ToJsonString(), Encoding.UTF8, Json));
        if (r.StatusCode != HttpStatusCode.OK)
            throw new InvalidOperationException($"transaction failed: {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
        foreach (var e in batch) e.Parent!.AsArray().Remove(e); // the entries go back to being reusable
        batch.Clear();
    }
}

/// <summary>Searches over the official examples, with the answers the example data implies (checked by hand against the files).</summary>
public sealed class OfficialExamplesTests(OfficialExamplesFixture fx) : IClassFixture<OfficialExamplesFixture>
{
    private readonly HttpClient _c = fx.Client;

    private async Task<JsonElement> BundleAsync(string url)
    {
        var r = await _c.GetAsync(url);
        var body = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.OK, $"{url} -> {(int)r.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement;
    }

    private async Task<List<string>> IdsAsync(string url, string mode = "match") =>
        (await BundleAsync(url)).TryGetProperty("entry", out var entries)
            ? entries.EnumerateArray().Where(e => e.GetProperty("search").GetProperty("mode").GetString() == mode)
                .Select(e => $"{e.GetProperty("resource").GetProperty("resourceType").GetString()}/{e.GetProperty("resource").GetProperty("id").GetString()}")
                .Order(StringComparer.Ordinal).ToList()
            : [];

    [Fact]
    public async Task Every_example_is_stored()
    {
        Assert.Equal(["Bundle/dataelements", "Bundle/resources"], fx.TooLarge.Order(StringComparer.Ordinal));
        Assert.Equal(["SearchParameter/questionnaireresponse-extensions-QuestionnaireResponse-item-subject"], fx.InvalidId);
        Assert.Equal(5302 - fx.ServerOwned.Count, fx.Loaded);
        Assert.Equal(9, fx.ServerOwned.Count);
        foreach (var (url, resource) in fx.ServerOwned)
            Assert.Equal(System.Net.HttpStatusCode.MethodNotAllowed, (await _c.PutAsync("/" + url, Body(resource.ToJsonString()))).StatusCode);
        Assert.Equal(22, await _c.TotalAsync("/Patient?_summary=count"));
        Assert.Equal(64, await _c.TotalAsync("/Observation?_summary=count"));
        var ig = await (await _c.GetAsync("/ImplementationGuide/fhir")).JsonAsync();
        Assert.Equal("2", ig.GetProperty("meta").GetProperty("versionId").GetString());
    }

    [Fact]
    public async Task String_token_and_date_searches()
    {
        Assert.Equal(["Patient/example"], await IdsAsync("/Patient?name=peter"));
        Assert.Equal(7, await _c.TotalAsync("/Patient?gender=female&_summary=count"));
        Assert.Equal(["Observation/example"], await IdsAsync("/Observation?code=http://loinc.org|29463-7"));
        Assert.Equal(["Patient/ch-example", "Patient/example", "Patient/genetics-example1", "Patient/mom"],
            await IdsAsync("/Patient?birthdate=ge1970-01-01&birthdate=lt1980-01-01"));
        Assert.Equal(["Observation/blood-pressure", "Observation/blood-pressure-cancel", "Observation/blood-pressure-dar"],
            await IdsAsync("/Observation?date=2012-09-17"));
    }

    // The 30 Observations whose subject is Patient/example.
    private static readonly string[] ExampleObservations =
    [
        "abdo-tender", "alcohol-type", "blood-pressure", "blood-pressure-cancel", "blood-pressure-dar", "bmi", "bmi-using-related",
        "body-height", "body-length", "body-temperature", "clinical-gender", "example", "example-TPMT-diplotype", "example-TPMT-haplotype-one",
        "example-TPMT-haplotype-two", "example-genetics-1", "example-genetics-2", "example-genetics-3", "example-genetics-4", "example-genetics-5",
        "eye-color", "gcs-qa", "glasgow", "head-circumference", "heart-rate", "map-sitting", "mbp", "respiratory-rate", "satO2", "vitals-panel",
    ];

    [Fact]
    public async Task Reference_include_chain_and_revinclude()
    {
        var expected = ExampleObservations.Select(id => "Observation/" + id).Order(StringComparer.Ordinal).ToList();
        var url = "/Observation?subject=Patient/example&_include=Observation:subject&_count=100";
        Assert.Equal(expected, await IdsAsync(url));
        Assert.Equal(["Patient/example"], await IdsAsync(url, "include"));
        Assert.Equal(expected, await IdsAsync("/Observation?subject:Patient.name=chalmers&_count=100"));
        var rev = "/Patient?_id=example&_revinclude=Observation:subject&_count=100";
        Assert.Equal(["Patient/example"], await IdsAsync(rev));
        Assert.Equal(expected, await IdsAsync(rev, "include"));
    }
}

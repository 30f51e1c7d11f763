using System.Net;
using System.Text.Json;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Rest.Tests;

/// <summary>
/// Operations as R4 operations.html has them: POST with a Parameters body (or none) and GET where nothing changes,
/// type-level Patient/$everything, "unknown operation" for what the server does not have, each resource once per
/// $everything answer; the CapabilityStatement's shaping (_summary, _elements).
/// </summary>
public sealed class OperationTests(SearchFeatureFixture fx) : IClassFixture<SearchFeatureFixture>
{
    private readonly HttpClient _c = fx.Client;
    private static readonly string[] P1Everything = ["bp1", "bp2", "dr1", "dt1", "e1", "med1", "mr1", "org1", "p1", "rp1", "rp3"];

    /// <summary>Every entry of every page of an answer, following its next links.</summary>
    private async Task<List<(string Key, string Mode)>> AllPagesAsync(string url, HttpContent? firstBody = null)
    {
        var all = new List<(string, string)>();
        var first = true;
        for (var pages = 0; url is not null; pages++)
        {
            Assert.True(pages < 100, "the next links do not end");
            var r = first && firstBody is not null ? await _c.PostAsync(url, firstBody) : await _c.GetAsync(url);
            first = false;
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            var b = await r.JsonAsync();
            if (b.TryGetProperty("entry", out var entries))
                all.AddRange(entries.EnumerateArray().Where(e => e.GetProperty("search").GetProperty("mode").GetString() != "outcome").Select(e =>
                    (e.GetProperty("resource").GetProperty("resourceType").GetString() + "/" + e.GetProperty("resource").GetProperty("id").GetString(),
                     e.GetProperty("search").GetProperty("mode").GetString()!)));
            url = b.GetProperty("link").EnumerateArray().Where(l => l.GetProperty("relation").GetString() == "next")
                .Select(l => new Uri(l.GetProperty("url").GetString()!).PathAndQuery).FirstOrDefault()!;
        }
        return all;
    }

    private static string[] Ids(IEnumerable<(string Key, string Mode)> entries) => [.. entries.Select(e => e.Key.Split('/')[1]).Order()];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(50)]
    public async Task Everything_sends_each_resource_once_across_its_pages(int count)
    {
        var all = await AllPagesAsync($"/Patient/p1/$everything?_count={count}");
        Assert.Equal(P1Everything, Ids(all)); // no repeats: the same list as the set
        Assert.Equal(["dr1", "med1", "org1"], Ids(all.Where(e => e.Mode == "include")));
    }

    [Fact]
    public async Task Everything_by_POST_takes_a_Parameters_body_or_none()
    {
        var counted = await AllPagesAsync("/Patient/p1/$everything",
            Body("""{"resourceType":"Parameters","parameter":[{"name":"_count","valueInteger":2},{"name":"_type","valueCode":"Observation,Practitioner"}]}"""));
        Assert.Equal(["bp1", "bp2", "dr1", "dt1"], Ids(counted));
        Assert.Equal(P1Everything, Ids(await AllPagesAsync("/Patient/p1/$everything", Body("""{"resourceType":"Parameters"}"""))));
        var bare = await _c.PostAsync("/Patient/p1/$everything", null);
        Assert.Equal(HttpStatusCode.OK, bare.StatusCode);
        Assert.Equal(400, (int)(await _c.PostAsync("/Patient/p1/$everything", Body("""{"resourceType":"Patient"}"""))).StatusCode);
    }

    [Fact]
    public async Task Instance_validate_with_an_empty_Parameters_validates_the_stored_resource_as_GET_does()
    {
        foreach (var r in new[] { await _c.PostAsync("/Patient/p1/$validate", Body("""{"resourceType":"Parameters"}""")), await _c.GetAsync("/Patient/p1/$validate") })
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            AssertOutcome(await r.JsonAsync());
        }
        Assert.Equal(HttpStatusCode.BadRequest, (await _c.PostAsync("/Patient/$validate", Body("""{"resourceType":"Parameters"}"""))).StatusCode);
    }

    [Fact]
    public async Task Type_level_everything_pages_every_patient_the_caller_may_see_once()
    {
        // A patient whose only observation is hidden: the practitioner that observation names is not sent either.
        var u = Unique();
        await _c.PutAsync($$"""{"resourceType":"Practitioner","id":"hidden-dr-{{u}}","name":[{"family":"Hidden"}]}""");
        await _c.PutAsync($$"""{"resourceType":"Patient","id":"pt-{{u}}","name":[{"family":"Zhou"}]}""");
        await _c.PutAsync($$"""
            {"resourceType":"Observation","id":"secret-{{u}}","meta":{"tag":[{"code":"secret"}]},"status":"final","code":{"text":"x"},
             "subject":{"reference":"Patient/pt-{{u}}"},"performer":[{"reference":"Practitioner/hidden-dr-{{u}}"}]}
            """);
        foreach (var all in new[] { await AllPagesAsync("/Patient/$everything?_count=3"),
                                    await AllPagesAsync("/Patient/$everything", Body("""{"resourceType":"Parameters","parameter":[{"name":"_count","valueInteger":4}]}""")) })
        {
            var keys = all.Select(e => e.Key).ToList();
            Assert.Equal(keys.Count, keys.Distinct().Count());
            Assert.Contains("Patient/p1", keys);
            Assert.Contains("Patient/p2", keys);
            Assert.Contains($"Patient/pt-{u}", keys);
            Assert.Contains("Observation/w1", keys);
            Assert.Contains("Practitioner/dr1", keys);
            Assert.DoesNotContain("Observation/s1", keys); // hidden by the policy
            Assert.DoesNotContain($"Observation/secret-{u}", keys);
            Assert.DoesNotContain($"Practitioner/hidden-dr-{u}", keys); // referred to only by a hidden member
            Assert.DoesNotContain("ValueSet/vsA", keys); // no patient's
        }
    }

    [Theory]
    [InlineData("GET", "/Patient/$foo", "on Patient")]
    [InlineData("POST", "/Patient/$foo", "on Patient")]
    [InlineData("GET", "/Patient/p1/$foo", "on Patient")]
    [InlineData("GET", "/Patient/nobody/$foo", "on Patient")]
    [InlineData("GET", "/$foo", "`$foo`")]
    [InlineData("DELETE", "/Observation/$foo", "on Observation")]
    public async Task An_unknown_operation_is_named_as_such(string method, string url, string where)
    {
        var r = await _c.SendAsync(new HttpRequestMessage(new HttpMethod(method), url));
        Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
        var outcome = await r.JsonAsync();
        AssertOutcome(outcome, "Unknown operation `$foo` / 未知操作");
        AssertOutcome(outcome, where);
        Assert.Equal("not-supported", outcome.GetProperty("issue")[0].GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_known_operation_with_a_method_it_does_not_take_is_405_with_Allow()
    {
        var r = await _c.SendAsync(new HttpRequestMessage(HttpMethod.Put, "/Patient/p1/$everything"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, r.StatusCode);
        Assert.Equal(["GET", "POST"], r.Content.Headers.Allow.Order());
        AssertOutcome(await r.JsonAsync());
    }

    [Fact]
    public async Task Metadata_honours_summary_and_elements()
    {
        var full = await _c.GetAsync("/metadata");
        var fullBytes = (await full.Content.ReadAsByteArrayAsync()).Length;
        var cs = await full.JsonAsync();
        Assert.Equal("FhirArchiveCapabilityStatement", cs.GetProperty("name").GetString());
        Assert.Contains("FhirArchive", cs.GetProperty("title").GetString());

        var summary = await _c.GetAsync("/metadata?_summary=true");
        var summaryBytes = (await summary.Content.ReadAsByteArrayAsync()).Length;
        Assert.True(summaryBytes * 20 < fullBytes, $"_summary=true: {summaryBytes} of {fullBytes} bytes");
        var s = await summary.JsonAsync();
        Assert.Contains(s.GetProperty("meta").GetProperty("tag").EnumerateArray(), t => t.GetProperty("code").GetString() == "SUBSETTED");
        var patient = s.GetProperty("rest")[0].GetProperty("resource").EnumerateArray().Single(r => r.GetProperty("type").GetString() == "Patient");
        Assert.False(patient.TryGetProperty("searchParam", out _)); // not a summary element
        Assert.Contains(patient.GetProperty("operation").EnumerateArray(), o => o.GetProperty("name").GetString() == "everything"); // a summary one
        Assert.Equal("4.0.1", s.GetProperty("fhirVersion").GetString());

        var elements = await (await _c.GetAsync("/metadata?_elements=name,fhirVersion")).JsonAsync();
        var kept = elements.EnumerateObject().Select(p => p.Name).ToList();
        Assert.Contains("name", kept);
        Assert.Contains("fhirVersion", kept);
        Assert.DoesNotContain("rest", kept);
        Assert.DoesNotContain("format", kept);
    }

    [Fact]
    public async Task Each_engine_operation_has_its_R4_OperationDefinition_found_by_url_and_id()
    {
        var cs = await (await _c.GetAsync("/metadata")).JsonAsync();
        var rest = cs.GetProperty("rest")[0];
        var listed = rest.GetProperty("operation").EnumerateArray()
            .Concat(rest.GetProperty("resource").EnumerateArray().SelectMany(r => r.TryGetProperty("operation", out var o) ? o.EnumerateArray() : []))
            .Select(o => (Name: o.GetProperty("name").GetString()!, Url: o.GetProperty("definition").GetString()!)).ToList();
        foreach (var name in new[] { "validate", "lookup", "subsumes", "validate-code", "expand", "translate", "everything" })
            Assert.Contains(listed, o => o.Name == name && o.Url.StartsWith("http://hl7.org/fhir/OperationDefinition/", StringComparison.Ordinal));
        foreach (var (name, url) in listed)
        {
            var found = await (await _c.GetAsync($"/OperationDefinition?url={Uri.EscapeDataString(url)}")).JsonAsync();
            Assert.Equal(1, found.GetProperty("total").GetInt32());
            var id = found.GetProperty("entry")[0].GetProperty("resource").GetProperty("id").GetString();
            var read = await (await _c.GetAsync($"/OperationDefinition/{id}")).JsonAsync();
            Assert.Equal(name, read.GetProperty("code").GetString());
            Assert.Equal(url, read.GetProperty("url").GetString());
        }
    }
}

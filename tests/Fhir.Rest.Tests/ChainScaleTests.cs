using System.Net;
using System.Text;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Rest.Tests;

/// <summary>
/// Chained and _has parameters whose inner search has more than 1,000 matches (it used to stop at 1,000 and answer
/// the outer search wrongly): 1,050 female patients with an Observation coded b, 100 male ones with one coded a,
/// every Observation also coded c. The inner searches are capped at 1,100 matches (Search:MaxChainedMatches).
/// </summary>
public static class ChainScaleData
{
    public const int Female = 1050, Male = 100;
    public static readonly Dictionary<string, string> Settings = new() { ["Search:MaxChainedMatches"] = "1100" };

    public static void Seed(HttpClient c) => Task.Run(async () =>
    {
        var entries = new List<string>();
        for (var i = 0; i < Female + Male; i++)
        {
            var (id, gender, code) = i < Female ? ($"f{i}", "female", "b") : ($"m{i}", "male", "a");
            entries.Add(Put("Patient", id, $$"""{"resourceType":"Patient","id":"{{id}}","gender":"{{gender}}"}"""));
            entries.Add(Put("Observation", "o" + id, $$$"""
                {"resourceType":"Observation","id":"o{{{id}}}","status":"final","subject":{"reference":"Patient/{{{id}}}"},
                 "code":{"coding":[{"system":"urn:t","code":"{{{code}}}"},{"system":"urn:t","code":"c"}]}}
                """));
        }
        foreach (var chunk in entries.Chunk(500))
        {
            var bundle = $$"""{"resourceType":"Bundle","type":"transaction","entry":[{{string.Join(",", chunk)}}]}""";
            var r = await c.PostAsync("/", new StringContent(bundle, Encoding.UTF8, Json));
            Assert.True(r.StatusCode == HttpStatusCode.OK, await r.Content.ReadAsStringAsync());
        }
    }).GetAwaiter().GetResult();

    private static string Put(string type, string id, string resource) =>
        $$$"""{"resource":{{{resource}}},"request":{"method":"PUT","url":"{{{type}}}/{{{id}}}"}}""";
}

public sealed class ChainScaleFixture : ServerFixtureWith
{
    public ChainScaleFixture() : base(ChainScaleData.Settings, null) => ChainScaleData.Seed(Client);
}

public sealed class PostgresChainScaleFixture : PostgresServerFixture
{
    public PostgresChainScaleFixture() : base(ChainScaleData.Settings, null) => ChainScaleData.Seed(Client);
}

public abstract class ChainScaleTestsBase<TFixture>(TFixture fx) where TFixture : ServerFixture
{
    private readonly HttpClient _c = fx.Client;

    [FhirFact]
    public async Task Chain_over_more_than_a_thousand_inner_matches_finds_them_all() =>
        Assert.Equal(ChainScaleData.Female, await _c.TotalAsync("/Observation?subject:Patient.gender=female&_summary=count"));

    [FhirFact]
    public async Task Has_over_more_than_a_thousand_inner_matches_finds_them_all() =>
        Assert.Equal(ChainScaleData.Female, await _c.TotalAsync("/Patient?_has:Observation:subject:code=urn:t|b&_summary=count"));

    /// <summary>The last patients (past the first 1,000 inner matches) are on the pages too.</summary>
    [FhirFact]
    public async Task Has_finds_the_patients_past_the_first_thousand() =>
        Assert.Equal(["f1049"], await _c.SearchIdsAsync("/Patient?_has:Observation:subject:code=urn:t|b&_id=f1049,m1050"));

    [FhirFact]
    public async Task Inner_search_over_the_cap_is_too_costly()
    {
        string[] urls =
        [
            "/Patient?_has:Observation:subject:code=urn:t|c",
            "/Observation?subject:Patient.gender=female,male",
            "/Observation?subject:Patient._has:Observation:subject:code=urn:t|c",
        ];
        foreach (var url in urls)
        {
            var r = await _c.GetAsync(url);
            Assert.True(r.StatusCode == HttpStatusCode.BadRequest, $"{url} -> {(int)r.StatusCode}");
            var body = await r.JsonAsync();
            AssertOutcome(body, "Search:MaxChainedMatches");
            Assert.Equal("too-costly", body.GetProperty("issue")[0].GetProperty("code").GetString());
        }
    }
}

public sealed class ChainScaleTests(ChainScaleFixture fx) : ChainScaleTestsBase<ChainScaleFixture>(fx), IClassFixture<ChainScaleFixture>;

public sealed class PostgresChainScaleTests(PostgresChainScaleFixture fx) : ChainScaleTestsBase<PostgresChainScaleFixture>(fx), IClassFixture<PostgresChainScaleFixture>;

using FhirArchive.Rest.Search;
using FhirArchive.Tests.Support;
using static FhirArchive.Tests.Support.Http;
using Xunit;

namespace FhirArchive.Rest.Tests;

/// <summary>Search values' escapes (search.html#escaping), read and written by one helper: \\ \| \$ \, in one pass.</summary>
public class SearchEscapingTests
{
    [Theory]
    [InlineData(@"a\\b", @"a\b")]
    [InlineData(@"a\|b", "a|b")]
    [InlineData(@"a\$b", "a$b")]
    [InlineData(@"a\,b", "a,b")]
    [InlineData(@"a\\|b", @"a\|b")]
    [InlineData(@"a\\\|b", @"a\|b")]
    [InlineData(@"a\\,b", @"a\,b")]
    [InlineData(@"a\b", @"a\b")]
    [InlineData(@"end\", @"end\")]
    public void Unescape_reads_each_escape_once(string escaped, string value) =>
        Assert.Equal(value, SearchParser.Unescape(escaped));

    [Theory]
    [InlineData(@"a\b")]
    [InlineData("a|b,c$d")]
    [InlineData(@"\\|\,\$")]
    [InlineData("urn:oid:1.2.3")]
    public void Escape_and_Unescape_give_the_value_back(string value) =>
        Assert.Equal(value, SearchParser.Unescape(SearchParser.Escape(value)));

    [Fact]
    public void Escape_marks_each_reserved_character() =>
        Assert.Equal(@"a\\b\|c\$d\,e", SearchParser.Escape(@"a\b|c$d,e"));
}

/// <summary>
/// The escapes round trip through a real search: a token value holding a reserved character is found by its escaped
/// form (<c>identifier=sys|a\|b</c> finds the value <c>a|b</c>), on each database.
/// </summary>
public abstract class SearchEscapingRoundTripTestsBase<TFixture>(TFixture fx) where TFixture : ServerFixture
{
    private readonly HttpClient _c = fx.Client;

    [FhirFact]
    public async Task A_token_value_with_escaped_separators_finds_the_stored_value()
    {
        var system = "urn:escape-test:" + Unique();
        var values = new[] { "a|b", "a,b", "a$b", @"a\b", @"a\|b" };
        var ids = new Dictionary<string, string>();
        foreach (var v in values)
            ids[v] = await _c.CreateAsync(
                $$$"""{"resourceType":"Patient","identifier":[{"system":"{{{system}}}","value":{{{System.Text.Json.JsonSerializer.Serialize(v)}}}}]}""");
        foreach (var v in values)
        {
            var url = "/Patient?identifier=" + Uri.EscapeDataString($"{SearchParser.Escape(system)}|{SearchParser.Escape(v)}");
            Assert.Equal([ids[v]], await _c.SearchIdsAsync(url));
        }
        // Two escaped values of one parameter: either matches.
        var either = "/Patient?identifier=" + Uri.EscapeDataString($"{system}|{SearchParser.Escape("a|b")},{system}|{SearchParser.Escape("a,b")}");
        Assert.Equal(new[] { ids["a|b"], ids["a,b"] }.Order(), (await _c.SearchIdsAsync(either)).Order());
        // The written-out example of the review: sys|a\|b.
        Assert.Equal([ids["a|b"]], await _c.SearchIdsAsync("/Patient?identifier=" + Uri.EscapeDataString($@"{system}|a\|b")));
    }
}

public sealed class SearchEscapingRoundTripTests(ServerFixture fx) : SearchEscapingRoundTripTestsBase<ServerFixture>(fx), IClassFixture<ServerFixture>;

public sealed class PostgresSearchEscapingRoundTripTests(PostgresServerFixture fx)
    : SearchEscapingRoundTripTestsBase<PostgresServerFixture>(fx), IClassFixture<PostgresServerFixture>;

using FhirArchive.Rest.Search;
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

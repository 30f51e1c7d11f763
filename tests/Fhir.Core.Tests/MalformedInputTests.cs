using System.Text;
using FhirArchive.Fhir.Outcomes;
using FhirArchive.Fhir.Serialization;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Fhir.Serialization.Xml;
using Xunit;

namespace FhirArchive.Fhir.Tests;

/// <summary>
/// The malformed-input corpus (Malformed/cases.tsv, made by make-cases.py) and generated hostile inputs:
/// every case yields the expected issue (severity, code, FHIRPath location, message) and never an exception.
/// </summary>
public class MalformedInputTests
{
    private static readonly FhirJsonParser Json = new(ParserOptions.Strict);
    private static readonly FhirXmlParser Xml = new(ParserOptions.Strict);

    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var c in Cases.Value) data.Add(c.Name);
        return data;
    }

    private sealed record Case(string Name, string Format, string Severity, string Code, string Location, string Message, string Input);

    private static readonly Lazy<List<Case>> Cases = new(() =>
        File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Malformed", "cases.tsv"), Encoding.UTF8)
            .Skip(1)
            .Select(l => l.Split('\t'))
            .Select(f => new Case(f[0], f[1], f[2], f[3], f[4], f[5], f[6]))
            .ToList());

    [Fact]
    public void The_corpus_has_over_a_hundred_cases_in_both_formats()
    {
        Assert.True(Cases.Value.Count >= 100, $"{Cases.Value.Count} cases");
        Assert.True(Cases.Value.Count(c => c.Format == "xml") >= 30);
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Each_case_gives_its_issue(string name)
    {
        var c = Cases.Value.Single(x => x.Name == name);
        var result = c.Format == "json" ? Json.Parse(c.Input) : Xml.Parse(c.Input);
        Assert.False(result.Success, "expected a failure");
        var match = result.Issues.FirstOrDefault(i =>
            FhirIssue.SeverityCode(i.Severity) == c.Severity && i.Code == c.Code
            && (c.Location.Length == 0 || i.Location == c.Location)
            && i.Message.Contains(c.Message, StringComparison.Ordinal));
        Assert.True(match is not null, $"expected {c.Severity} [{c.Code}] at '{c.Location}' containing '{c.Message}'; got:\n{string.Join("\n", result.Issues)}");
        if (c.Severity == "fatal") Assert.Null(result.Resource);
        AssertOutcomeIsValid(result);
    }

    private static void AssertOutcomeIsValid(ParseResult result)
    {
        var oo = FhirJsonSerializer.Serialize(result.ToOperationOutcome());
        Assert.True(Json.Parse(oo).Success, oo);
    }

    [Fact]
    public void Invalid_utf8_is_fatal_in_both_formats()
    {
        byte[] json = [.. "{\"resourceType\":\"Patient\",\"gender\":\"m"u8, 0xFF, 0xFE, .. "\"}"u8];
        byte[] xml = [.. "<Patient xmlns=\"http://hl7.org/fhir\"><gender value=\"m"u8, 0xC3, 0x28, .. "\"/></Patient>"u8];
        foreach (var r in new[] { Json.Parse(json), Xml.Parse(xml) })
        {
            Assert.Null(r.Resource);
            Assert.Contains(r.Issues, i => i.Severity == IssueSeverity.Fatal && i.Message.Contains("UTF-8"));
        }
        byte[] overlong = [.. "{\"resourceType\":\"Patient\",\"id\":\""u8, 0xC0, 0xAF, .. "\"}"u8];
        Assert.Null(Json.Parse(overlong).Resource);
    }

    [Fact]
    public void A_byte_order_mark_is_accepted()
    {
        Assert.True(Json.Parse([0xEF, 0xBB, 0xBF, .. "{\"resourceType\":\"Patient\",\"active\":true}"u8]).Success);
        Assert.True(Xml.Parse([0xEF, 0xBB, 0xBF, .. "<Patient xmlns=\"http://hl7.org/fhir\"><active value=\"true\"/></Patient>"u8]).Success);
    }

    [Fact]
    public void Ten_thousand_deep_nesting_is_refused()
    {
        var json = new StringBuilder("{\"resourceType\":\"Patient\",\"extension\":");
        for (var i = 0; i < 10_000; i++) json.Append("[{\"url\":\"u\",\"extension\":");
        json.Append("[]");
        for (var i = 0; i < 10_000; i++) json.Append("}]");
        json.Append('}');
        var r = Json.Parse(json.ToString());
        Assert.Null(r.Resource);
        Assert.Contains(r.Issues, i => i.Severity == IssueSeverity.Fatal && i.Message.Contains("depth"));

        var xml = new StringBuilder("<Patient xmlns=\"http://hl7.org/fhir\">");
        for (var i = 0; i < 10_000; i++) xml.Append("<extension url=\"u\">");
        for (var i = 0; i < 10_000; i++) xml.Append("</extension>");
        xml.Append("</Patient>");
        var x = Xml.Parse(xml.ToString());
        Assert.Null(x.Resource);
        Assert.Contains(x.Issues, i => i.Code == "too-costly" && i.Message.Contains("nested deeper"));
    }

    [Fact]
    public void A_100_MB_string_is_refused_by_the_size_limit_without_reading_it_all()
    {
        var json = new GeneratedStream("{\"resourceType\":\"Patient\",\"id\":\""u8.ToArray(), (byte)'a', 100_000_000, "\"}"u8.ToArray());
        var r = Json.Parse(json);
        Assert.Null(r.Resource);
        Assert.Contains(r.Issues, i => i.Code == "too-costly");
        Assert.True(json.Position < 70_000_000, $"read {json.Position:N0} bytes");

        var xml = new GeneratedStream("<Patient xmlns=\"http://hl7.org/fhir\"><id value=\""u8.ToArray(), (byte)'a', 100_000_000, "\"/></Patient>"u8.ToArray());
        var x = Xml.Parse(xml);
        Assert.Null(x.Resource);
        Assert.Contains(x.Issues, i => i.Code == "too-costly");
        Assert.True(xml.Position < 70_000_000, $"read {xml.Position:N0} bytes");
    }

    [Fact]
    public void A_million_bad_values_stop_collecting_issues_at_the_cap()
    {
        var json = "{\"resourceType\":\"Patient\",\"name\":[{\"given\":[" + string.Join(',', Enumerable.Repeat("1", 1_000_000)) + "]}]}";
        var r = Json.Parse(json);
        Assert.False(r.Success);
        Assert.InRange(r.Issues.Count, ParserOptions.Strict.MaxIssues, ParserOptions.Strict.MaxIssues + 1);
        Assert.Contains(r.Issues, i => i.Code == "too-costly" && i.Severity == IssueSeverity.Information);
    }

    [Fact]
    public void A_million_good_values_parse()
    {
        var json = "{\"resourceType\":\"Patient\",\"name\":[{\"given\":[" + string.Join(',', Enumerable.Repeat("\"明\"", 1_000_000)) + "]}]}";
        var r = Json.Parse(json);
        Assert.True(r.Success);
        Assert.Equal(1_000_000, r.Resource!.Child("name")!.Children.Count);
    }

    [Fact]
    public void Lenient_mode_turns_recoverable_errors_into_warnings_and_keeps_data()
    {
        var lenient = new FhirXmlParser(ParserOptions.Lenient);
        var r = lenient.Parse("""<Patient xmlns="http://hl7.org/fhir"><gender value="male"/><active value="true"/><nickname value="x"/></Patient>""");
        Assert.True(r.Success);
        Assert.All(r.Issues, i => Assert.Equal(IssueSeverity.Warning, i.Severity));
        Assert.Equal("true", r.Resource!.Child("active")!.Value);
        Assert.Equal("male", r.Resource.Child("gender")!.Value);

        var j = new FhirJsonParser(ParserOptions.Lenient).Parse("""{"resourceType":"Patient","birthDate":"1980-13-01","name":{"family":"王"}}""");
        Assert.True(j.Success);
        Assert.Equal("1980-13-01", j.Resource!.Child("birthDate")!.Value); // kept as written, with a warning
        Assert.Equal("王", j.Resource.Child("name")!.Child("family")!.Value);
        Assert.Equal(2, j.Issues.Count);
    }

    /// <summary>prefix + n copies of a byte + suffix, produced on demand (nothing is held in memory).</summary>
    private sealed class GeneratedStream(byte[] prefix, byte fill, long count, byte[] suffix) : Stream
    {
        private readonly long _length = prefix.Length + count + suffix.Length;
        private long _position;

        public override int Read(byte[] buffer, int offset, int n)
        {
            var written = 0;
            while (written < n && _position < _length)
            {
                var p = _position;
                buffer[offset + written++] = p < prefix.Length ? prefix[p]
                    : p < prefix.Length + count ? fill
                    : suffix[p - prefix.Length - count];
                _position++;
            }
            return written;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => _length;
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

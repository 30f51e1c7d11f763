using System.Diagnostics;
using System.Text;
using System.Xml.Linq;
using FhirArchive.Conformance;
using FhirArchive.Fhir.Tests.Support;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using Xunit;
using Xunit.Abstractions;
using OurJsonParser = FhirArchive.Fhir.Serialization.Json.FhirJsonParser;
using OurJsonSerializer = FhirArchive.Fhir.Serialization.Json.FhirJsonSerializer;
using OurXmlSerializer = FhirArchive.Fhir.Serialization.Xml.FhirXmlSerializer;
using ParserOptions = FhirArchive.Fhir.Serialization.ParserOptions;

namespace FhirArchive.Differential.Tests;

/// <summary>
/// Parsing and serialisation against Firely's: every official example is read strictly by Firely's parser, and what
/// we write of it (JSON and XML) is read strictly by Firely and means the same: Firely's JSON of our output equals
/// Firely's JSON of the original after normalisation (<see cref="JsonCanonical"/>: keys sorted, whitespace dropped).
/// Differences must be explained in parsing-differences.allow.tsv (part: original, json, xml; key: file name).
/// </summary>
public class ParsingDifferentialTests(ITestOutputHelper output)
{
    private static readonly IFhirSerializationEngine Strict = FhirSerializationEngineFactory.Strict(ModelInfo.ModelInspector);

    [Fact]
    public void Official_examples_and_our_serialisations_agree_with_Firely_or_are_explained()
    {
        var sw = Stopwatch.StartNew();
        // Two threads: each example is independent.
        var results = OfficialExamples.JsonFiles().ToList().AsParallel().Select(f => Compare(f.Name, f.Content)).ToList();
        var compared = results.Count(r => r is not null);
        var diffs = results.OfType<List<(string Part, string File, string Detail)>>().SelectMany(r => r)
            .ToDictionary(d => (d.Part, d.File), d => d.Detail);
        var dump = Path.Combine(OfficialExamples.RepoRoot, "artifacts", "differential", "parsing.tsv");
        Directory.CreateDirectory(Path.GetDirectoryName(dump)!);
        File.WriteAllLines(dump, diffs.OrderBy(d => d.Key.File, StringComparer.Ordinal).Select(d => $"{d.Key.Part}\t{d.Key.File}\t{d.Value.ReplaceLineEndings(" ")}"));
        var allow = AllowList.Load("parsing-differences.allow.tsv");
        var allowed = allow.Entries.Select(e => (e.Part, e.Key)).ToHashSet();
        var unexplained = diffs.Where(d => !allowed.Contains(d.Key)).OrderBy(d => d.Key.File, StringComparer.Ordinal).ToList();
        var stale = allowed.Where(a => !diffs.ContainsKey(a)).ToList();
        output.WriteLine($"{compared} examples, {diffs.Count} differences ({unexplained.Count} unexplained, {stale.Count} stale), {sw.Elapsed.TotalSeconds:F1} s");
        foreach (var c in allow.Entries.GroupBy(e => e.Class)) output.WriteLine($"  {c.Key}: {c.Count()}");
        Assert.True(compared > 5000, $"only {compared} examples");
        Assert.True(unexplained.Count == 0, string.Join("\n", unexplained.Take(40).Select(d => $"{d.Key.Part}\t{d.Key.File}\t{d.Value}")));
        Assert.True(stale.Count == 0, "no longer differ: " + string.Join(", ", stale));
    }

    /// <summary>The differences for one example (empty when none); null when our lenient parser cannot read it.</summary>
    private static List<(string, string, string)>? Compare(string name, byte[] content)
    {
        if (new OurJsonParser(ParserOptions.Lenient).Parse(content).Resource is not { } ours) return null;
        var diffs = new List<(string, string, string)>();
        string expected;
        try
        {
            expected = Canonical(Strict.DeserializeFromJson(Encoding.UTF8.GetString(content))!);
        }
        catch (DeserializationFailedException e)
        {
            diffs.Add(("original", name, FirstLine(e.Message)));
            return diffs;
        }
        foreach (var (part, text, read) in new (string, string, Func<string, Resource?>)[]
                 {
                     ("json", OurJsonSerializer.Serialize(ours), Strict.DeserializeFromJson),
                     ("xml", OurXmlSerializer.Serialize(ours), Strict.DeserializeFromXml),
                 })
        {
            try
            {
                var actual = Canonical(read(text)!);
                if (actual != expected)
                    diffs.Add((part, name, "differs at " + JsonCanonical.FirstDifference(Encoding.UTF8.GetBytes(expected), Encoding.UTF8.GetBytes(actual))));
            }
            catch (DeserializationFailedException e)
            {
                diffs.Add((part, name, "refused: " + FirstLine(e.Message)));
            }
        }
        return diffs;
    }

    /// <summary>
    /// Firely's JSON of a resource, canonical, with each narrative div as XML text (whitespace-only text nodes dropped,
    /// entities decoded): Firely's XML reader rewrites the div (drops whitespace between tags, quotes) where its JSON
    /// reader keeps the text as written.
    /// </summary>
    private static string Canonical(Resource r)
    {
        foreach (var n in new[] { r.ToPocoNode(ModelInfo.ModelInspector) }.DescendantsAndSelf().Select(d => d.Poco).OfType<Narrative>())
        {
            try
            {
                if (n.Div is { } div) n.Div = XElement.Parse(div).ToString(SaveOptions.DisableFormatting);
            }
            catch (System.Xml.XmlException)
            {
                // left as it is: the difference shows
            }
        }
        return JsonCanonical.Of(Strict.SerializeToJson(r));
    }

    private static string FirstLine(string s) => s.Split('\n')[0].Trim();
}

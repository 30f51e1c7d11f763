using System.Diagnostics;
using FhirArchive.Fhir.Serialization;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Fhir.Serialization.Xml;

namespace FhirArchive.Conformance;

/// <summary>
/// The official R4 examples: each parses in strict mode, JSON → model → JSON gives back the same document
/// (key order and whitespace aside), and so does JSON → model → XML → model → JSON.
/// </summary>
public static class ExamplesSuite
{
    public sealed record Failure(string File, string Stage, string Detail);

    public sealed record Result(int Passed, int Failed, int Skipped, IReadOnlyList<Failure> Failures, TimeSpan Elapsed);

    public static int Run(string[] args)
    {
        if (args.Length != 1)
        {
            Console.Error.WriteLine("usage: examples <folder-or-tgz>");
            return 2;
        }
        var result = Run(args[0]);
        foreach (var f in result.Failures) Console.WriteLine($"FAIL {f.File} [{f.Stage}] {f.Detail}");
        Console.WriteLine($"examples: {result.Passed} passed, {result.Failed} failed, {result.Skipped} skipped ({result.Elapsed.TotalSeconds:F1} s)");
        return result.Failed == 0 ? 0 : 1;
    }

    public static Result Run(string folderOrTgz)
    {
        var sw = Stopwatch.StartNew();
        var parser = new FhirJsonParser(ParserOptions.Strict);
        var failures = new List<Failure>();
        int passed = 0, skipped = 0;
        foreach (var (name, content) in ExampleSource.Read(folderOrTgz))
        {
            var failure = Check(parser, name, content);
            if (failure is null) passed++;
            else failures.Add(failure);
        }
        return new Result(passed, failures.Count, skipped, failures, sw.Elapsed);
    }

    /// <summary>
    /// Examples that the specification itself got wrong. Strict parsing must reject each with the issue
    /// named here; they must still round-trip after a lenient parse.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, (string Location, string Reason)> KnownInvalid =
        new Dictionary<string, (string, string)>
        {
            ["SearchParameter-questionnaireresponse-extensions-QuestionnaireResponse-item-subject.json"] = ("SearchParameter.id",
                "the id has 66 characters; FHIR ids have at most 64"),
        };

    private static readonly FhirJsonParser LenientParser = new(ParserOptions.Lenient);
    private static readonly FhirXmlParser XmlParser = new(ParserOptions.Strict);
    private static readonly FhirXmlParser LenientXmlParser = new(ParserOptions.Lenient);

    public static Failure? Check(FhirJsonParser parser, string name, byte[] content)
    {
        var parsed = parser.Parse(content);
        if (KnownInvalid.TryGetValue(name, out var known))
        {
            var errors = parsed.Issues.Where(i => i.IsError).ToList();
            if (errors.Count != 1 || errors[0].Location != known.Location)
                return new Failure(name, "known-invalid", $"expected one error at {known.Location}, got: {string.Join("; ", errors)}");
            parsed = LenientParser.Parse(content);
        }
        if (!parsed.Success)
            return new Failure(name, "parse", string.Join("; ", parsed.Issues.Where(i => i.IsError).Take(3)));
        var json = FhirJsonSerializer.SerializeToUtf8Bytes(parsed.Resource!);
        if (JsonCanonical.FirstDifference(content, json) is { } diff)
            return new Failure(name, "json-roundtrip", diff);

        var xml = FhirXmlSerializer.SerializeToUtf8Bytes(parsed.Resource!);
        var fromXml = (known.Location is null ? XmlParser : LenientXmlParser).Parse(xml);
        if (!fromXml.Success)
            return new Failure(name, "xml-parse", string.Join("; ", fromXml.Issues.Where(i => i.IsError).Take(3)));
        var jsonAgain = FhirJsonSerializer.SerializeToUtf8Bytes(fromXml.Resource!);
        if (JsonCanonical.FirstDifference(content, jsonAgain) is { } xmlDiff)
            return new Failure(name, "xml-roundtrip", xmlDiff);
        return null;
    }
}

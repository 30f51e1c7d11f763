using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Xml;
using BenchmarkDotNet.Attributes;
using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Fhir.Serialization.Xml;

namespace FhirArchive.Benchmarks;

/// <summary>Parsing JSON: the raw System.Text.Json parse (baseline) against the fidelity FHIR parse.</summary>
[MemoryDiagnoser]
public class JsonParseBenchmarks
{
    private List<byte[]> _files = [];
    private readonly FhirJsonParser _parser = new();

    [Params("typical", "synthea", "all")]
    public string Set { get; set; } = "typical";

    [GlobalSetup]
    public void Setup()
    {
        _files = Corpus.Get(Set);
        _ = FhirArchive.Fhir.Definitions.FhirDefinitions.R4;
    }

    [Benchmark(Baseline = true)]
    public int JsonDocumentParse()
    {
        var n = 0;
        foreach (var f in _files)
        {
            using var doc = JsonDocument.Parse(f);
            n += doc.RootElement.GetPropertyCount();
        }
        return n;
    }

    [Benchmark]
    public int FhirJsonParse()
    {
        var n = 0;
        foreach (var f in _files) n += _parser.Parse(f).Resource!.Children.Count;
        return n;
    }

    [Benchmark]
    public long FhirJsonParseAndSerialize()
    {
        long n = 0;
        foreach (var f in _files) n += FhirJsonSerializer.SerializeToUtf8Bytes(_parser.Parse(f).Resource!).Length;
        return n;
    }
}

/// <summary>
/// Writing JSON and XML from parsed models (MB/s counts the JSON input size for JSON, the XML size for XML); the
/// baseline is System.Text.Json writing the same documents from their <see cref="JsonDocument"/>.
/// </summary>
[MemoryDiagnoser]
public class SerializeBenchmarks
{
    private List<ElementNode> _models = [];
    private List<JsonDocument> _documents = [];

    [Params("typical", "synthea", "all")]
    public string Set { get; set; } = "typical";

    [GlobalSetup]
    public void Setup()
    {
        var parser = new FhirJsonParser();
        _models = Corpus.Get(Set).Select(f => parser.Parse(f).Resource!).ToList();
        _documents = Corpus.Get(Set).Select(f => JsonDocument.Parse(f)).ToList();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var d in _documents) d.Dispose();
    }

    [Benchmark(Baseline = true)]
    public long JsonDocumentWrite()
    {
        long n = 0;
        foreach (var d in _documents)
        {
            var buffer = new ArrayBufferWriter<byte>(4096);
            using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
                d.WriteTo(writer);
            n += buffer.WrittenSpan.ToArray().Length;
        }
        return n;
    }

    [Benchmark]
    public long FhirJsonSerialize()
    {
        long n = 0;
        foreach (var m in _models) n += FhirJsonSerializer.SerializeToUtf8Bytes(m).Length;
        return n;
    }

    [Benchmark]
    public long FhirXmlSerialize()
    {
        long n = 0;
        foreach (var m in _models) n += FhirXmlSerializer.SerializeToUtf8Bytes(m).Length;
        return n;
    }
}

/// <summary>Parsing XML: a bare XmlReader pass (baseline) against the FHIR XML parse.</summary>
[MemoryDiagnoser]
public class XmlParseBenchmarks
{
    private List<byte[]> _files = [];
    private readonly FhirXmlParser _parser = new();

    [Params("typical", "all")]
    public string Set { get; set; } = "typical";

    [GlobalSetup]
    public void Setup() => _files = XmlCorpus.Get(Set);

    [Benchmark(Baseline = true)]
    public int XmlReaderRead()
    {
        var n = 0;
        foreach (var f in _files)
        {
            using var r = XmlReader.Create(new MemoryStream(f), new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit });
            while (r.Read()) n++;
        }
        return n;
    }

    [Benchmark]
    public int FhirXmlParse()
    {
        var n = 0;
        foreach (var f in _files) n += _parser.Parse(f).Resource!.Children.Count;
        return n;
    }
}

/// <summary>The examples as FHIR XML (made from the JSON once per process).</summary>
public static class XmlCorpus
{
    private static readonly Dictionary<string, List<byte[]>> Sets = new();

    public static List<byte[]> Get(string set)
    {
        lock (Sets)
        {
            if (Sets.TryGetValue(set, out var files)) return files;
            var parser = new FhirJsonParser();
            return Sets[set] = Corpus.Get(set).Select(f => FhirXmlSerializer.SerializeToUtf8Bytes(parser.Parse(f).Resource!)).ToList();
        }
    }
}

using BenchmarkDotNet.Attributes;
using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Storage.Indexing;

namespace FhirArchive.Benchmarks;

/// <summary>
/// Search index extraction as a write does it (IndexExtractor over every SearchParameter of the type), on the resources
/// of the 10 Synthea transaction bundles (SYNTHEA_DIR, else shared/conformance-data/synthea beside the repository):
/// the general FHIRPath evaluation against the fast selection. One operation is every resource once; divide the mean
/// by the resource count the setup prints for the cost per resource.
/// </summary>
[MemoryDiagnoser]
public class IndexExtractionBenchmarks
{
    private List<ElementNode> _resources = [];
    private IndexExtractor _general = null!;
    private IndexExtractor _fast = null!;

    [GlobalSetup]
    public void Setup()
    {
        var parser = new FhirJsonParser();
        foreach (var file in Directory.EnumerateFiles(Corpus.SyntheaFolder(), "*.json").Order(StringComparer.Ordinal))
            foreach (var entry in parser.Parse(File.ReadAllBytes(file)).Resource!.ChildrenNamed("entry"))
                if (entry.Child("resource") is { } r) _resources.Add(r);
        var registry = SearchParameterRegistry.R4;
        _general = new IndexExtractor(registry, new FhirPathSearchEvaluator { FastPaths = false });
        _fast = new IndexExtractor(registry, new FhirPathSearchEvaluator());
        Console.WriteLine($"// Synthea resources: {_resources.Count}");
    }

    [Benchmark(Baseline = true)]
    public int GeneralEvaluation() => Run(_general);

    [Benchmark]
    public int FastSelection() => Run(_fast);

    private int Run(IndexExtractor extractor)
    {
        var rows = 0;
        foreach (var r in _resources) rows += extractor.Extract(r).Tokens.Count;
        return rows;
    }
}

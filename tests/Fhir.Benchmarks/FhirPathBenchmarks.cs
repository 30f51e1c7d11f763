using BenchmarkDotNet.Attributes;
using FhirArchive.Fhir.Definitions;
using FhirArchive.Fhir.FhirPath;
using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Serialization.Json;

namespace FhirArchive.Benchmarks;

/// <summary>
/// Search indexing workload: every R4 SearchParameter expression whose base matches the resource, evaluated
/// over parsed examples (parsing excluded). Compilation happens once in setup, as a server would do it.
/// </summary>
[MemoryDiagnoser]
public class FhirPathBenchmarks
{
    private List<(ElementNode Resource, CompiledExpression[] Expressions)> _work = [];

    [Params("typical", "all")]
    public string Set { get; set; } = "typical";

    [GlobalSetup]
    public void Setup()
    {
        var byType = new Dictionary<string, List<CompiledExpression>>();
        foreach (var sp in FhirDefinitions.DefinitionResources("Bundle-searchParams.json"))
        {
            if (!sp.TryGetProperty("expression", out var e) || !sp.TryGetProperty("base", out var bases)) continue;
            var compiled = FhirPathCompiler.Default.Compile(e.GetString()!);
            foreach (var b in bases.EnumerateArray())
            {
                var name = b.GetString()!;
                if (!byType.TryGetValue(name, out var list)) byType[name] = list = [];
                list.Add(compiled);
            }
        }
        var parser = new FhirJsonParser();
        _work = Corpus.Get(Set)
            .Select(f => parser.Parse(f).Resource!)
            .Select(r => (r, byType.GetValueOrDefault(r.Type!, []).Concat(byType.GetValueOrDefault("Resource", [])).ToArray()))
            .ToList();
    }

    [Benchmark]
    public long EvaluateSearchParameters()
    {
        long n = 0;
        foreach (var (resource, expressions) in _work)
            foreach (var e in expressions)
                n += e.Evaluate(resource).Count;
        return n;
    }
}

using BenchmarkDotNet.Attributes;
using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Profiles;
using FhirArchive.Profiles.Validation;

namespace FhirArchive.Benchmarks;

/// <summary>Validation as the server runs it on a write: a CN resident Patient, and a 200-entry Bundle of record resources.</summary>
[MemoryDiagnoser]
public class ValidationBenchmarks
{
    private readonly RecordValidator _validator = new();
    private ElementNode _patient = null!;
    private ElementNode _bundle = null!;

    [GlobalSetup]
    public void Setup()
    {
        var examples = ImplementationGuidePackage.Resources().Where(r => r.File.StartsWith("example/", StringComparison.Ordinal)).Select(r => r.Json).ToList();
        _patient = new FhirJsonParser().Parse(examples.Single(e => e.Contains("\"resourceType\": \"Patient\""))).GetResourceOrThrow();
        var entries = Enumerable.Range(0, 200).Select(i => $"{{\"fullUrl\":\"urn:uuid:00000000-0000-0000-0000-{i:D12}\",\"resource\":{examples[i % examples.Count]}}}");
        _bundle = new FhirJsonParser().Parse($"{{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":[{string.Join(',', entries)}]}}").GetResourceOrThrow();
        if (_validator.Validate(_patient).Any(i => i.IsError) || _validator.Validate(_bundle).Any(i => i.IsError))
            throw new InvalidOperationException("the benchmark inputs must be valid");
    }

    [Benchmark]
    public int ValidateCnPatient() => _validator.Validate(_patient).Count;

    [Benchmark]
    public int ValidateBundleOf200() => _validator.Validate(_bundle).Count;
}

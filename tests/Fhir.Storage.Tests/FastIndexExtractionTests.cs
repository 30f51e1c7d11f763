using System.Text.Json;
using FhirArchive.Fhir.FhirPath;
using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Fhir.Tests.Support;
using FhirArchive.Storage.Indexing;
using Xunit;

namespace FhirArchive.Storage.Tests;

/// <summary>
/// The fast selection of search parameter expressions (CompiledExpression.SelectNodes) against the general FHIRPath
/// evaluation, on real data: for every resource and every search parameter of its type, the same nodes in the same
/// order, and the same index rows from the extractor.
/// </summary>
public sealed class FastIndexExtractionTests
{
    private static readonly FhirPathSearchEvaluator Fast = new();
    private static readonly FhirPathSearchEvaluator General = new() { FastPaths = false };

    [Fact]
    public void Fast_selection_equals_the_general_evaluation_on_every_official_example()
    {
        var parser = new FhirJsonParser();
        var resources = new List<ElementNode>();
        foreach (var (_, content) in OfficialExamples.JsonFiles())
        {
            var parsed = parser.Parse(content);
            if (parsed.Resource is { } r) resources.Add(r);
        }
        Assert.True(resources.Count > 5000, $"{resources.Count} examples parsed");
        var (evaluations, fast) = AssertSameSelections(resources);
        // Nearly every expression has one of the fast shapes: a regression that loses them fails here.
        Assert.True(fast > evaluations * 0.9, $"{fast} of {evaluations} evaluations had a fast selector");
    }

    [SyntheaFact]
    public void Fast_selection_equals_the_general_evaluation_on_the_Synthea_bundles()
    {
        var parser = new FhirJsonParser();
        var resources = new List<ElementNode>();
        foreach (var file in Directory.EnumerateFiles(SyntheaFactAttribute.Folder!, "*.json").Order(StringComparer.Ordinal))
        {
            var bundle = parser.Parse(File.ReadAllBytes(file)).GetResourceOrThrow();
            // The entries as they sit in the transaction: resolve() finds the other entries by their urn:uuid fullUrl.
            foreach (var entry in bundle.ChildrenNamed("entry"))
                if (entry.Child("resource") is { } r) resources.Add(r);
            resources.Add(bundle);
        }
        Assert.True(resources.Count > 1000, $"{resources.Count} Synthea resources");
        var (evaluations, fast) = AssertSameSelections(resources);
        Assert.True(fast > evaluations * 0.9, $"{fast} of {evaluations} evaluations had a fast selector");
    }

    [Fact]
    public void Fast_selection_keeps_the_engines_union_deduplication_and_reference_type_tests()
    {
        var obs = new FhirJsonParser().Parse("""
            {"resourceType":"Observation","status":"final","code":{"text":"x"},
             "contained":[{"resourceType":"Patient","id":"p"}],
             "subject":{"reference":"#p"},"performer":[{"reference":"Group/g"},{"reference":"Practitioner/d"},{"display":"no reference"}],
             "category":[{"text":"a"},{"text":"a"}],"valueQuantity":{"value":5}}
            """).GetResourceOrThrow();
        AssertSame(obs, "Observation.category | Observation.category", expected: 1); // equal CodeableConcepts: one
        AssertSame(obs, "Observation.category", expected: 2);
        AssertSame(obs, "Observation.subject.where(resolve() is Patient)", expected: 1); // a contained Patient
        AssertSame(obs, "Observation.performer.where(resolve() is Practitioner)", expected: 1);
        AssertSame(obs, "(Observation.value as Quantity) | Observation.value.ofType(Quantity) | Observation.value.as(Age)", expected: 1);
        AssertSame(obs, "Observation.value as CodeableConcept", expected: 0);
        AssertSame(obs, "AllergyIntolerance.patient | Observation.subject", expected: 1);
        Assert.False(FhirPathCompiler.Default.Compile("Observation.component.where(code.exists()).value").HasFastSelector);
        // The serialised name of a choice is an error in the engine (nothing indexed): the fast path declines, the answer is the same.
        Assert.True(FhirPathCompiler.Default.Compile("Observation.valueQuantity").HasFastSelector);
        Assert.Empty(Fast.Select(obs, "Observation.valueQuantity"));
        Assert.Empty(General.Select(obs, "Observation.valueQuantity"));
    }

    private static void AssertSame(ElementNode resource, string expression, int expected)
    {
        Assert.True(FhirPathCompiler.Default.Compile(expression).HasFastSelector, expression);
        var fast = Fast.Select(resource, expression).ToList();
        Assert.Equal(General.Select(resource, expression).ToList(), fast);
        Assert.Equal(expected, fast.Count);
    }

    /// <summary>Every search parameter of each resource's type: the same nodes (identity and order), then the same rows.</summary>
    private static (int Evaluations, int Fast) AssertSameSelections(List<ElementNode> resources)
    {
        var registry = SearchParameterRegistry.R4;
        var fastExtractor = new IndexExtractor(registry, Fast);
        var generalExtractor = new IndexExtractor(registry, General);
        int evaluations = 0, fast = 0, differences = 0;
        var report = new List<string>();
        foreach (var resource in resources)
        {
            var type = resource.Type!;
            foreach (var p in registry.For(type))
            {
                foreach (var expression in Expressions(p))
                {
                    evaluations++;
                    if (FhirPathCompiler.Default.Compile(expression).HasFastSelector) fast++;
                    var expected = General.Select(resource, expression).ToList();
                    var actual = Fast.Select(resource, expression).ToList();
                    if (expected.Count == actual.Count && expected.Zip(actual).All(x => ReferenceEquals(x.First, x.Second))) continue;
                    if (++differences <= 20) report.Add($"{type}/{resource.ResourceId} {p.Code} '{expression}': {expected.Count} vs {actual.Count}");
                }
            }
            var rows = Rows(fastExtractor.Extract(resource));
            var generalRows = Rows(generalExtractor.Extract(resource));
            if (!rows.SequenceEqual(generalRows) && ++differences <= 20)
                report.Add($"{type}/{resource.ResourceId}: index rows differ ({generalRows.Count} vs {rows.Count})");
        }
        Assert.True(differences == 0, $"{differences} differences:\n" + string.Join('\n', report));
        return (evaluations, fast);
    }

    /// <summary>A parameter's expression, or a composite's components (evaluated on the resource as well: any node will do).</summary>
    private static IEnumerable<string> Expressions(SearchParamDef p)
    {
        if (p.Expression is null) yield break;
        yield return p.Expression;
        foreach (var c in p.Components) yield return c.Expression;
    }

    private static List<string> Rows(IndexSet set) =>
        set.All.Select(r => r.GetType().Name + JsonSerializer.Serialize(r, r.GetType())).ToList();
}

/// <summary>A fact over the Synthea transaction bundles (SYNTHEA_DIR, or shared/conformance-data/synthea beside the
/// repository as the load tests find them); reported as skipped when they are not on the machine.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class SyntheaFactAttribute : FactAttribute
{
    public static string? Folder { get; } = Locate();

    public SyntheaFactAttribute()
    {
        if (Folder is null) Skip = "the Synthea bundles are not on this machine (set SYNTHEA_DIR)";
    }

    private static string? Locate()
    {
        if (Environment.GetEnvironmentVariable("SYNTHEA_DIR") is { Length: > 0 } given) return given;
        string[] candidates =
        [
            Path.Combine(OfficialExamples.RepoRoot, "..", "shared", "conformance-data", "synthea"),
            "/work/shared/conformance-data/synthea",
        ];
        return candidates.FirstOrDefault(Directory.Exists);
    }
}

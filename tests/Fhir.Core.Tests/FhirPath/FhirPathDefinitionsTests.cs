using FhirArchive.Conformance;
using FhirArchive.Fhir.Definitions;
using FhirArchive.Fhir.FhirPath;
using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Serialization;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Fhir.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace FhirArchive.Fhir.Tests.FhirPath;

/// <summary>The expressions the R4 definitions themselves carry: search parameters and invariants.</summary>
public class FhirPathDefinitionsTests(ITestOutputHelper output)
{
    public static IEnumerable<(string Id, string Expression)> SearchParameterExpressions() =>
        FhirDefinitions.DefinitionResources("Bundle-searchParams.json")
            .Where(r => r.TryGetProperty("expression", out _))
            .Select(r => (r.GetProperty("id").GetString()!, r.GetProperty("expression").GetString()!));

    /// <summary>Every invariant of every loaded type, deduplicated by key and expression.</summary>
    public static IReadOnlyList<Constraint> Invariants() =>
        FhirDefinitions.R4.Types
            .SelectMany(t => (t.Root is null ? [] : t.Root.Constraints).Concat(t.Elements.SelectMany(e => e.Constraints)))
            .Where(c => c.Expression is not null)
            .DistinctBy(c => (c.Key, c.Expression))
            .ToList();

    [Fact]
    public void Every_search_parameter_expression_compiles()
    {
        var all = SearchParameterExpressions().ToList();
        Assert.True(all.Count > 1000, $"only {all.Count} search parameters with an expression");
        var failures = new List<string>();
        foreach (var (id, expr) in all)
        {
            try
            {
                FhirPathCompiler.Default.Compile(expr);
            }
            catch (FhirPathSyntaxException e)
            {
                failures.Add($"{id}: {e.Message}");
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        output.WriteLine($"{all.Count} search parameter expressions compile");
    }

    [Fact]
    public void Every_invariant_expression_compiles()
    {
        var all = Invariants();
        var failures = new List<string>();
        foreach (var c in all)
        {
            try
            {
                FhirPathCompiler.Default.Compile(c.Expression!);
            }
            catch (FhirPathSyntaxException e)
            {
                failures.Add($"{c.Key}: {c.Expression} -- {e.Message}");
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        output.WriteLine($"{all.Count} invariant expressions compile");
    }

    /// <summary>The invariants that apply to a node: its element's, plus its type's root invariants.</summary>
    private static IEnumerable<Constraint> ConstraintsOf(ElementNode n)
    {
        if (n.Definition is { } d)
            foreach (var c in d.Constraints)
                if (c.Expression is not null) yield return c;
        if (n.TypeDef is { Kind: not TypeKind.Backbone, Root: { } root })
            foreach (var c in root.Constraints)
                if (c.Expression is not null && n.Definition?.Constraints.Contains(c) != true) yield return c;
    }

    [Fact]
    public void Invariants_evaluate_without_error_on_the_official_examples()
    {
        var parser = new FhirJsonParser(ParserOptions.Lenient);
        int examples = 0, allSatisfied = 0, allErrorsSatisfied = 0, evaluations = 0;
        var errors = new List<string>();
        var violated = new Dictionary<string, int>();
        var errorViolations = new List<string>();
        foreach (var (name, content) in ExampleSource.Read(OfficialExamples.PackagePath))
        {
            var resource = parser.Parse(content).Resource;
            if (resource is null) continue;
            examples++;
            bool ok = true, okErrors = true;
            foreach (var node in resource.Descendants().Prepend(resource))
            {
                foreach (var c in ConstraintsOf(node))
                {
                    evaluations++;
                    try
                    {
                        var r = FhirPathCompiler.Default.Compile(c.Expression!).Evaluate(node);
                        // An invariant fails only on false; empty means it does not apply.
                        if (r is [{ Value: false }])
                        {
                            ok = false;
                            if (c.Severity == "error")
                            {
                                okErrors = false;
                                if (errorViolations.Count < 20) errorViolations.Add($"{name} {node.Location} {c.Key}: {c.Expression}");
                            }
                            violated[$"{c.Key} ({c.Severity})"] = violated.GetValueOrDefault($"{c.Key} ({c.Severity})") + 1;
                        }
                    }
                    catch (FhirPathEvaluationException e)
                    {
                        errors.Add($"{name} {node.Location} {c.Key}: {e.Message}");
                    }
                }
            }
            if (ok) allSatisfied++;
            if (okErrors) allErrorsSatisfied++;
        }
        var shareAll = 100.0 * allSatisfied / examples;
        var share = 100.0 * allErrorsSatisfied / examples;
        output.WriteLine($"{examples} examples, {evaluations} invariant evaluations; {allErrorsSatisfied} ({share:F1}%) satisfy every error-severity invariant, "
                         + $"{allSatisfied} ({shareAll:F1}%) also every warning");
        foreach (var (key, count) in violated.OrderByDescending(v => v.Value).Take(25)) output.WriteLine($"  {key}: violated {count}x");
        foreach (var v in errorViolations) output.WriteLine("  " + v);
        Assert.True(errors.Count == 0, $"{errors.Count} errors:\n" + string.Join("\n", errors.Take(30)));
        Assert.True(examples > 5000);
        Assert.True(share >= MinimumShare, $"share {share:F1}% below {MinimumShare}%");
    }

    [Fact]
    public void Search_parameter_expressions_evaluate_on_the_official_examples()
    {
        var byType = SearchParamDump.CompiledByBaseType();
        var parser = new FhirJsonParser(ParserOptions.Lenient);
        long evaluations = 0, values = 0;
        var errors = new List<string>();
        foreach (var (name, content) in ExampleSource.Read(OfficialExamples.PackagePath))
        {
            if (parser.Parse(content).Resource is not { } resource) continue;
            foreach (var (id, expr) in byType.GetValueOrDefault(resource.Type!, []).Concat(byType.GetValueOrDefault("Resource", [])))
            {
                evaluations++;
                try
                {
                    values += expr.Evaluate(resource).Count;
                }
                catch (FhirPathEvaluationException e)
                {
                    errors.Add($"{name} {id}: {e.Message}");
                }
            }
        }
        output.WriteLine($"{evaluations} search parameter evaluations, {values} values extracted, {errors.Count} errors");
        Assert.True(errors.Count == 0, string.Join("\n", errors.Take(30)));
        Assert.True(values > 10_000);
    }

    /// <summary>Measured share of examples satisfying every invariant of their types; raise it when it improves.</summary>
    private const double MinimumShare = 99.8; // 5296 of 5306 (2026-11-23)
}

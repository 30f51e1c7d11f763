using System.Diagnostics;
using System.Text;
using System.Text.Json;
using FhirArchive.Fhir.Definitions;
using FhirArchive.Fhir.FhirPath;
using FhirArchive.Fhir.Serialization;
using FhirArchive.Fhir.Serialization.Json;

namespace FhirArchive.Conformance;

/// <summary>
/// `fhirpath-searchparams <examples> [dump.jsonl]`: evaluates every R4 SearchParameter expression on every example
/// of a matching type, reports the time, and optionally writes each result for comparison with fhirpath.js
/// (tests/Fhir.Benchmarks/fhirpath-js/compare.mjs).
/// </summary>
public static class SearchParamDump
{
    public static int Run(string[] args)
    {
        if (args.Length is < 1 or > 2)
        {
            Console.Error.WriteLine("usage: fhirpath-searchparams <examples-folder-or-tgz> [dump.jsonl]");
            return 2;
        }
        var byType = CompiledByBaseType();
        var parser = new FhirJsonParser(ParserOptions.Lenient);
        var resources = ExampleSource.Read(args[0])
            .Select(f => (f.Name, Resource: parser.Parse(f.Content).Resource))
            .Where(r => r.Resource is not null)
            .ToList();
        using var dump = args.Length > 1 ? new StreamWriter(args[1], false, new UTF8Encoding(false)) : null;
        long evaluations = 0, values = 0, errors = 0;
        var sw = Stopwatch.StartNew();
        foreach (var (name, resource) in resources)
        {
            foreach (var (id, expr) in byType.GetValueOrDefault(resource!.Type!, []).Concat(byType.GetValueOrDefault("Resource", [])))
            {
                evaluations++;
                try
                {
                    var r = expr.Evaluate(resource);
                    values += r.Count;
                    dump?.WriteLine(JsonSerializer.Serialize(new { file = name, sp = id, values = r.Select(Key).ToArray() }));
                }
                catch (FhirPathEvaluationException e)
                {
                    errors++;
                    dump?.WriteLine(JsonSerializer.Serialize(new { file = name, sp = id, error = e.Message }));
                }
            }
        }
        sw.Stop();
        Console.WriteLine($"fhirpath-searchparams: {resources.Count} resources, {evaluations} evaluations, {values} values, {errors} errors, " +
                          $"{sw.Elapsed.TotalMilliseconds:F0} ms ({evaluations / sw.Elapsed.TotalSeconds:F0} evaluations/s; dump writing included when asked)");
        return errors == 0 ? 0 : 1;
    }

    /// <summary>A comparable text per item: a primitive's lexical value, else "#object:Type".</summary>
    private static string Key(FhirPathItem i) =>
        i.Node is { IsPrimitive: true } n ? n.Value ?? "" : i.Node is { } c ? "#object:" + c.Type : FhirPathValues.Format(i.Value);

    /// <summary>Every official SearchParameter expression, compiled, under each resource type it is based on.</summary>
    public static Dictionary<string, List<(string Id, CompiledExpression Expr)>> CompiledByBaseType()
    {
        var byType = new Dictionary<string, List<(string Id, CompiledExpression Expr)>>();
        foreach (var sp in FhirDefinitions.DefinitionResources("Bundle-searchParams.json"))
        {
            if (!sp.TryGetProperty("expression", out var e) || !sp.TryGetProperty("base", out var bases)) continue;
            var compiled = FhirPathCompiler.Default.Compile(e.GetString()!);
            foreach (var b in bases.EnumerateArray())
            {
                var t = b.GetString()!;
                if (!byType.TryGetValue(t, out var list)) byType[t] = list = [];
                list.Add((sp.GetProperty("id").GetString()!, compiled));
            }
        }
        return byType;
    }
}

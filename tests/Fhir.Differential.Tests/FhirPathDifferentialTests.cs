using System.Diagnostics;
using System.Xml.Linq;
using FhirArchive.Conformance;
using FhirArchive.Fhir.Definitions;
using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Tests.Support;
using Hl7.Fhir.Model;
using Xunit;
using Xunit.Abstractions;

namespace FhirArchive.Differential.Tests;

/// <summary>
/// Our FHIRPath engine against Firely's (Hl7.FhirPath of Hl7.Fhir.R4 6.8.0) on the same expressions and inputs:
/// the official R4 FHIRPath suite, every R4 SearchParameter expression and every R4 invariant over the official
/// examples. Results are compared as normalised text (<see cref="Normalized"/>); every difference must be explained
/// in fhirpath-differences.allow.tsv, and every entry there must still occur.
/// </summary>
public class FhirPathDifferentialTests(ITestOutputHelper output)
{
    private const string AllowFile = "fhirpath-differences.allow.tsv";
    private const string FirelyDefect = "Firely defect";

    /// <summary>Differences of one part: key → cases (first few kept) and count.</summary>
    private sealed class Differences(string part)
    {
        public readonly Dictionary<string, (int Count, string Example)> ByKey = new(StringComparer.Ordinal);
        public int Compared;

        public void Compare(string key, string expression, string what, string ours, string firely)
        {
            Compared++;
            if (ours == firely) return;
            var example = $"{what}\t{expression}\tours={ours}\tfirely={firely}".ReplaceLineEndings(" ");
            ByKey[key] = ByKey.TryGetValue(key, out var d) ? (d.Count + 1, d.Example) : (1, example);
        }

        public void Check(ITestOutputHelper output, TimeSpan elapsed)
        {
            var allowed = AllowList.Load(AllowFile).For(part);
            var unexplained = ByKey.Where(d => !allowed.ContainsKey(d.Key)).OrderBy(d => d.Key, StringComparer.Ordinal).ToList();
            var stale = allowed.Keys.Where(k => !ByKey.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
            var classes = ByKey.Keys.Where(allowed.ContainsKey).GroupBy(k => allowed[k].Class).OrderBy(g => g.Key);
            output.WriteLine($"{part}: {Compared} comparisons, {ByKey.Count} keys differ ({ByKey.Values.Sum(v => v.Count)} cases), " +
                             $"{unexplained.Count} unexplained, {stale.Count} stale allow-list entries, {elapsed.TotalSeconds:F1} s");
            foreach (var c in classes) output.WriteLine($"  {c.Key}: {c.Count()}");
            // The full list for triage (git-ignored artifacts/).
            var dump = Path.Combine(OfficialExamples.RepoRoot, "artifacts", "differential", $"fhirpath-{part}.tsv");
            Directory.CreateDirectory(Path.GetDirectoryName(dump)!);
            File.WriteAllLines(dump, ByKey.OrderBy(d => d.Key, StringComparer.Ordinal).Select(d => $"{d.Key}\t{d.Value.Count}\t{d.Value.Example}"));
            Assert.True(unexplained.Count == 0, $"{unexplained.Count} differences not in {AllowFile} (all in {dump}):\n" +
                string.Join("\n", unexplained.Take(30).Select(d => $"{part}\t{d.Key}\t{d.Value.Count}x\t{d.Value.Example}")));
            Assert.True(stale.Count == 0, $"entries of {AllowFile} that no longer differ: {string.Join(", ", stale)}");
        }
    }

    [Fact]
    public void Official_suite_expressions_agree_with_Firely_or_are_explained()
    {
        var sw = Stopwatch.StartNew();
        var folder = OfficialExamples.ConformanceData("fhirpath");
        var doc = XDocument.Load(Path.Combine(folder, "tests-fhir-r4.xml"));
        var inputs = new Dictionary<string, (ElementNode, PocoNode)>();
        var diffs = new Differences("suite");
        foreach (var test in doc.Descendants("test"))
        {
            var name = (string?)test.Attribute("name") ?? "?";
            var exprEl = test.Element("expression")!;
            var strict = (string?)test.Attribute("mode") == "strict" || (string?)exprEl.Attribute("mode") == "strict";
            var file = (string?)test.Attribute("inputfile");
            (ElementNode Ours, PocoNode Firely)? input = null;
            if (file is not null)
            {
                if (!inputs.TryGetValue(file, out var both))
                {
                    var path = Path.Combine(folder, "input", file);
                    var text = File.ReadAllText(path);
                    var resource = (path.EndsWith(".json", StringComparison.Ordinal)
                        ? Engines.FirelyParser.DeserializeFromJson(text) : Engines.FirelyParser.DeserializeFromXml(text))!;
                    inputs[file] = both = (FhirPathCommand.Load(path), resource.ToPocoNode(ModelInfo.ModelInspector));
                }
                input = both;
            }
            diffs.Compare(name, exprEl.Value, file ?? "(no input)",
                Engines.RunOurs(exprEl.Value, input?.Ours, strict), Engines.RunFirely(exprEl.Value, input?.Firely));
        }
        Assert.True(diffs.Compared > 900, $"only {diffs.Compared} suite expressions");
        diffs.Check(output, sw.Elapsed);
        // "Firely defect" on a suite test means the official expectation is our result: checked, not taken on trust.
        var ours = FhirPathSuite.Run(folder);
        var notOurs = ours.Failures.Select(f => f.Name).Concat(ours.Skips.Select(s => s.Name)).ToHashSet(StringComparer.Ordinal);
        var wrong = AllowList.Load(AllowFile).For("suite").Values.Where(e => e.Class == FirelyDefect && notOurs.Contains(e.Key)).Select(e => e.Key);
        Assert.Empty(wrong);
    }

    [Fact]
    public void Search_parameter_expressions_agree_with_Firely_on_the_examples_or_are_explained()
    {
        var sw = Stopwatch.StartNew();
        var byType = new Dictionary<string, List<(string Id, string Expression)>>();
        foreach (var sp in FhirDefinitions.DefinitionResources("Bundle-searchParams.json"))
        {
            if (!sp.TryGetProperty("expression", out var e) || !sp.TryGetProperty("base", out var bases)) continue;
            foreach (var b in bases.EnumerateArray())
            {
                if (!byType.TryGetValue(b.GetString()!, out var list)) byType[b.GetString()!] = list = [];
                list.Add((sp.GetProperty("id").GetString()!, e.GetString()!));
            }
        }
        var diffs = new Differences("searchparam");
        var examples = Engines.Examples;
        foreach (var x in examples)
            foreach (var (id, expr) in byType.GetValueOrDefault(x.Ours.Type!, []).Concat(byType.GetValueOrDefault("Resource", [])))
                diffs.Compare(id, expr, x.Name, Engines.RunOurs(expr, x.Ours), Engines.RunFirely(expr, x.Firely));
        output.WriteLine($"{examples.Count} examples read by both parsers; {byType.Values.Sum(l => l.Count)} (parameter, base) pairs");
        Assert.True(examples.Count > 5000, $"only {examples.Count} examples");
        Assert.True(diffs.Compared > 100_000, $"only {diffs.Compared} evaluations");
        diffs.Check(output, sw.Elapsed);
    }

    /// <summary>
    /// Invariants of resource (and backbone) elements are evaluated as `path.select(expression)` on each example's own
    /// resource, on every example. Invariants of data types are evaluated on each node of that type (the nodes of both
    /// models paired by their path), on every <see cref="DataTypeStride"/>th example; ele-1, which holds on every
    /// element, on every node of every <see cref="EleStride"/>th example and on each primitive without a value of all
    /// (sampled to keep the test near a minute: all of them take about 4 minutes, mostly in Firely).
    /// Results are compared unordered.
    /// </summary>
    [Fact]
    public void Invariants_agree_with_Firely_on_the_examples_or_are_explained()
    {
        var sw = Stopwatch.StartNew();
        var (byResource, byDataType) = InvariantContexts();
        var diffs = new Differences("invariant");
        var examples = Engines.Examples;
        long resourceTicks = 0, nodeTicks = 0, eleTicks = 0, eleCount = 0, mapTicks = 0, mapCount = 0;
        for (var i = 0; i < examples.Count; i++)
        {
            var x = examples[i];
            var t0 = Stopwatch.GetTimestamp();
            foreach (var (key, context, expr) in byResource.GetValueOrDefault(x.Ours.Type!, []).Concat(byResource.GetValueOrDefault("*", [])))
            {
                var full = $"{context.Replace("*", x.Ours.Type)}.select({expr})";
                diffs.Compare($"{key}@{context}", full, x.Name, Unordered(Engines.RunOurs(full, x.Ours)), Unordered(Engines.RunFirely(full, x.Firely)));
            }
            var t1 = Stopwatch.GetTimestamp();
            Dictionary<string, PocoNode>? firelyByPath = null; // built when first needed
            foreach (var node in x.Ours.Descendants())
            {
                var invariants = i % DataTypeStride == 0 ? byDataType.GetValueOrDefault(node.Type ?? "", []) : [];
                // ele-1 is hasValue() on a primitive with a value: all other nodes on a sample, primitives without a value always.
                if ((i % EleStride == 0 || node.IsPrimitive && node.Value is null) && byDataType.TryGetValue("Element", out var ele))
                    invariants = [.. invariants, .. ele];
                if (invariants.Count == 0) continue;
                var path = PathOf(node);
                if (firelyByPath is null)
                {
                    var m0 = Stopwatch.GetTimestamp();
                    firelyByPath = FirelyByPath(x.Firely);
                    (mapCount, mapTicks) = (mapCount + 1, mapTicks + Stopwatch.GetTimestamp() - m0);
                }
                if (!firelyByPath.TryGetValue(path, out var twin))
                {
                    diffs.Compare("(node not found in Firely's model)", path, x.Name, "node", "none");
                    continue;
                }
                foreach (var (key, type, expr) in invariants)
                {
                    var e0 = Stopwatch.GetTimestamp();
                    diffs.Compare($"{key}@{type}", expr, $"{x.Name} {path}", Unordered(Engines.RunOurs(expr, node)),
                        Unordered(Engines.RunFirely(expr, twin, x.Firely)));
                    if (key == "ele-1") (eleCount, eleTicks) = (eleCount + 1, eleTicks + Stopwatch.GetTimestamp() - e0);
                }
            }
            resourceTicks += t1 - t0;
            nodeTicks += Stopwatch.GetTimestamp() - t1;
        }
        output.WriteLine($"resource-element invariants {resourceTicks / Stopwatch.Frequency} s; data-type invariants per node " +
                         $"{(nodeTicks - eleTicks) / Stopwatch.Frequency} s; ele-1 ({eleCount} nodes) {eleTicks / Stopwatch.Frequency} s; " +
                         $"pairing the nodes of {mapCount} examples {mapTicks / Stopwatch.Frequency} s");
        Assert.True(diffs.Compared > 100_000, $"only {diffs.Compared} invariant evaluations");
        diffs.Check(output, sw.Elapsed);
    }

    private const int DataTypeStride = 10;
    private const int EleStride = 25;

    /// <summary>A node's path with every step indexed among its same-named siblings: "name[0].given[1]".</summary>
    private static string PathOf(ElementNode n)
    {
        var parts = new List<string>();
        for (; n.Parent is { } p; n = p)
        {
            var index = 0;
            foreach (var c in p.Children)
            {
                if (ReferenceEquals(c, n)) break;
                if (c.Name == n.Name) index++;
            }
            parts.Add($"{n.Name}[{index}]");
        }
        parts.Reverse();
        return string.Join('.', parts);
    }

    private static Dictionary<string, PocoNode> FirelyByPath(PocoNode root)
    {
        var map = new Dictionary<string, PocoNode>(StringComparer.Ordinal);
        void Walk(PocoNode n, string path)
        {
            foreach (var c in n.Children())
            {
                // A repeating element is one list node holding its items.
                var items = c switch
                {
                    PocoNode one => [one],
                    IEnumerable<PocoNode> list => list.ToList(),
                    _ => [],
                };
                for (var index = 0; index < items.Count; index++)
                {
                    var p = path.Length == 0 ? $"{c.Name}[{index}]" : $"{path}.{c.Name}[{index}]";
                    map[p] = items[index];
                    Walk(items[index], p);
                }
            }
        }
        Walk(root, "");
        return map;
    }

    private static string Unordered(string shown) =>
        shown == Engines.Error ? shown : "[" + string.Join(", ", shown[1..^1].Split(", ").Order(StringComparer.Ordinal)) + "]";

    /// <summary>(key, context, expression) per resource type ("*": every resource) and per data type (context: the
    /// type; an invariant of a data type's element is evaluated on the type as `element.all(expression)`).</summary>
    private static (Dictionary<string, List<(string, string, string)>>, Dictionary<string, List<(string, string, string)>>) InvariantContexts()
    {
        var byResource = new Dictionary<string, List<(string, string, string)>>(StringComparer.Ordinal);
        var byDataType = new Dictionary<string, List<(string, string, string)>>(StringComparer.Ordinal);
        static void Add(Dictionary<string, List<(string, string, string)>> d, string k, (string, string, string) v)
        {
            if (!d.TryGetValue(k, out var l)) d[k] = l = [];
            if (!l.Contains(v)) l.Add(v);
        }
        // Snapshots repeat a type's own invariants (ele-1, per-1...) on every element of that type: those are
        // evaluated once, in the type's context, not again per element.
        var typeKeys = FhirDefinitions.R4.Types.SelectMany(t => t.Root?.Constraints ?? []).Select(c => c.Key).ToHashSet(StringComparer.Ordinal);
        var seen = new HashSet<TypeDefinition>();
        void Elements(TypeDefinition t, string resource)
        {
            // Backbones reached again through a content reference (Questionnaire.item.item) are done once.
            if (!seen.Add(t)) return;
            foreach (var e in t.Elements)
            {
                foreach (var c in e.Constraints.Where(c => c.Expression is not null && !typeKeys.Contains(c.Key) && !e.Path.EndsWith("[x]", StringComparison.Ordinal)))
                    Add(byResource, resource, (c.Key, e.Path, c.Expression!));
                if (e.Backbone is { } b) Elements(b, resource);
            }
        }
        foreach (var t in FhirDefinitions.R4.Types)
        {
            // A type's own invariants; inherited ones (ele-1 on every type, dom-* on every resource) carry their
            // source and are evaluated in the context of the type that defines them.
            var root = t.Root?.Constraints.Where(c => c.Expression is not null && (c.Source is null || c.Source == t.Url)) ?? [];
            if (t.Kind == TypeKind.Resource)
            {
                foreach (var c in root) Add(byResource, t.IsAbstract ? "*" : t.Name, (c.Key, t.IsAbstract ? "*" : t.Name, c.Expression!));
                if (!t.IsAbstract) Elements(t, t.Name);
            }
            else if (t.Kind == TypeKind.Complex)
            {
                foreach (var c in root) Add(byDataType, t.Name, (c.Key, t.Name, c.Expression!));
                foreach (var e in t.Elements)
                    foreach (var c in e.Constraints.Where(c => c.Expression is not null && !typeKeys.Contains(c.Key)))
                        Add(byDataType, t.Name, (c.Key, t.Name, $"{e.Name}.all({c.Expression})"));
            }
        }
        return (byResource, byDataType);
    }
}

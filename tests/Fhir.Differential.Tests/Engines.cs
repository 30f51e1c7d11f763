using System.Collections.Concurrent;
using Hl7.Fhir.FhirPath;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using FhirArchive.Fhir.FhirPath;
using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Serialization;
using OurJsonParser = FhirArchive.Fhir.Serialization.Json.FhirJsonParser;
using FhirArchive.Fhir.Tests.Support;
using FirelyCompiler = Hl7.FhirPath.FhirPathCompiler;
using FirelyExpression = Hl7.FhirPath.CompiledExpression;
using OurContext = FhirArchive.Fhir.FhirPath.EvaluationContext;

namespace FhirArchive.Differential.Tests;

/// <summary>One input in both models: our ElementNode and Firely's PocoNode of the same resource.</summary>
public sealed record Twin(string Name, ElementNode Ours, PocoNode Firely);

/// <summary>Evaluates one expression in both engines and gives each outcome as normalised text ("error" on any error).</summary>
public static class Engines
{
    public const string Error = "error";

    private static readonly FirelyCompiler Firely = CreateFirely();

    /// <summary>Firely's compiler with the FHIR functions (hasValue, resolve, extension, htmlChecks, memberOf...).</summary>
    private static FirelyCompiler CreateFirely()
    {
        ElementNavFhirExtensions.PrepareFhirSymbolTableFunctions();
        return new FirelyCompiler();
    }
    private static readonly ConcurrentDictionary<string, Lazy<FirelyExpression?>> FirelyCache = new();

    /// <summary>Firely's lenient ("Ostrich") deserializer: the examples are read the same way by both sides.</summary>
    public static readonly IFhirSerializationEngine FirelyParser = FhirSerializationEngineFactory.Ostrich(ModelInfo.ModelInspector);

    public static string RunOurs(string expression, ElementNode? focus, bool strict = false)
    {
        try
        {
            var compiled = FhirPathCompiler.Default.Compile(expression);
            var r = compiled.Evaluate(focus is null ? [] : [FhirPathItem.FromNode(focus)], new OurContext { Strict = strict });
            return Show(r.Select(Normalized.Ours));
        }
        catch (Exception e) when (e is FhirPathSyntaxException or FhirPathEvaluationException)
        {
            return Error;
        }
    }

    /// <summary>Firely's result; %resource and %rootResource are <paramref name="resource"/> (default: the focus).</summary>
    public static string RunFirely(string expression, PocoNode? focus, PocoNode? resource = null)
    {
        var compiled = FirelyCache.GetOrAdd(expression, e => new Lazy<FirelyExpression?>(() =>
        {
            try
            {
                return Firely.Compile(e);
            }
            catch (Exception)
            {
                return null;
            }
        })).Value;
        if (compiled is null) return Error;
        try
        {
            // As ours without a Resolver: references outside the resource (contained, Bundle) resolve to nothing.
            var ctx = new FhirEvaluationContext { ElementResolver = _ => null };
            if ((resource ?? focus) is { } r) (ctx.Resource, ctx.RootResource) = (r, r);
            // Without an input, an empty Parameters is the focus (Firely needs a node; the suite's inputless
            // expressions do not navigate).
            return Show(compiled(focus ?? NoInput, ctx).Select(Normalized.Firely).ToList());
        }
        catch (Exception)
        {
            return Error;
        }
    }

    private static readonly PocoNode NoInput = new Parameters().ToPocoNode(ModelInfo.ModelInspector);

    private static string Show(IEnumerable<string> items) => "[" + string.Join(", ", items) + "]";

    private static readonly Lazy<IReadOnlyList<Twin>> LazyExamples = new(LoadExamples);

    /// <summary>Every official JSON example that both parsers read, in both models.</summary>
    public static IReadOnlyList<Twin> Examples => LazyExamples.Value;

    private static List<Twin> LoadExamples() =>
        OfficialExamples.JsonFiles().ToList().AsParallel().AsOrdered().Select(f => Read(f.Name, f.Content)).OfType<Twin>().ToList();

    private static Twin? Read(string name, byte[] content)
    {
        if (new OurJsonParser(ParserOptions.Lenient).Parse(content).Resource is not { } ours) return null;
        try
        {
            return FirelyParser.DeserializeFromJson(System.Text.Encoding.UTF8.GetString(content)) is { } firely
                ? new Twin(name, ours, firely.ToPocoNode(ModelInfo.ModelInspector)) : null;
        }
        catch (Exception)
        {
            return null;
        }
    }
}

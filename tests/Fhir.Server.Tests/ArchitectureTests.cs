using System.Reflection;
using System.Xml.Linq;
using FhirArchive.Fhir.Tests.Support;
using Xunit;

namespace FhirArchive.Server.Tests;

/// <summary>
/// The project graph under src/ (README, "Architecture"): dependencies point one way, host → domain → audit trail →
/// engine → storage and auth → core. The graph is read twice, from the project files (their ProjectReferences) and from
/// the built assemblies (the references they were compiled with), and each reading, direct and transitive, must keep it.
/// </summary>
public sealed class ArchitectureTests
{
    /// <summary>The layers, lowest first: a project may use its own layer and the ones below, never one above.</summary>
    private static readonly string[][] Layers =
    [
        ["Fhir.Core", "Terminology", "Profiles", "Fhir.Crypto"], // core: the FHIR model, terminologies, profiles, algorithms
        ["Fhir.Storage", "Fhir.Auth"],                            // the store; the OAuth server (never the store: see below)
        ["Fhir.Rest"],                                            // the engine
        ["Fhir.Audit"],                                           // the audit trail
        ["Archive"],                                              // the record-sharing domain
        ["Fhir.Server", "Fhir.Tools"],                            // the host; the operator's command line
    ];

    /// <summary>The FHIR engine and what it stands on: none of it knows the domain.</summary>
    private static readonly string[] Engine = ["Fhir.Core", "Fhir.Storage", "Fhir.Auth", "Fhir.Rest", "Fhir.Audit"];

    public static TheoryData<string> Readings => new() { ProjectFiles, Assemblies };
    private const string ProjectFiles = "project files";
    private const string Assemblies = "assemblies";

    [Fact]
    public void Every_src_project_has_its_layer()
    {
        var layered = Layers.SelectMany(l => l).Order(StringComparer.Ordinal);
        Assert.Equal(layered, SrcProjects().Keys.Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Readings))]
    public void Dependencies_point_one_way(string reading)
    {
        var graph = Graph(reading);
        Assert.Empty(AgainstTheLayers(graph));
    }

    [Theory]
    [MemberData(nameof(Readings))]
    public void The_engine_does_not_reach_the_domain(string reading)
    {
        var graph = Graph(reading);
        Assert.DoesNotContain(Engine, p => Reach(graph, p).Contains("Archive"));
    }

    [Theory]
    [MemberData(nameof(Readings))]
    public void The_engine_does_not_reach_the_audit_trail(string reading) =>
        Assert.DoesNotContain("Fhir.Audit", Reach(Graph(reading), "Fhir.Rest"));

    /// <summary>The OAuth server keeps its state behind an interface (issue #20): it does not pull in EF and the FHIR store.
    /// Fails until the storage/auth split is merged (Fhir.Auth still references Fhir.Storage on main).</summary>
    [Theory]
    [MemberData(nameof(Readings))]
    public void Auth_does_not_reach_Storage(string reading) =>
        Assert.DoesNotContain("Fhir.Storage", Reach(Graph(reading), "Fhir.Auth"));

    /// <summary>The check itself: a reference against the layers, even a transitive one, is found.</summary>
    [Fact]
    public void A_reference_against_the_layers_is_found()
    {
        var graph = new Dictionary<string, string[]>
        {
            ["Fhir.Core"] = [], ["Fhir.Storage"] = ["Fhir.Core"], ["Fhir.Rest"] = ["Fhir.Storage"], ["Archive"] = ["Fhir.Rest"],
        };
        Assert.Empty(AgainstTheLayers(graph));
        graph["Fhir.Core"] = ["Archive"];
        Assert.Contains("Fhir.Core → Archive", AgainstTheLayers(graph));
        Assert.Contains("Fhir.Storage → Archive", AgainstTheLayers(graph));
    }

    /// <summary>"a → b" for every project a that reaches a project b of a higher layer.</summary>
    private static List<string> AgainstTheLayers(IReadOnlyDictionary<string, string[]> graph) =>
        [.. from a in graph.Keys from b in Reach(graph, a) where Layer(b) > Layer(a) select $"{a} → {b}"];

    private static int Layer(string project) => Array.FindIndex(Layers, l => l.Contains(project)) is var i and >= 0
        ? i : throw new InvalidOperationException($"{project} has no layer in ArchitectureTests.Layers");

    /// <summary>Every project reachable from this one (not itself).</summary>
    private static HashSet<string> Reach(IReadOnlyDictionary<string, string[]> graph, string from)
    {
        var seen = new HashSet<string>();
        var todo = new Stack<string>(graph.GetValueOrDefault(from, []));
        while (todo.TryPop(out var p))
            if (seen.Add(p)) foreach (var q in graph.GetValueOrDefault(p, [])) todo.Push(q);
        return seen;
    }

    /// <summary>src/'s projects: name (the folder and file name) → project file.</summary>
    private static Dictionary<string, string> SrcProjects() =>
        Directory.GetDirectories(Path.Combine(OfficialExamples.RepoRoot, "src"))
            .Select(d => Path.Combine(d, Path.GetFileName(d) + ".csproj")).Where(File.Exists)
            .ToDictionary(f => Path.GetFileNameWithoutExtension(f), f => f);

    /// <summary>Project → the src projects it references directly, read from the project files or from the assemblies.</summary>
    private static Dictionary<string, string[]> Graph(string reading)
    {
        var projects = SrcProjects();
        var files = projects.ToDictionary(p => p.Key, p => XDocument.Load(p.Value));
        if (reading == ProjectFiles)
            return files.ToDictionary(f => f.Key, f => f.Value.Descendants("ProjectReference")
                .Select(r => Path.GetFileNameWithoutExtension(((string)r.Attribute("Include")!).Replace('\\', '/')))
                .Where(projects.ContainsKey).ToArray());
        var byAssembly = files.ToDictionary(f => f.Value.Descendants("AssemblyName").Single().Value, f => f.Key);
        return byAssembly.ToDictionary(a => a.Value, a => Assembly.Load(new AssemblyName(a.Key)).GetReferencedAssemblies()
            .Select(r => byAssembly.GetValueOrDefault(r.Name!)).OfType<string>().ToArray());
    }
}

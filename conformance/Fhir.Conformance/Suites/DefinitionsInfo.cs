using System.Diagnostics;
using FhirArchive.Fhir.Definitions;

namespace FhirArchive.Conformance;

/// <summary>`definitions`: what loading the embedded R4 definitions costs (time and memory kept), and what they hold.</summary>
public static class DefinitionsInfo
{
    public static int Run()
    {
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var sw = Stopwatch.StartNew();
        var defs = FhirDefinitions.R4;
        var elapsed = sw.Elapsed;
        var after = GC.GetTotalMemory(forceFullCollection: true);
        var kinds = defs.Types.GroupBy(t => t.Kind).OrderBy(g => g.Key).Select(g => $"{g.Key}: {g.Count()}");
        Console.WriteLine($"types: {defs.Types.Count} ({string.Join(", ", kinds)}); resource types: {defs.ResourceTypes.Count}");
        Console.WriteLine($"elements: {defs.Types.Sum(t => t.Elements.Count):N0}");
        Console.WriteLine($"first load: {elapsed.TotalMilliseconds:F0} ms (parse and index: {defs.LoadTime.TotalMilliseconds:F0} ms); retained: {(after - before) / 1024.0 / 1024.0:F1} MB");
        return 0;
    }
}

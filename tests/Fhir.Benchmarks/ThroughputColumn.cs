using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace FhirArchive.Benchmarks;

/// <summary>MB/s over the corpus of the benchmark's "Set" parameter (input bytes: JSON, or XML for XML benchmarks).</summary>
public sealed class ThroughputColumn : IColumn
{
    public string Id => "MBps";
    public string ColumnName => "MB/s";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Megabytes of input processed per second";

    public bool IsAvailable(Summary summary) => true;

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var report = summary[benchmarkCase];
        if (report?.ResultStatistics is not { } stats) return "-";
        if (benchmarkCase.Parameters["Set"] is not string set) return "-"; // not a corpus benchmark
        var xml = benchmarkCase.Descriptor.WorkloadMethod.Name.Contains("Xml");
        var bytes = xml ? XmlBytes(set) : Corpus.Bytes(set);
        return (bytes / 1e6 / (stats.Mean / 1e9)).ToString("F0");
    }

    private static readonly Dictionary<string, long> XmlSizes = new();

    private static long XmlBytes(string set)
    {
        lock (XmlSizes)
        {
            if (!XmlSizes.TryGetValue(set, out var n))
                XmlSizes[set] = n = XmlCorpus.Get(set).Sum(x => (long)x.Length);
            return n;
        }
    }
}

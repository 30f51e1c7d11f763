using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using FhirArchive.Benchmarks;

// Short jobs keep a full run to a few minutes on a 2-core machine; pass --job default for tighter intervals.
var config = DefaultConfig.Instance
    .AddJob(Job.ShortRun.WithId("short"))
    .AddColumn(new ThroughputColumn())
    .WithOptions(ConfigOptions.JoinSummary);
BenchmarkSwitcher.FromAssembly(typeof(Corpus).Assembly).Run(args, config);

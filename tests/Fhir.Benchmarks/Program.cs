using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using FhirArchive.Benchmarks;

// Short jobs keep a full run to a few minutes on a 2-core machine; pass --job default for tighter intervals.
// With --inProcess the job the command line describes runs in this process alone (no second, out-of-process short
// job whose build of the whole server times out on a busy machine).
var config = DefaultConfig.Instance
    .AddColumn(new ThroughputColumn())
    .WithOptions(ConfigOptions.JoinSummary);
if (!args.Contains("--inProcess", StringComparer.OrdinalIgnoreCase)) config = config.AddJob(Job.ShortRun.WithId("short"));
BenchmarkSwitcher.FromAssembly(typeof(Corpus).Assembly).Run(args, config);

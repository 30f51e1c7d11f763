namespace FhirArchive.Rest.Infrastructure;

/// <summary>
/// A job that runs every <see cref="Interval"/> on the server's <see cref="TimeProvider"/> (so a test drives it with a
/// manual clock, or calls <see cref="RunOnceAsync"/> itself). A failed run is logged and the next one comes as planned.
/// </summary>
public abstract class ClockJob(TimeProvider clock, ILogger log) : BackgroundService
{
    /// <summary>The server's clock, for the run's "now".</summary>
    protected TimeProvider Clock { get; } = clock;

    protected abstract TimeSpan Interval { get; }

    /// <summary>What the job is, for its log lines ("lost-to-follow-up", "transfer escalation").</summary>
    protected abstract string Name { get; }

    /// <summary>One run: the ids of what it changed.</summary>
    public abstract Task<IReadOnlyList<string>> RunOnceAsync(CancellationToken ct = default);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try { await Task.Delay(Interval, Clock, stoppingToken); }
            catch (OperationCanceledException) { return; }
            try
            {
                var changed = await RunOnceAsync(stoppingToken);
                if (changed.Count > 0) log.LogInformation("The {Job} job changed {Count} resources.", Name, changed.Count);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                log.LogError(e, "The {Job} job failed; it runs again in {Interval}.", Name, Interval);
            }
        }
    }
}

namespace FhirArchive.Audit.Checkpoints;

/// <summary>
/// Signs the audit trail's head when a checkpoint is due (every Audit:Checkpoints:EveryEvents events or
/// EveryMinutes minutes, looked at every CheckInterval) and once more at shutdown, after the last events.
/// </summary>
public sealed class AuditCheckpointer(AuditCheckpoints checkpoints, AuditCheckpointOptions options, TimeProvider clock, ILogger<AuditCheckpointer> log, IConfiguration configuration)
    : BackgroundService
{
    private bool On => configuration.GetValue("Audit:Enabled", true);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!On || options is { EveryEvents: <= 0, EveryMinutes: <= 0 }) return;
        var since = clock.GetUtcNow();
        using var timer = new PeriodicTimer(options.CheckInterval, clock);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try { await checkpoints.SignIfDueAsync(since, stoppingToken); }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    log.LogError(e, "The audit checkpoint could not be signed; trying again at the next check.");
                }
            }
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>The last events before a stop are signed too (stopped before the trail, which is registered first).</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        if (!On) return;
        try { await checkpoints.SignAsync(cancellationToken); }
        catch (Exception e) { log.LogError(e, "The audit checkpoint at shutdown could not be signed."); }
    }
}

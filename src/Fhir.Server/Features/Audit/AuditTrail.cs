using System.Threading.Channels;
using FhirArchive.Server.Access;
using FhirArchive.Storage.Audit;

namespace FhirArchive.Server.Features.Audit;

/// <summary>
/// Group commit for audit events: requests hand their event over and wait until it is stored; one writer appends
/// whatever has queued up meanwhile in one transaction. Nothing is served before its event is durable, and a stop
/// drains the queue first, so no event is lost.
/// </summary>
public sealed class AuditTrail(AuditStore store, ILogger<AuditTrail> log) : BackgroundService
{
    private const int MaxBatch = 512;
    private readonly Channel<(AuditAppend Event, TaskCompletionSource Stored)> _queue =
        Channel.CreateUnbounded<(AuditAppend, TaskCompletionSource)>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>Writes the event and hands it over with the entities it is searched by.</summary>
    public Task RecordAsync(AuditDraft d, IReadOnlyList<(string Role, string Reference)> entities) =>
        RecordAsync(new AuditAppend(d.Id, d.Recorded.UtcTicks, d.Interaction.Action, d.Interaction.Operation ?? d.Interaction.Code,
            AuditEventWriter.Outcome(d.Status), d.Caller.Kind == CallerKind.Anonymous ? null : d.Caller.Subject, d.Caller.Organization,
            AuditEventWriter.Write(d), entities));

    public Task RecordAsync(AuditAppend e)
    {
        var stored = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_queue.Writer.TryWrite((e, stored))) throw new InvalidOperationException("The audit trail is shut down; the request cannot be audited.");
        return stored.Task;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<(AuditAppend Event, TaskCompletionSource Stored)>(MaxBatch);
        // Not cancelled by the stop token: the loop ends when the queue is completed and empty.
        while (await _queue.Reader.WaitToReadAsync(CancellationToken.None))
        {
            while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var item)) batch.Add(item);
            try
            {
                await store.AppendAsync(batch.ConvertAll(b => b.Event));
                foreach (var b in batch) b.Stored.TrySetResult();
            }
            catch (Exception ex)
            {
                log.LogCritical(ex, "Could not store {Count} audit events; their requests fail.", batch.Count);
                foreach (var b in batch) b.Stored.TrySetException(ex);
            }
            batch.Clear();
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        await base.StopAsync(cancellationToken);
    }
}

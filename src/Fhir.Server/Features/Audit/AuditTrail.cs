using System.Threading.Channels;
using FhirArchive.Server.Access;
using FhirArchive.Storage.Audit;

namespace FhirArchive.Server.Features.Audit;

/// <summary>
/// Group commit for audit events: requests hand their event over and wait until it is durable; one writer appends
/// whatever has queued up meanwhile to the journal in one write (the database follows behind it, see
/// <see cref="AuditStore"/>). Nothing is served before its event is durable, and a stop drains the queue and the
/// journal into the database first, so no event is lost.
/// <c>Audit:SyncJournal</c> true fsyncs each group before answering; false leaves the write to the operating system
/// (it survives a crash of the server, not of the machine; fsynced every 100 ms); unset, as durable as the database's
/// own commits (see <see cref="AuditStore.SyncJournal"/>).
/// </summary>
public sealed class AuditTrail : BackgroundService
{
    private readonly AuditStore store;
    private readonly ILogger<AuditTrail> log;

    public AuditTrail(AuditStore store, ILogger<AuditTrail> log, IConfiguration configuration)
    {
        this.store = store;
        this.log = log;
        store.SyncJournal = configuration.GetValue<bool?>("Audit:SyncJournal");
    }

    private const int MaxBatch = 512;
    private readonly Channel<(AuditAppend Event, TaskCompletionSource Stored)> _queue =
        Channel.CreateUnbounded<(AuditAppend, TaskCompletionSource)>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>Writes the event and hands it over with the entities it is searched by.</summary>
    public Task RecordAsync(AuditDraft d, IReadOnlyList<(string Role, string Reference)> entities) =>
        RecordAsync(new AuditAppend(d.Recorded.UtcTicks, d.Interaction.Action, d.Interaction.Operation ?? d.Interaction.Code,
            AuditEventWriter.Outcome(d.Status), d.Caller.Kind == CallerKind.Anonymous ? null : d.Caller.Subject, d.Caller.Organization,
            AuditRecordCodec.Encode(d), entities));

    public Task RecordAsync(AuditAppend e)
    {
        var stored = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_queue.Writer.TryWrite((e, stored))) throw new InvalidOperationException("The audit trail is shut down; the request cannot be audited.");
        return stored.Task;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Replays what a crash left in the journal before the first new event is chained on.
        try { await store.StartAsync(CancellationToken.None); }
        catch (Exception ex) { log.LogCritical(ex, "The audit trail could not start; audited requests fail."); }
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
        await store.StopAsync();
    }
}

using FhirArchive.Rest.Access;
using FhirArchive.Audit.Store;

namespace FhirArchive.Audit;

/// <summary>
/// Hands audit events to the store, which chains each one and writes it to its journal on the request's own thread
/// before the response starts (the database follows behind it, see <see cref="AuditStore"/>). Nothing is served
/// before its event is durable, and a stop drains the journal into the database first, so no event is lost.
/// <c>Audit:SyncJournal</c> true fsyncs the journal before answering (concurrent requests share one fsync); false
/// leaves the write to the operating system (it survives a crash of the server, not of the machine; fsynced every
/// 100 ms); unset, as durable as the database's own commits (see <see cref="AuditStore.SyncJournal"/>).
/// </summary>
public sealed class AuditTrail : BackgroundService
{
    private readonly AuditStore store;
    private readonly ILogger<AuditTrail> log;
    private readonly bool enabled;

    public AuditTrail(AuditStore store, ILogger<AuditTrail> log, IConfiguration configuration)
    {
        this.store = store;
        this.log = log;
        store.SyncJournal = configuration.GetValue<bool?>("Audit:SyncJournal");
        enabled = configuration.GetValue("Audit:Enabled", true);
    }

    /// <summary>Writes the event and hands it over with the entities it is searched by.</summary>
    public ValueTask RecordAsync(AuditDraft d, IReadOnlyList<(string Role, string Reference)> entities) =>
        store.AppendAsync(new AuditAppend(d.Recorded.UtcTicks, d.Interaction.Action, d.Interaction.Operation ?? d.Interaction.Code,
            AuditEventWriter.Outcome(d.Status), d.Caller.Kind == CallerKind.Anonymous ? null : d.Caller.Subject, d.Caller.Organization,
            AuditRecordCodec.Encode(d), entities));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Without the audit (benchmarks only) the store starts only if an auditor reads the trail.
        if (!enabled) return;
        // Finds what a crash left in the journal before the first new event is chained on.
        try { await store.StartAsync(CancellationToken.None); }
        catch (Exception ex) { log.LogCritical(ex, "The audit trail could not start; audited requests fail."); }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await store.StopAsync();
    }
}

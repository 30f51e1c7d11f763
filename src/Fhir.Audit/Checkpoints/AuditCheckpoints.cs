using FhirArchive.Audit.Store;
using FhirArchive.Crypto;
using FhirArchive.Storage;
using Microsoft.EntityFrameworkCore;

namespace FhirArchive.Audit.Checkpoints;

/// <summary>
/// Signed checkpoints of the audit trail: the chain's head (sequence number and SM3 link) signed with the audit
/// signing key (<see cref="ChainCheckpoint"/>) and stored in the append-only AuditCheckpoint table. A checkpoint is
/// made when one is due (<see cref="IsDue"/>, checked by <see cref="AuditCheckpointer"/>) and on demand
/// (AuditEvent/$sign-checkpoint); a head already signed is not signed again.
/// </summary>
/// <remarks>
/// The key is the audit's own (Audit:Checkpoints:KeyFile, generated in the data folder by default), not the
/// document-signing key: the two attest different things to different readers (a document's content to a clinician
/// elsewhere; the trail to an auditor), are used at different rates, and may be held by different people (the
/// audit key by the security officer, away from whoever runs the document service). An operator who has one key
/// from the platform's CA points both settings at the same file; the signing inputs differ in their first line, so
/// one kind of signature is never taken for the other. Loading is shared (<see cref="Sm2KeyFile"/>).
/// </remarks>
public sealed class AuditCheckpoints(AuditStore store, IDbContextFactory<FhirDbContext> factory, AuditCheckpointOptions options, StorageOptions storage, TimeProvider clock, ILogger<AuditCheckpoints> log)
{
    public const string WellKnownPath = "/.well-known/audit-signing-key.pem";

    private readonly SemaphoreSlim _signing = new(1, 1);

    /// <summary>The signing key, loaded (or generated) on first use.</summary>
    public Sm2Key Key => _key.Value;
    private readonly Lazy<Sm2Key> _key = new(() => LoadKey(options, storage.DataFolder));

    private static Sm2Key LoadKey(AuditCheckpointOptions options, string dataFolder)
    {
        var named = !string.IsNullOrWhiteSpace(options.KeyFile);
        var file = Path.GetFullPath(named ? options.KeyFile! : AuditCheckpointOptions.DefaultKeyFile, dataFolder);
        return Sm2KeyFile.LoadOrCreate(file, mustExist: named, "audit signing key", "Audit:Checkpoints:KeyFile");
    }

    /// <summary>
    /// Whether a checkpoint is due: the head moved past the last checkpoint by <see cref="AuditCheckpointOptions.EveryEvents"/>
    /// events, or moved at all and <see cref="AuditCheckpointOptions.EveryMinutes"/> passed since the last one (or since
    /// <paramref name="since"/>, the signer's start, when there is none yet).
    /// </summary>
    public static bool IsDue(AuditCheckpointOptions options, long head, ChainCheckpoint? last, DateTimeOffset since, DateTimeOffset now)
    {
        var signed = last?.Sequence ?? 0;
        if (head <= signed) return false;
        if (options.EveryEvents > 0 && head - signed >= options.EveryEvents) return true;
        var from = last is not null && DateTimeOffset.TryParse(last.Time, System.Globalization.CultureInfo.InvariantCulture,
            System.Globalization.DateTimeStyles.AssumeUniversal, out var t) ? t : since;
        return options.EveryMinutes > 0 && now - from >= TimeSpan.FromMinutes(options.EveryMinutes);
    }

    /// <summary>Signs a checkpoint if one is due (see <see cref="IsDue"/>); returns it, or null.</summary>
    public async Task<ChainCheckpoint?> SignIfDueAsync(DateTimeOffset since, CancellationToken ct = default)
    {
        var (seq, _) = await store.HeadAsync(ct);
        return IsDue(options, seq, await LatestAsync(ct), since, clock.GetUtcNow()) ? await SignAsync(ct) : null;
    }

    /// <summary>
    /// Signs the head now and stores the checkpoint; a head signed already gives its checkpoint. Null for an empty trail.
    /// The head is signed only when the stored events since the last checkpoint recompute it from that checkpoint's
    /// head: otherwise (an event rewritten or lost since) <see cref="CheckpointRefusedException"/>, and nothing is signed.
    /// </summary>
    public async Task<ChainCheckpoint?> SignAsync(CancellationToken ct = default)
    {
        await _signing.WaitAsync(ct);
        try
        {
            await store.FlushAsync(ct);
            var (seq, hash) = await store.HeadAsync(ct);
            if (seq == 0) return null;
            var last = await LatestAsync(ct);
            if (last is not null && last.Sequence >= seq) return last;
            var (fromSeq, fromHead) = last is null ? (0L, Sm3.Genesis) : (last.Sequence, last.Head);
            var (reached, head, problem) = ChainCheckpoint.Recompute(fromSeq, fromHead, await store.ChainAsync(fromSeq, seq, ct));
            if (problem is not null || reached != seq || !head.AsSpan().SequenceEqual(hash))
            {
                var why = problem ?? (reached != seq ? $"the stored events end at {reached}, the head is at {seq}" : $"event {seq}'s recomputed link differs from the head");
                log.LogError("The audit checkpoint at event {Seq} was not signed: the stored chain does not continue the last checkpoint (event {From}): {Problem}.", seq, fromSeq, why);
                throw new CheckpointRefusedException(
                    $"The audit trail's head (event {seq}) was not signed: the stored events do not continue the last checkpoint (event {fromSeq}): {why}. Run AuditEvent/$verify / 审计链与上一检查点不连续，拒绝签名.");
            }
            var checkpoint = ChainCheckpoint.Sign(seq, hash, clock.GetUtcNow(), Key);
            try
            {
                await using var db = await factory.CreateDbContextAsync(ct);
                db.AuditCheckpoints.Add(new AuditCheckpointRow
                {
                    Seq = checkpoint.Sequence, Head = checkpoint.Head, Time = checkpoint.Time, KeyId = checkpoint.KeyId, Signature = checkpoint.Signature,
                });
                await db.SaveChangesAsync(ct);
            }
            catch (DbUpdateException)
            {
                // Another instance signed this head first (the same sequence number is the key): its checkpoint stands.
                if (await FindAsync(seq, ct) is { } other) return other;
                throw;
            }
            return checkpoint;
        }
        finally { _signing.Release(); }
    }

    /// <summary>The newest checkpoint, or null (read each time: other instances sign too).</summary>
    public async Task<ChainCheckpoint?> LatestAsync(CancellationToken ct = default)
    {
        await using var db = await factory.CreateDbContextAsync(ct);
        return await db.AuditCheckpoints.OrderByDescending(c => c.Seq).FirstOrDefaultAsync(ct) is { } row ? ToCheckpoint(row) : null;
    }

    /// <summary>The checkpoint at exactly this sequence number, or null.</summary>
    public async Task<ChainCheckpoint?> FindAsync(long sequence, CancellationToken ct = default)
    {
        await using var db = await factory.CreateDbContextAsync(ct);
        return await db.AuditCheckpoints.FirstOrDefaultAsync(c => c.Seq == sequence, ct) is { } row ? ToCheckpoint(row) : null;
    }

    /// <summary>The newest checkpoint before this sequence number (where a verifier starts recomputing), or null.</summary>
    public async Task<ChainCheckpoint?> BeforeAsync(long sequence, CancellationToken ct = default)
    {
        await using var db = await factory.CreateDbContextAsync(ct);
        return await db.AuditCheckpoints.Where(c => c.Seq < sequence).OrderByDescending(c => c.Seq).FirstOrDefaultAsync(ct) is { } row ? ToCheckpoint(row) : null;
    }

    private static ChainCheckpoint ToCheckpoint(AuditCheckpointRow r) => new(r.Seq, r.Head, r.Time, r.KeyId, r.Signature);
}

/// <summary>The head was not signed: the stored events since the last checkpoint do not recompute it.</summary>
public sealed class CheckpointRefusedException(string message) : InvalidOperationException(message);

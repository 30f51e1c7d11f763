using FhirArchive.Crypto;
using Microsoft.EntityFrameworkCore;

namespace FhirArchive.Storage.Encryption;

/// <summary>What a re-seal pass did: the data key it sealed under, the versions it re-sealed, those still under older keys.</summary>
public sealed record ResealResult(int KeyId, long Resealed, long Left);

/// <summary>Re-sealing: the sealed versions under older data keys sealed again under the newest one.</summary>
public sealed partial class FieldEncryption
{
    /// <summary>
    /// Seals every version sealed under a data key older than the active one again under the active one, in batches of
    /// <paramref name="batchSize"/> versions, each batch its own transaction: interrupted, it resumes where it stopped
    /// (what is left is what is still under an older key, read by the KeyId index). Only the sealed bytes and their key id change: the blind
    /// index (key 0) and every index row stay as they are. Versions under a newer key (another instance rotated
    /// meanwhile) are left alone. A version is replaced only if it is still under the key it was read with.
    /// </summary>
    public async Task<ResealResult> ResealAsync(int batchSize, Action<long>? progress = null, CancellationToken ct = default)
    {
        var keys = _keys ?? throw new InvalidOperationException("Field encryption is off: there is nothing to re-seal.");
        var factory = _factory ?? throw new InvalidOperationException("No database to re-seal in.");
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var active = keys.ActiveId;
        var key = keys.Get(active)!;
        long resealed = 0;
        while (true)
        {
            await using var db = await factory.CreateDbContextAsync(ct);
            // In the order of the KeyId index: each batch its first entries (what is re-sealed leaves it).
            var rows = await db.Resources.Where(r => r.KeyId != null && r.KeyId < active && r.Data != null)
                .OrderBy(r => r.KeyId).ThenBy(r => r.Id).Take(batchSize)
                .Select(r => new { r.Id, r.ResourceType, r.ResourceId, r.Version, KeyId = r.KeyId!.Value, Data = r.Data! }).ToListAsync(ct);
            if (rows.Count == 0) break;
            await using (var tx = await db.Database.BeginTransactionAsync(ct))
            {
                foreach (var r in rows)
                {
                    var compressed = Open(r.ResourceType, r.ResourceId, r.Version, r.KeyId, r.Data);
                    var data = Sm4.Seal(key, compressed, Binding(r.ResourceType, r.ResourceId, r.Version));
                    resealed += await db.Database.ExecuteSqlRawAsync(
                        """UPDATE "ResourceVersion" SET "Data" = {0}, "KeyId" = {1} WHERE "Id" = {2} AND "KeyId" = {3}""", [data, active, r.Id, r.KeyId], ct);
                }
                await tx.CommitAsync(ct);
            }
            progress?.Invoke(resealed);
        }
        await using var count = await factory.CreateDbContextAsync(ct);
        var left = await count.Resources.LongCountAsync(r => r.KeyId != null && r.KeyId < active, ct);
        return new ResealResult(active, resealed, left);
    }
}

using System.Collections.Frozen;
using System.Text;
using FhirArchive.Crypto;
using Microsoft.EntityFrameworkCore;

namespace FhirArchive.Storage.Encryption;

/// <summary>One row of the DataKey table: a data key wrapped (SM4-GCM) under the key-encryption key.</summary>
public sealed class DataKeyRow
{
    public int Id { get; set; }
    public byte[] WrappedKey { get; set; } = [];
    public long CreatedAt { get; set; }
}

/// <summary>
/// Envelope keys: the data keys live in the database (table DataKey, migration 16), each wrapped under the
/// key-encryption key, which never touches the database. Key 0 is the blind-index key (HMAC-SM3; it never rotates,
/// or every index row would have to be rebuilt); keys 1, 2, ... encrypt resources, the highest one new writes.
/// A rotation adds a key: values under older keys stay readable, nothing stops. Several servers on one database
/// race safely: ids are claimed with INSERT .. ON CONFLICT DO NOTHING and everyone reads back what won.
/// </summary>
internal sealed class DataKeys(byte[] kek)
{
    public const int IndexKeyId = 0;

    private sealed record Ring(FrozenDictionary<int, byte[]> Keys, int Active);
    private volatile Ring _ring = new(FrozenDictionary<int, byte[]>.Empty, 0);

    public int ActiveId => _ring.Active;
    public byte[] IndexKey => Get(IndexKeyId) ?? throw new InvalidOperationException("Field encryption: the keys are not loaded.");
    public byte[]? Get(int id) => _ring.Keys.GetValueOrDefault(id);

    /// <summary>Reads every key; creates the index key and the first data key in a database that has none.</summary>
    public async Task LoadAsync(FhirDbContext db, CancellationToken ct)
    {
        var rows = await db.Set<DataKeyRow>().ToListAsync(ct);
        if (!rows.Any(r => r.Id == IndexKeyId) || !rows.Any(r => r.Id > IndexKeyId))
        {
            await InsertAsync(db, IndexKeyId, ct);
            await InsertAsync(db, 1, ct);
            rows = await db.Set<DataKeyRow>().ToListAsync(ct);
        }
        _ring = new Ring(rows.ToFrozenDictionary(r => r.Id, Unwrap), rows.Max(r => r.Id));
    }

    /// <summary>Adds a data key that new writes use from now on (another instance's rotation in between wins just the same).</summary>
    public async Task<int> RotateAsync(FhirDbContext db, CancellationToken ct)
    {
        var next = await db.Set<DataKeyRow>().MaxAsync(r => r.Id, ct) + 1;
        await InsertAsync(db, next, ct);
        await LoadAsync(db, ct);
        return ActiveId;
    }

    private async Task InsertAsync(FhirDbContext db, int id, CancellationToken ct)
    {
        var wrapped = Sm4.Seal(kek, Sm4.NewKey(), Label(id));
        await db.Database.ExecuteSqlRawAsync("""INSERT INTO "DataKey" ("Id", "WrappedKey", "CreatedAt") VALUES ({0}, {1}, {2}) ON CONFLICT DO NOTHING""",
            [id, wrapped, DateTime.UtcNow.Ticks], ct);
    }

    private byte[] Unwrap(DataKeyRow row)
    {
        try
        {
            return Sm4.Open(kek, row.WrappedKey, Label(row.Id));
        }
        catch (System.Security.Cryptography.CryptographicException e)
        {
            throw new InvalidOperationException(
                $"Field encryption: data key {row.Id} does not open with the configured key-encryption key (a wrong Storage:FieldEncryption key?).", e);
        }
    }

    /// <summary>The wrapped key is bound to its id: a key row copied to another id does not open.</summary>
    private static byte[] Label(int id) => Encoding.UTF8.GetBytes($"FhirArchive data key {id}");
}

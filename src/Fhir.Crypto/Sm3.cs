using Org.BouncyCastle.Crypto.Digests;
using Org.BouncyCastle.Crypto.Macs;
using Org.BouncyCastle.Crypto.Parameters;

namespace FhirArchive.Crypto;

/// <summary>SM3 (GB/T 32905-2016), the national 256-bit hash, through BouncyCastle.</summary>
public static class Sm3
{
    public const int Size = 32;

    public static byte[] Hash(byte[] data)
    {
        var d = new SM3Digest();
        d.BlockUpdate(data, 0, data.Length);
        return Final(d);
    }

    /// <summary>HMAC-SM3 (RFC 2104 over SM3, GB/T 15852.2): a keyed 32-byte tag of <paramref name="data"/>.</summary>
    public static byte[] Hmac(byte[] key, ReadOnlySpan<byte> data)
    {
        var mac = new HMac(new SM3Digest());
        mac.Init(new KeyParameter(key));
        mac.BlockUpdate(data);
        var result = new byte[Size];
        mac.DoFinal(result, 0);
        return result;
    }

    /// <summary>
    /// One link of a hash chain: SM3(previous ‖ sequence number (8 bytes, big-endian) ‖ data). Binding the sequence
    /// number makes a deleted or reordered link as visible as a changed byte.
    /// </summary>
    public static byte[] ChainLink(byte[] previous, long sequence, byte[] data)
    {
        if (previous.Length != Size) throw new ArgumentException($"The previous link must be {Size} bytes.", nameof(previous));
        // One digest per thread, reused: a link is computed for every audited request.
        var d = t_digest ??= new SM3Digest();
        d.Reset();
        d.BlockUpdate(previous, 0, Size);
        for (var shift = 56; shift >= 0; shift -= 8) d.Update((byte)(sequence >> shift));
        d.BlockUpdate(data, 0, data.Length);
        return Final(d);
    }

    [ThreadStatic] private static SM3Digest? t_digest;

    /// <summary>The anchor the first link of every chain starts from.</summary>
    public static byte[] Genesis { get; } = Hash("FhirArchive audit chain"u8.ToArray());

    private static byte[] Final(SM3Digest d)
    {
        var result = new byte[Size];
        d.DoFinal(result, 0);
        return result;
    }
}

using System.Globalization;
using System.Text;

namespace FhirArchive.Crypto;

/// <summary>
/// A signed checkpoint of an SM3 hash chain (<see cref="Sm3.ChainLink"/>, the audit trail's): "at
/// <see cref="Sequence"/> the chain's link was <see cref="Head"/>", stated at <see cref="Time"/> and signed with the
/// SM2 key <see cref="KeyId"/>. Anyone with the public key checks it (<see cref="Verify"/>), and with the chained
/// records since an earlier checkpoint recomputes the head (<see cref="Recompute"/>). The format is documented in
/// the README ("Signed audit checkpoints"); the server and the operator's <c>audit-checkpoint-verify</c> both use
/// this one definition.
/// </summary>
/// <remarks>
/// The signed bytes are the UTF-8 text of five lines joined by "\n" (no trailing line break):
/// <c>fhirarchive-audit-checkpoint/1</c>, <c>sequence=</c> decimal, <c>head=</c> 64 lowercase hex digits,
/// <c>time=</c> the time exactly as given (UTC, <c>yyyy-MM-ddTHH:mm:ssZ</c> when the server makes it),
/// <c>key=</c> the key id (SM3 of the SubjectPublicKeyInfo, base64url). The signature is SM2 with SM3 and the
/// GM/T 0009 default user id 1234567812345678, DER-encoded (as OpenSSL writes it); algorithm name "SM2SM3", as the
/// document signatures name it. The first line keeps a checkpoint signature from being taken for any other
/// signature of the same key.
/// </remarks>
public sealed record ChainCheckpoint(long Sequence, byte[] Head, string Time, string KeyId, byte[] Signature)
{
    public const string Format = "fhirarchive-audit-checkpoint/1";
    public const string Algorithm = Sm2Key.JwsAlgorithm;

    /// <summary>The bytes the signature covers (see the remarks).</summary>
    public static byte[] SigningInput(long sequence, ReadOnlySpan<byte> head, string time, string keyId) =>
        Encoding.UTF8.GetBytes(string.Join('\n', Format,
            "sequence=" + sequence.ToString(CultureInfo.InvariantCulture),
            "head=" + Convert.ToHexStringLower(head),
            "time=" + time,
            "key=" + keyId));

    /// <summary>A new checkpoint of the head, signed with <paramref name="key"/> (the time to the second, UTC).</summary>
    public static ChainCheckpoint Sign(long sequence, byte[] head, DateTimeOffset time, Sm2Key key)
    {
        if (head.Length != Sm3.Size) throw new ArgumentException($"A chain head is {Sm3.Size} bytes.", nameof(head));
        var text = time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        var keyId = key.KeyId();
        return new(sequence, head, text, keyId, key.Sign(SigningInput(sequence, head, text, keyId)));
    }

    /// <summary>
    /// Null when the signature is <paramref name="publicKey"/>'s over exactly these fields; else why not. A
    /// malformed signature, another key (also one the checkpoint only claims) or a changed field is refused.
    /// </summary>
    public string? Verify(Sm2Key publicKey)
    {
        if (Head.Length != Sm3.Size) return $"the head is not {Sm3.Size} bytes";
        if (Sequence < 0) return "the sequence number is negative";
        if (KeyId != publicKey.KeyId()) return $"the checkpoint names key {KeyId}, the public key given is {publicKey.KeyId()}";
        return publicKey.Verify(SigningInput(Sequence, Head, Time, KeyId), Signature)
            ? null : "the signature does not verify with the public key (a field or the signature was changed, or another key signed)";
    }

    /// <summary>
    /// The chain's head after <paramref name="records"/> (sequence number and chained bytes, in order), starting
    /// from <paramref name="fromSequence"/> whose link is <paramref name="fromHead"/> (0 and <see cref="Sm3.Genesis"/>
    /// for the whole chain). Null and why when a sequence number is missing or out of order.
    /// </summary>
    public static (long Sequence, byte[] Head, string? Problem) Recompute(long fromSequence, byte[] fromHead, IEnumerable<(long Sequence, byte[] Data)> records)
    {
        var (sequence, head) = (fromSequence, fromHead);
        foreach (var (seq, data) in records)
        {
            if (seq != sequence + 1) return (sequence, head, $"event {sequence + 1} expected, event {seq} found");
            head = Sm3.ChainLink(head, seq, data);
            sequence = seq;
        }
        return (sequence, head, null);
    }
}

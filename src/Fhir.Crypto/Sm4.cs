using System.Security.Cryptography;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Modes;
using Org.BouncyCastle.Crypto.Parameters;

namespace FhirArchive.Crypto;

/// <summary>
/// SM4 (GB/T 32907-2016), the national 128-bit block cipher, in GCM (RFC 8998, as TLS 1.3 uses SM4): 12-byte nonce,
/// 16-byte tag.
/// </summary>
/// <remarks>
/// GCM rather than CBC + HMAC-SM3: one key and one pass give confidentiality and integrity together (the tag also
/// binds associated data, e.g. a record's id and field path, so a value cannot be moved to another field), there is no
/// padding to get wrong (no padding-oracle class of bugs) and no MAC-then-encrypt ordering to choose; it is the SM4
/// AEAD that RFC 8998 and GB/T 36624 name. Its one hazard — never reuse a nonce under a key — is met by a fresh
/// random 96-bit nonce per message (<see cref="Seal"/>), well inside the 2^32 messages-per-key bound.
/// </remarks>
public static class Sm4
{
    public const int KeySize = 16;
    public const int BlockSize = 16;
    public const int NonceSize = 12;
    public const int TagSize = 16;

    /// <summary>A fresh random key.</summary>
    public static byte[] NewKey() => RandomNumberGenerator.GetBytes(KeySize);

    /// <summary>One block, encrypted (the raw cipher: for the standard's test vectors, not for data).</summary>
    public static byte[] EncryptBlock(byte[] key, byte[] block)
    {
        var engine = Engine(key, true);
        var output = new byte[BlockSize];
        engine.ProcessBlock(block, 0, output, 0);
        return output;
    }

    /// <summary>The bare SM4 block cipher with its key set, one block at a time (the standard's iterated vector, benchmarks).</summary>
    public static IBlockCipher Engine(byte[] key, bool encrypt)
    {
        if (key.Length != KeySize) throw new ArgumentException($"An SM4 key is {KeySize} bytes.", nameof(key));
        var engine = new SM4Engine();
        engine.Init(encrypt, new KeyParameter(key));
        return engine;
    }

    /// <summary>GCM encryption: ciphertext ‖ tag. The caller guarantees the nonce is never reused under this key.</summary>
    public static byte[] EncryptGcm(byte[] key, byte[] nonce, ReadOnlySpan<byte> plaintext, byte[]? associatedData = null)
    {
        var gcm = Gcm(key, nonce, associatedData, true);
        var output = new byte[gcm.GetOutputSize(plaintext.Length)];
        var n = gcm.ProcessBytes(plaintext, output);
        gcm.DoFinal(output.AsSpan(n));
        return output;
    }

    /// <summary>GCM decryption of ciphertext ‖ tag; a changed byte, key, nonce or associated data throws <see cref="CryptographicException"/>.</summary>
    public static byte[] DecryptGcm(byte[] key, byte[] nonce, ReadOnlySpan<byte> ciphertextAndTag, byte[]? associatedData = null)
    {
        if (ciphertextAndTag.Length < TagSize) throw new CryptographicException("SM4-GCM: the ciphertext is shorter than its tag.");
        var gcm = Gcm(key, nonce, associatedData, false);
        var output = new byte[gcm.GetOutputSize(ciphertextAndTag.Length)];
        try
        {
            var n = gcm.ProcessBytes(ciphertextAndTag, output);
            n += gcm.DoFinal(output.AsSpan(n));
            return n == output.Length ? output : output[..n];
        }
        catch (InvalidCipherTextException e) { throw new CryptographicException("SM4-GCM: authentication failed.", e); }
    }

    /// <summary>Encrypts under a fresh random nonce: nonce ‖ ciphertext ‖ tag.</summary>
    public static byte[] Seal(byte[] key, ReadOnlySpan<byte> plaintext, byte[]? associatedData = null)
    {
        var nonce = RandomNumberGenerator.GetBytes(NonceSize);
        return [.. nonce, .. EncryptGcm(key, nonce, plaintext, associatedData)];
    }

    /// <summary>Opens what <see cref="Seal"/> made; throws <see cref="CryptographicException"/> when it was changed.</summary>
    public static byte[] Open(byte[] key, ReadOnlySpan<byte> sealedData, byte[]? associatedData = null)
    {
        if (sealedData.Length < NonceSize + TagSize) throw new CryptographicException("SM4-GCM: the sealed value is too short.");
        return DecryptGcm(key, sealedData[..NonceSize].ToArray(), sealedData[NonceSize..], associatedData);
    }

    private static GcmBlockCipher Gcm(byte[] key, byte[] nonce, byte[]? associatedData, bool encrypt)
    {
        if (key.Length != KeySize) throw new ArgumentException($"An SM4 key is {KeySize} bytes.", nameof(key));
        if (nonce.Length != NonceSize) throw new ArgumentException($"An SM4-GCM nonce is {NonceSize} bytes.", nameof(nonce));
        var gcm = new GcmBlockCipher(new SM4Engine());
        gcm.Init(encrypt, new AeadParameters(new KeyParameter(key), TagSize * 8, nonce, associatedData));
        return gcm;
    }
}

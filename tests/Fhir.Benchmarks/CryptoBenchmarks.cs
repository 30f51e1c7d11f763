using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using FhirArchive.Crypto;

namespace FhirArchive.Benchmarks;

/// <summary>
/// The national algorithms through BouncyCastle: SM2 sign and verify (a 1 KB message: Z_A and SM3 inside), SM3 and
/// SM4-GCM over 1 MB (MB/s = 1 / mean in seconds); .NET's ECDSA P-256 (the OS's OpenSSL) for comparison.
/// </summary>
[MemoryDiagnoser]
public class CryptoBenchmarks
{
    private readonly Sm2Key _sm2 = Sm2Key.Generate();
    private readonly ECDsa _p256 = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly byte[] _message = RandomNumberGenerator.GetBytes(1024);
    private readonly byte[] _megabyte = RandomNumberGenerator.GetBytes(1 << 20);
    private readonly byte[] _sm4Key = Sm4.NewKey();
    private readonly byte[] _nonce = RandomNumberGenerator.GetBytes(Sm4.NonceSize);
    private byte[] _sm2Signature = null!, _p256Signature = null!;

    [GlobalSetup]
    public void Setup()
    {
        _sm2Signature = _sm2.Sign(_message);
        _p256Signature = _p256.SignData(_message, HashAlgorithmName.SHA256);
        if (!_sm2.Verify(_message, _sm2Signature)) throw new InvalidOperationException("the SM2 signature must verify");
    }

    [Benchmark] public byte[] Sm2Sign() => _sm2.Sign(_message);
    [Benchmark] public bool Sm2Verify() => _sm2.Verify(_message, _sm2Signature);
    [Benchmark] public byte[] EcdsaP256Sign() => _p256.SignData(_message, HashAlgorithmName.SHA256);
    [Benchmark] public bool EcdsaP256Verify() => _p256.VerifyData(_message, _p256Signature, HashAlgorithmName.SHA256);
    [Benchmark] public byte[] Sm3OneMegabyte() => Sm3.Hash(_megabyte);
    [Benchmark] public byte[] Sm4GcmEncryptOneMegabyte() => Sm4.EncryptGcm(_sm4Key, _nonce, _megabyte);
    [Benchmark] public byte[] Sha256OneMegabyte() => SHA256.HashData(_megabyte);
}

using FhirArchive.Crypto;
using Microsoft.IdentityModel.Tokens;

namespace FhirArchive.Auth.Keys;

/// <summary>
/// An SM2 key as IdentityModel sees it: the JsonWebTokenHandler signs and validates JWS "SM2SM3"
/// (<see cref="Sm2Key.JwsAlgorithm"/>, a local name) with it through <see cref="Sm2Key"/>, and no other algorithm —
/// a token whose header names RS256, ES256 or none is not checked with this key at all.
/// </summary>
public sealed class Sm2SecurityKey : AsymmetricSecurityKey
{
    public Sm2Key Sm2 { get; }

    public Sm2SecurityKey(Sm2Key key)
    {
        Sm2 = key;
        KeyId = key.KeyId();
        CryptoProviderFactory = new CryptoProviderFactory { CustomCryptoProvider = new Provider(), CacheSignatureProviders = false };
    }

    public override int KeySize => 256;

    [Obsolete("HasPrivateKey is obsolete in IdentityModel; use PrivateKeyStatus.")]
    public override bool HasPrivateKey => Sm2.HasPrivateKey;

    public override PrivateKeyStatus PrivateKeyStatus => Sm2.HasPrivateKey ? PrivateKeyStatus.Exists : PrivateKeyStatus.DoesNotExist;

    /// <summary>Only SM2SM3, only for an <see cref="Sm2SecurityKey"/>.</summary>
    private sealed class Provider : ICryptoProvider
    {
        public bool IsSupportedAlgorithm(string algorithm, params object[] args) =>
            algorithm == Sm2Key.JwsAlgorithm && args.Length > 0 && args[0] is Sm2SecurityKey;

        public object Create(string algorithm, params object[] args) =>
            IsSupportedAlgorithm(algorithm, args)
                ? new Signer((Sm2SecurityKey)args[0], algorithm)
                : throw new NotSupportedException($"{algorithm} is not an SM2 algorithm ({Sm2Key.JwsAlgorithm}).");

        public void Release(object cryptoInstance) => (cryptoInstance as IDisposable)?.Dispose();
    }

    /// <summary>Signatures r ‖ s (64 bytes), as JWS writes elliptic-curve signatures.</summary>
    private sealed class Signer(Sm2SecurityKey key, string algorithm) : SignatureProvider(key, algorithm)
    {
        public override byte[] Sign(byte[] input) => key.Sm2.Sign(input, Sm2SignatureFormat.Raw);

        public override byte[] Sign(byte[] input, int offset, int count) => key.Sm2.Sign(input.AsSpan(offset, count), Sm2SignatureFormat.Raw);

        public override bool Sign(ReadOnlySpan<byte> data, Span<byte> destination, out int bytesWritten)
        {
            var signature = key.Sm2.Sign(data, Sm2SignatureFormat.Raw);
            bytesWritten = signature.Length;
            return signature.AsSpan().TryCopyTo(destination);
        }

        public override bool Verify(byte[] input, byte[] signature) => key.Sm2.Verify(input, signature, Sm2SignatureFormat.Raw);

        public override bool Verify(byte[] input, int inputOffset, int inputLength, byte[] signature, int signatureOffset, int signatureLength) =>
            key.Sm2.Verify(input.AsSpan(inputOffset, inputLength), signature.AsSpan(signatureOffset, signatureLength).ToArray(), Sm2SignatureFormat.Raw);

        protected override void Dispose(bool disposing) { }
    }
}

using System.Text;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.GM;
using Org.BouncyCastle.Crypto.EC;
using Org.BouncyCastle.Asn1.X9;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Digests;
using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;
using Org.BouncyCastle.Math;
using Org.BouncyCastle.OpenSsl;
using Org.BouncyCastle.Pkcs;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.X509;

namespace FhirArchive.Crypto;

/// <summary>How an SM2 signature (r, s) is written.</summary>
public enum Sm2SignatureFormat
{
    /// <summary>DER SEQUENCE { INTEGER r, INTEGER s } (GM/T 0009, X.509, OpenSSL).</summary>
    Der,
    /// <summary>r ‖ s, 32 bytes each, big-endian (as JWS writes ECDSA signatures).</summary>
    Raw,
}

/// <summary>
/// An SM2 key (GB/T 32918 / GM/T 0003, curve sm2p256v1): a key pair, or a public key alone. Signatures hash
/// Z_A ‖ M with SM3, Z_A computed from the signer's user id (GM/T 0009's default "1234567812345678" unless one is
/// given) — what OpenSSL 3 does with <c>-sigopt distid:1234567812345678</c>. PEM is PKCS#8 for the private key and
/// SubjectPublicKeyInfo for the public key (algorithm id-ecPublicKey, curve 1.2.156.10197.1.301), as OpenSSL writes
/// them.
/// </summary>
public sealed class Sm2Key
{
    /// <summary>
    /// The JWS "alg" of SM2 signatures, a local name (not IANA-registered): SM2 with SM3 and the GM/T 0009 default
    /// user id, the signature r ‖ s as JWS writes ECDSA's. Documents, audit checkpoints and tokens use it.
    /// </summary>
    public const string JwsAlgorithm = "SM2SM3";

    /// <summary>GM/T 0009-2012's default signer id.</summary>
    public static readonly byte[] DefaultUserId = "1234567812345678"u8.ToArray();

    private static readonly DerObjectIdentifier CurveOid = GMObjectIdentifiers.sm2p256v1;
    // CustomNamedCurves: BouncyCastle's dedicated sm2p256v1 arithmetic (GMNamedCurves gives the generic Fp curve, ~5x slower, 10x the garbage).
    private static readonly ECDomainParameters Curve = new ECNamedDomainParameters(CurveOid, CustomNamedCurves.GetByOid(CurveOid));

    private readonly ECPrivateKeyParameters? _private;

    public ECPublicKeyParameters Public { get; }
    public bool HasPrivateKey => _private is not null;

    private Sm2Key(ECPrivateKeyParameters? privateKey, ECPublicKeyParameters publicKey)
    {
        _private = privateKey;
        Public = publicKey;
    }

    /// <summary>A new key pair on sm2p256v1.</summary>
    public static Sm2Key Generate(SecureRandom? random = null)
    {
        var generator = new ECKeyPairGenerator();
        generator.Init(new ECKeyGenerationParameters(Curve, random ?? new SecureRandom()));
        var pair = generator.GenerateKeyPair();
        return new((ECPrivateKeyParameters)pair.Private, (ECPublicKeyParameters)pair.Public);
    }

    /// <summary>A key pair from its private scalar d (on sm2p256v1 unless <paramref name="domain"/> names another curve, e.g. a standard's example curve).</summary>
    public static Sm2Key FromPrivateScalar(byte[] d, ECDomainParameters? domain = null)
    {
        domain ??= Curve;
        var key = new ECPrivateKeyParameters("EC", new BigInteger(1, d), domain);
        return new(key, new ECPublicKeyParameters("EC", domain.G.Multiply(key.D).Normalize(), domain));
    }

    /// <summary>A public key from its uncompressed point 04 ‖ x ‖ y (or compressed).</summary>
    public static Sm2Key FromPublicPoint(byte[] point, ECDomainParameters? domain = null)
    {
        domain ??= Curve;
        return new(null, new ECPublicKeyParameters("EC", domain.Curve.DecodePoint(point), domain));
    }

    /// <summary>
    /// A key from PEM: a PKCS#8 private key ("PRIVATE KEY", also SEC1 "EC PRIVATE KEY") gives the pair, a
    /// SubjectPublicKeyInfo ("PUBLIC KEY") the public key. Anything else, or a key on another curve, is refused.
    /// </summary>
    public static Sm2Key FromPem(string pem)
    {
        object? read;
        try { read = new PemReader(new StringReader(pem)).ReadObject(); }
        catch (Exception e) when (e is IOException or PemException or ArgumentException or InvalidCastException)
        {
            throw new FormatException($"Not a readable PEM key: {e.Message}", e);
        }
        var (privateKey, publicKey) = read switch
        {
            AsymmetricCipherKeyPair pair => (pair.Private as ECPrivateKeyParameters, pair.Public as ECPublicKeyParameters),
            ECPrivateKeyParameters p => (p, new ECPublicKeyParameters("EC", p.Parameters.G.Multiply(p.D).Normalize(), p.Parameters)),
            ECPublicKeyParameters p => ((ECPrivateKeyParameters?)null, p),
            _ => throw new FormatException("The PEM holds no EC key (PKCS#8 PRIVATE KEY or PUBLIC KEY expected)."),
        };
        if (publicKey is null) throw new FormatException("The PEM holds no EC key.");
        if (!publicKey.Parameters.Curve.Equals(Curve.Curve) || !publicKey.Parameters.G.Equals(Curve.G))
            throw new FormatException("The key is not on the SM2 curve (sm2p256v1).");
        return new(privateKey is null ? null : new ECPrivateKeyParameters("EC", privateKey.D, Curve),
            new ECPublicKeyParameters("EC", publicKey.Q, Curve));
    }

    /// <summary>The private key as PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----").</summary>
    public string PrivateKeyPem() =>
        Pem("PRIVATE KEY", PrivateKeyInfoFactory.CreatePrivateKeyInfo(_private ?? throw new InvalidOperationException("This SM2 key has no private half.")).GetDerEncoded());

    /// <summary>The public key as SubjectPublicKeyInfo PEM ("-----BEGIN PUBLIC KEY-----").</summary>
    public string PublicKeyPem() => Pem("PUBLIC KEY", PublicKeyDer());

    public byte[] PublicKeyDer() => SubjectPublicKeyInfoFactory.CreateSubjectPublicKeyInfo(Public).GetDerEncoded();

    /// <summary>The public point, uncompressed: 04 ‖ x ‖ y.</summary>
    public byte[] PublicPoint() => Public.Q.GetEncoded(false);

    /// <summary>A short, stable name for the public key: SM3 of its SubjectPublicKeyInfo DER, base64url (used as a JWS kid).</summary>
    public string KeyId() => Base64Url(Sm3.Hash(PublicKeyDer()));

    /// <summary>
    /// Signs <paramref name="data"/> (SM3 over Z_A ‖ data, inside). <paramref name="random"/> is for tests that
    /// reproduce a standard's example (its fixed k); leave it out otherwise.
    /// </summary>
    public byte[] Sign(ReadOnlySpan<byte> data, Sm2SignatureFormat format = Sm2SignatureFormat.Der, byte[]? userId = null, SecureRandom? random = null)
    {
        if (_private is null) throw new InvalidOperationException("This SM2 key has no private half: it can only verify.");
        var signer = Signer(format);
        ICipherParameters key = random is null ? _private : new ParametersWithRandom(_private, random);
        signer.Init(true, new ParametersWithID(key, userId ?? DefaultUserId));
        signer.BlockUpdate(data);
        return signer.GenerateSignature();
    }

    /// <summary>True when <paramref name="signature"/> is this key's over <paramref name="data"/>; false for any malformed signature.</summary>
    public bool Verify(ReadOnlySpan<byte> data, byte[] signature, Sm2SignatureFormat format = Sm2SignatureFormat.Der, byte[]? userId = null)
    {
        if (format == Sm2SignatureFormat.Raw && signature.Length != 2 * FieldBytes) return false;
        var signer = Signer(format);
        signer.Init(false, new ParametersWithID(Public, userId ?? DefaultUserId));
        signer.BlockUpdate(data);
        try { return signer.VerifySignature(signature); }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException or Asn1Exception) { return false; }
    }

    private int FieldBytes => (Public.Parameters.Curve.FieldSize + 7) / 8;

    private static SM2Signer Signer(Sm2SignatureFormat format) =>
        new(format == Sm2SignatureFormat.Raw ? PlainDsaEncoding.Instance : StandardDsaEncoding.Instance, new SM3Digest());

    /// <summary>A DER signature as r ‖ s (32 bytes each).</summary>
    public static byte[] DerToRaw(byte[] der)
    {
        var order = Curve.N;
        var rs = StandardDsaEncoding.Instance.Decode(order, der);
        return PlainDsaEncoding.Instance.Encode(order, rs[0], rs[1]);
    }

    /// <summary>An r ‖ s signature as DER.</summary>
    public static byte[] RawToDer(byte[] raw)
    {
        var order = Curve.N;
        var rs = PlainDsaEncoding.Instance.Decode(order, raw);
        return StandardDsaEncoding.Instance.Encode(order, rs[0], rs[1]);
    }

    public static string Base64Url(ReadOnlySpan<byte> bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string Pem(string label, byte[] der)
    {
        var sb = new StringBuilder().Append("-----BEGIN ").Append(label).Append("-----\n");
        var b64 = Convert.ToBase64String(der);
        for (var i = 0; i < b64.Length; i += 64) sb.Append(b64, i, Math.Min(64, b64.Length - i)).Append('\n');
        return sb.Append("-----END ").Append(label).Append("-----\n").ToString();
    }
}

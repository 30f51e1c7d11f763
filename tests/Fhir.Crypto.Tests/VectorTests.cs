using System.Security.Cryptography;
using System.Text;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Math;
using Org.BouncyCastle.Math.EC;
using Org.BouncyCastle.Security;
using Xunit;

namespace FhirArchive.Crypto.Tests;

/// <summary>The published test vectors of SM3 (GB/T 32905), SM4 (GB/T 32907), SM4-GCM (RFC 8998) and SM2 (GB/T 32918.2 / GM/T 0003.2).</summary>
public class VectorTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", ""));

    [Fact]
    public void Sm3_abc() =>
        Assert.Equal("66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0", Convert.ToHexStringLower(Sm3.Hash("abc"u8.ToArray())));

    [Fact]
    public void Sm3_512_bit_message() =>
        Assert.Equal("debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732",
            Convert.ToHexStringLower(Sm3.Hash(Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("abcd", 16))))));

    [Fact]
    public void Sm3_chain_link_is_unchanged_by_the_package_move()
    {
        // The audit chain's links must hash as before: SM3(previous ‖ seq (8 bytes BE) ‖ data).
        var previous = Sm3.Genesis;
        var expected = Sm3.Hash([.. previous, 0, 0, 0, 0, 0, 0, 1, 2, .. "x"u8.ToArray()]);
        Assert.Equal(expected, Sm3.ChainLink(previous, 258, "x"u8.ToArray()));
        Assert.Equal(Sm3.Hash("FhirArchive audit chain"u8.ToArray()), Sm3.Genesis);
    }

    private static readonly byte[] Sm4Key = Hex("0123456789abcdeffedcba9876543210");

    [Fact]
    public void Sm4_block() =>
        Assert.Equal("681edf34d206965e86b3e94f536e4246", Convert.ToHexStringLower(Sm4.EncryptBlock(Sm4Key, Sm4Key)));

    [Fact]
    public void Sm4_block_decrypts()
    {
        var engine = Sm4.Engine(Sm4Key, false);
        var plain = new byte[16];
        engine.ProcessBlock(Hex("681edf34d206965e86b3e94f536e4246"), 0, plain, 0);
        Assert.Equal(Sm4Key, plain);
    }

    [Fact]
    public void Sm4_one_million_iterations()
    {
        var engine = Sm4.Engine(Sm4Key, true);
        var block = (byte[])Sm4Key.Clone();
        var next = new byte[16];
        for (var i = 0; i < 1_000_000; i++)
        {
            engine.ProcessBlock(block, 0, next, 0);
            (block, next) = (next, block);
        }
        Assert.Equal("595298c7c6fd271f0402f804c33d3f66", Convert.ToHexStringLower(block));
    }

    // RFC 8998 appendix A.1 (SM4-GCM).
    private static readonly byte[] GcmNonce = Hex("00001234567800000000ABCD");
    private static readonly byte[] GcmAad = Hex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2");
    private static readonly byte[] GcmPlain = Hex("AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDDEEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA");
    private const string GcmCipher = "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D";
    private const string GcmTag = "83DE3541E4C2B58177E065A9BF7B62EC";

    [Fact]
    public void Sm4_gcm_rfc8998()
    {
        var sealedBytes = Sm4.EncryptGcm(Sm4Key, GcmNonce, GcmPlain, GcmAad);
        Assert.Equal(GcmCipher + GcmTag, Convert.ToHexString(sealedBytes));
        Assert.Equal(GcmPlain, Sm4.DecryptGcm(Sm4Key, GcmNonce, sealedBytes, GcmAad));
    }

    [Fact]
    public void Sm4_gcm_refuses_a_changed_byte_or_other_associated_data()
    {
        var sealedBytes = Sm4.EncryptGcm(Sm4Key, GcmNonce, GcmPlain, GcmAad);
        var changed = (byte[])sealedBytes.Clone();
        changed[5] ^= 1;
        Assert.Throws<CryptographicException>(() => Sm4.DecryptGcm(Sm4Key, GcmNonce, changed, GcmAad));
        Assert.Throws<CryptographicException>(() => Sm4.DecryptGcm(Sm4Key, GcmNonce, sealedBytes, [1, 2, 3]));
        Assert.Throws<CryptographicException>(() => Sm4.DecryptGcm(Sm4Key, GcmNonce, sealedBytes[..10], GcmAad));
    }

    [Fact]
    public void Sm4_seal_uses_a_fresh_nonce_and_opens()
    {
        var key = Sm4.NewKey();
        var a = Sm4.Seal(key, "110105199001011234"u8, "Patient/1|identifier"u8.ToArray());
        var b = Sm4.Seal(key, "110105199001011234"u8, "Patient/1|identifier"u8.ToArray());
        Assert.NotEqual(a, b);
        Assert.Equal("110105199001011234"u8.ToArray(), Sm4.Open(key, b, "Patient/1|identifier"u8.ToArray()));
        Assert.Throws<CryptographicException>(() => Sm4.Open(key, a, "Patient/2|identifier"u8.ToArray()));
    }

    // GB/T 32918.2-2016 / GM/T 0003.2 annex A.2: the example 256-bit prime curve, signer id ALICE123@YAHOO.COM.
    private static ECDomainParameters ExampleCurve()
    {
        BigInteger H(string hex) => new(hex, 16);
        var n = H("8542D69E4C044F18E8B92435BF6FF7DD297720630485628D5AE74EE7C32E79B7");
        var curve = new FpCurve(H("8542D69E4C044F18E8B92435BF6FF7DE457283915C45517D722EDB8B08F1DFC3"),
            H("787968B4FA32C3FD2417842E73BBFEFF2F3C848B6831D7E0EC65228B3937E498"),
            H("63E4C6D3B23B0C849CF84241484BFE48F61D59A5B16BA06E6E12D1DA27C5249A"), n, BigInteger.One);
        var g = curve.CreatePoint(H("421DEBD61B62EAB6746434EBC3CC315E32220B3BADD50BDC4C4E6C147FEDD43D"),
            H("0680512BCBB42C07D47349D2153B70C4E5D7FDFCBFA36EA1A85841B9E46E09A2"));
        return new ECDomainParameters(curve, g, n, BigInteger.One);
    }

    private static readonly byte[] ExampleId = "ALICE123@YAHOO.COM"u8.ToArray();
    private static readonly byte[] ExampleMessage = "message digest"u8.ToArray();
    private const string ExampleD = "128B2FA8BD433C6C068C8D803DFF79792A519A55171B1B650C23661D15897263";
    private const string ExamplePublic = "04" + "0AE4C7798AA0F119471BEE11825BE46202BB79E2A5844495E97C04FF4DF2548A" + "7C0240F88F1CD4E16352A73C17B7F16F07353E53A176D684A9FE0C6BB798E857";
    private const string ExampleK = "6CB28D99385C175C94F94E934817663FC176D925DD72B727260DBAAE1FB2F96F";
    private const string ExampleR = "40F1EC59F793D9F49E09DCEF49130D4194F79FB1EED2CAA55BACDB49C4E755D1";
    private const string ExampleS = "6FC6DAC32C5D5CF10C77DFB20F7C2EB667A457872FB09EC56327A67EC7DEEBE7";

    [Fact]
    public void Sm2_published_signature_verifies_with_the_published_public_key()
    {
        var key = Sm2Key.FromPublicPoint(Hex(ExamplePublic), ExampleCurve());
        Assert.True(key.Verify(ExampleMessage, Hex(ExampleR + ExampleS), Sm2SignatureFormat.Raw, ExampleId));
        Assert.False(key.Verify("message digesT"u8, Hex(ExampleR + ExampleS), Sm2SignatureFormat.Raw, ExampleId));
        Assert.False(key.Verify(ExampleMessage, Hex(ExampleR + ExampleS), Sm2SignatureFormat.Raw, Sm2Key.DefaultUserId));
    }

    [Fact]
    public void Sm2_published_private_key_gives_the_published_public_key_and_with_k_the_published_signature()
    {
        var key = Sm2Key.FromPrivateScalar(Hex(ExampleD), ExampleCurve());
        Assert.Equal(ExamplePublic, Convert.ToHexString(key.PublicPoint()));
        var signature = key.Sign(ExampleMessage, Sm2SignatureFormat.Raw, ExampleId, new FixedRandom(Hex(ExampleK)));
        Assert.Equal(ExampleR + ExampleS, Convert.ToHexString(signature));
        var der = key.Sign(ExampleMessage, Sm2SignatureFormat.Der, ExampleId, new FixedRandom(Hex(ExampleK)));
        Assert.Equal(signature, Sm2Key.DerToRaw(der));
        Assert.Equal(der, Sm2Key.RawToDer(signature));
    }

    [Fact]
    public void Sm2_sign_verify_pem_round_trip_on_sm2p256v1()
    {
        var key = Sm2Key.Generate();
        var data = "居民电子健康档案"u8.ToArray();
        var signature = key.Sign(data);
        var restored = Sm2Key.FromPem(key.PrivateKeyPem());
        var publicOnly = Sm2Key.FromPem(key.PublicKeyPem());
        Assert.True(restored.HasPrivateKey);
        Assert.False(publicOnly.HasPrivateKey);
        Assert.Equal(key.PublicPoint(), publicOnly.PublicPoint());
        Assert.True(publicOnly.Verify(data, signature));
        Assert.True(publicOnly.Verify(data, restored.Sign(data, Sm2SignatureFormat.Raw), Sm2SignatureFormat.Raw));
        Assert.True(publicOnly.Verify(data, key.Sign(data, userId: "doctor@example.cn"u8.ToArray()), userId: "doctor@example.cn"u8.ToArray()));
        Assert.False(publicOnly.Verify(data, key.Sign(data, userId: "doctor@example.cn"u8.ToArray())));
        Assert.False(Sm2Key.Generate().Verify(data, signature));
        Assert.False(publicOnly.Verify(data, [0x30, 0x02, 0x01]));
        Assert.False(publicOnly.Verify(data, new byte[64], Sm2SignatureFormat.Raw));
        Assert.Throws<InvalidOperationException>(() => publicOnly.Sign(data));
        Assert.Equal(key.KeyId(), publicOnly.KeyId());
    }

    [Fact]
    public void Sm2_pem_refuses_other_curves_and_garbage()
    {
        using var p256 = ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        Assert.Throws<FormatException>(() => Sm2Key.FromPem(p256.ExportSubjectPublicKeyInfoPem()));
        Assert.Throws<FormatException>(() => Sm2Key.FromPem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"));
        Assert.Throws<FormatException>(() => Sm2Key.FromPem("not a key"));
    }

    /// <summary>A "random" source that yields a fixed k: BouncyCastle draws SM2's k from it (the standard's example fixes k).</summary>
    private sealed class FixedRandom(byte[] value) : SecureRandom
    {
        public override void NextBytes(byte[] buf) => NextBytes(buf, 0, buf.Length);
        public override void NextBytes(byte[] buf, int off, int len) => NextBytes(buf.AsSpan(off, len));
        public override void NextBytes(Span<byte> buffer)
        {
            buffer.Clear();
            value.AsSpan(Math.Max(0, value.Length - buffer.Length)).CopyTo(buffer[Math.Max(0, buffer.Length - value.Length)..]);
        }
    }
}

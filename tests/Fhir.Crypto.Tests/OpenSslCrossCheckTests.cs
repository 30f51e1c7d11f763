using System.Diagnostics;
using Xunit;
using Xunit.Abstractions;

namespace FhirArchive.Crypto.Tests;

/// <summary>
/// SM2 against an independent implementation, OpenSSL 3 (<c>openssl dgst -sm3 -sigopt distid:…</c>): our signatures and
/// PEM keys verify in OpenSSL, OpenSSL's keys and signatures verify in ours. Without an openssl 3 on PATH the tests
/// pass after saying so (the machine image and CI carry one).
/// </summary>
public sealed class OpenSslCrossCheckTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sm2-openssl-").FullName;
    private static readonly string Distid = "distid:" + System.Text.Encoding.ASCII.GetString(Sm2Key.DefaultUserId);
    private static readonly byte[] Data = "{\"resourceType\":\"Bundle\",\"type\":\"document\",\"note\":\"居民电子健康档案\"}"u8.ToArray();

    public void Dispose() => Directory.Delete(_dir, true);

    private static readonly Lazy<bool> Available = new(() =>
    {
        try { return Run(Path.GetTempPath(), "version").Output.StartsWith("OpenSSL 3", StringComparison.Ordinal); }
        catch (System.ComponentModel.Win32Exception) { return false; }
    });

    private bool Skip()
    {
        if (Available.Value) return false;
        output.WriteLine("SKIPPED: no OpenSSL 3 on PATH; the SM2 cross-check with an independent implementation did not run.");
        return true;
    }

    private string File(string name, byte[] bytes) { var p = Path.Combine(_dir, name); System.IO.File.WriteAllBytes(p, bytes); return p; }
    private string File(string name, string text) { var p = Path.Combine(_dir, name); System.IO.File.WriteAllText(p, text); return p; }

    private static (int Exit, string Output) Run(string dir, params string[] args)
    {
        var psi = new ProcessStartInfo("openssl") { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit(30_000);
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    [Fact]
    public void A_health_card_code_verifies_in_openssl_as_its_format_documents_it()
    {
        if (Skip()) return;
        var key = Sm2Key.Generate();
        var code = HealthCardCode.Issue(key, "HC310104199007240424", DateTimeOffset.UtcNow, TimeSpan.FromSeconds(60));
        // The signature input is the ASCII text before the last dot; the signature r‖s, base64url.
        var cut = code.LastIndexOf('.');
        var input = File("code-input", System.Text.Encoding.ASCII.GetBytes(code[..cut]));
        var b64 = code[(cut + 1)..].Replace('-', '+').Replace('_', '/');
        File("code-sig", Sm2Key.RawToDer(Convert.FromBase64String(b64 + new string('=', (4 - b64.Length % 4) % 4))));
        var ok = Run(_dir, "dgst", "-sm3", "-verify", File("code-pub.pem", key.PublicKeyPem()), "-sigopt", Distid, "-signature", "code-sig", input);
        Assert.True(ok.Exit == 0, ok.Output);
        Assert.Contains("Verified OK", ok.Output);
    }

    [Fact]
    public void Our_signature_verifies_in_openssl_and_a_changed_byte_does_not()
    {
        if (Skip()) return;
        var key = Sm2Key.Generate();
        var pub = File("pub.pem", key.PublicKeyPem());
        var data = File("data", Data);
        var sig = File("sig", key.Sign(Data));
        var ok = Run(_dir, "dgst", "-sm3", "-verify", pub, "-sigopt", Distid, "-signature", sig, data);
        Assert.True(ok.Exit == 0, ok.Output);
        Assert.Contains("Verified OK", ok.Output);
        // A raw r‖s signature, converted to DER, is the same signature.
        File("sig-raw", Sm2Key.RawToDer(key.Sign(Data, Sm2SignatureFormat.Raw)));
        Assert.Equal(0, Run(_dir, "dgst", "-sm3", "-verify", pub, "-sigopt", Distid, "-signature", "sig-raw", data).Exit);

        var changed = (byte[])Data.Clone();
        changed[^3] ^= 1;
        var bad = Run(_dir, "dgst", "-sm3", "-verify", pub, "-sigopt", Distid, "-signature", sig, File("changed", changed));
        Assert.NotEqual(0, bad.Exit);
        // Another signer id is another Z_A: OpenSSL refuses it too.
        Assert.NotEqual(0, Run(_dir, "dgst", "-sm3", "-verify", pub, "-sigopt", "distid:ALICE123@YAHOO.COM", "-signature", sig, data).Exit);
    }

    [Fact]
    public void Our_pkcs8_private_key_signs_in_openssl_and_openssl_signature_verifies_in_ours()
    {
        if (Skip()) return;
        var key = Sm2Key.Generate();
        var priv = File("key.pem", key.PrivateKeyPem());
        var data = File("data", Data);
        var signed = Run(_dir, "dgst", "-sm3", "-sign", priv, "-sigopt", Distid, "-out", "sig", data);
        Assert.True(signed.Exit == 0, signed.Output);
        var signature = System.IO.File.ReadAllBytes(Path.Combine(_dir, "sig"));
        Assert.True(key.Verify(Data, signature));
        Assert.True(Sm2Key.FromPem(key.PublicKeyPem()).Verify(Data, Sm2Key.DerToRaw(signature), Sm2SignatureFormat.Raw));
        Assert.False(key.Verify("other"u8, signature));
    }

    [Fact]
    public void Openssl_key_and_signature_verify_in_ours()
    {
        if (Skip()) return;
        var gen = Run(_dir, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2", "-out", "key.pem");
        Assert.True(gen.Exit == 0, gen.Output);
        Assert.Equal(0, Run(_dir, "pkey", "-in", "key.pem", "-pubout", "-out", "pub.pem").Exit);
        var data = File("data", Data);
        Assert.Equal(0, Run(_dir, "dgst", "-sm3", "-sign", "key.pem", "-sigopt", Distid, "-out", "sig", data).Exit);
        var signature = System.IO.File.ReadAllBytes(Path.Combine(_dir, "sig"));

        var publicKey = Sm2Key.FromPem(System.IO.File.ReadAllText(Path.Combine(_dir, "pub.pem")));
        Assert.True(publicKey.Verify(Data, signature));
        // OpenSSL's private key reads as ours: what we sign with it OpenSSL verifies, and the public halves agree.
        var privateKey = Sm2Key.FromPem(System.IO.File.ReadAllText(Path.Combine(_dir, "key.pem")));
        Assert.Equal(publicKey.PublicPoint(), privateKey.PublicPoint());
        File("ours", privateKey.Sign(Data));
        Assert.Equal(0, Run(_dir, "dgst", "-sm3", "-verify", "pub.pem", "-sigopt", Distid, "-signature", "ours", data).Exit);
    }

    [Fact]
    public void Sm3_and_sm4_agree_with_openssl()
    {
        if (Skip()) return;
        var data = File("data", Data);
        var sm3 = Run(_dir, "dgst", "-sm3", "-r", data);
        Assert.StartsWith(Convert.ToHexStringLower(Sm3.Hash(Data)), sm3.Output);
        // One SM4 block without padding: OpenSSL's ECB equals ours.
        var key = Sm4.NewKey();
        var block = File("block", Data[..16]);
        var enc = Run(_dir, "enc", "-sm4-ecb", "-nopad", "-K", Convert.ToHexString(key), "-in", block, "-out", "block.enc");
        Assert.True(enc.Exit == 0, enc.Output);
        Assert.Equal(Sm4.EncryptBlock(key, Data[..16]), System.IO.File.ReadAllBytes(Path.Combine(_dir, "block.enc")));
    }

    [Fact]
    public void Hmac_sm3_agrees_with_openssl()
    {
        if (Skip()) return;
        var data = File("data", Data);
        var key = Sm4.NewKey();
        var mac = Run(_dir, "dgst", "-sm3", "-mac", "HMAC", "-macopt", "hexkey:" + Convert.ToHexString(key), "-r", data);
        Assert.True(mac.Exit == 0, mac.Output);
        Assert.StartsWith(Convert.ToHexStringLower(Sm3.Hmac(key, Data)), mac.Output);
    }
}

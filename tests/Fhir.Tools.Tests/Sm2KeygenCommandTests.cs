using Xunit;
using FhirArchive.Crypto;

namespace FhirArchive.Tools.Tests;

public sealed class Sm2KeygenCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tools-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Writes_a_key_pair_whose_public_half_verifies_the_private_halfs_signature()
    {
        var (priv, pub) = (Path.Combine(_dir, "k.pem"), Path.Combine(_dir, "k.pub.pem"));
        var output = new StringWriter();
        Assert.Equal(0, Cli.Run(["sm2-keygen", priv], output, new StringWriter()));

        var signer = Sm2Key.FromPem(File.ReadAllText(priv));
        var verifier = Sm2Key.FromPem(File.ReadAllText(pub));
        Assert.True(signer.HasPrivateKey);
        Assert.False(verifier.HasPrivateKey);
        Assert.True(verifier.Verify("data"u8, signer.Sign("data"u8)));
        Assert.Contains(signer.KeyId(), output.ToString());
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(priv));
    }

    [Fact]
    public void Never_overwrites_an_existing_private_key()
    {
        var priv = Path.Combine(_dir, "k.pem");
        File.WriteAllText(priv, "keep me");
        Assert.Equal(1, Cli.Run(["sm2-keygen", priv], new StringWriter(), new StringWriter()));
        Assert.Equal("keep me", File.ReadAllText(priv));
    }

    [Theory]
    [InlineData]
    [InlineData("no-such-verb")]
    [InlineData("sm2-keygen")]
    public void Bad_usage_exits_2_with_help(params string[] args)
    {
        var error = new StringWriter();
        Assert.Equal(2, Cli.Run(args, new StringWriter(), error));
        Assert.NotEmpty(error.ToString());
    }
}

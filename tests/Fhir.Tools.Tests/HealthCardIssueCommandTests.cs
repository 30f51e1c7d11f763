using Xunit;
using FhirArchive.Crypto;

namespace FhirArchive.Tools.Tests;

public sealed class HealthCardIssueCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tools-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (string Private, string Public) KeyPair()
    {
        var (priv, pub) = (Path.Combine(_dir, "platform.pem"), Path.Combine(_dir, "platform.pub.pem"));
        Assert.Equal(0, Cli.Run(["sm2-keygen", priv, pub], new StringWriter(), new StringWriter()));
        return (priv, pub);
    }

    [Fact]
    public void Issues_a_code_for_the_card_that_the_public_key_verifies_for_the_seconds_asked()
    {
        var (priv, pub) = KeyPair();
        var output = new StringWriter();
        var before = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        Assert.Equal(0, Cli.Run(["health-card-issue", priv, "HC110105198001010012", "120"], output, new StringWriter()));

        var text = output.ToString().Trim();
        var platform = Sm2Key.FromPem(File.ReadAllText(pub));
        var (status, code) = HealthCardCode.Verify(text, platform, DateTimeOffset.UtcNow, TimeSpan.Zero, TimeSpan.FromMinutes(5));
        Assert.Equal(HealthCardCodeStatus.Valid, status);
        Assert.Equal("HC110105198001010012", code!.CardId);
        Assert.Equal(TimeSpan.FromSeconds(120), code.Expires - code.Issued);
        Assert.True(code.Issued >= before);
        // Another platform's key does not verify it.
        Assert.Equal(HealthCardCodeStatus.BadSignature, HealthCardCode.Verify(text, Sm2Key.Generate(), DateTimeOffset.UtcNow, TimeSpan.Zero, TimeSpan.FromMinutes(5)).Status);
    }

    [Fact]
    public void The_default_validity_is_60_seconds()
    {
        var (priv, pub) = KeyPair();
        var output = new StringWriter();
        Assert.Equal(0, Cli.Run(["health-card-issue", priv, "HC1"], output, new StringWriter()));
        var (_, code) = HealthCardCode.Verify(output.ToString().Trim(), Sm2Key.FromPem(File.ReadAllText(pub)), DateTimeOffset.UtcNow, TimeSpan.Zero, TimeSpan.FromMinutes(5));
        Assert.Equal(TimeSpan.FromSeconds(HealthCardIssueCommand.DefaultValiditySeconds), code!.Expires - code.Issued);
    }

    [Fact]
    public void A_public_key_or_a_missing_file_cannot_issue()
    {
        var (_, pub) = KeyPair();
        var error = new StringWriter();
        Assert.Equal(1, Cli.Run(["health-card-issue", pub, "HC1"], new StringWriter(), error));
        Assert.Contains("only a public key", error.ToString());
        Assert.Equal(1, Cli.Run(["health-card-issue", Path.Combine(_dir, "none.pem"), "HC1"], new StringWriter(), new StringWriter()));
    }

    [Theory]
    [InlineData("health-card-issue")]
    [InlineData("health-card-issue", "k.pem")]
    [InlineData("health-card-issue", "k.pem", "HC1", "0")]
    [InlineData("health-card-issue", "k.pem", "HC1", "-5")]
    [InlineData("health-card-issue", "k.pem", "HC1", "60", "extra")]
    public void Bad_usage_exits_2(params string[] args)
    {
        var error = new StringWriter();
        Assert.Equal(2, Cli.Run(args, new StringWriter(), error));
        Assert.Contains("usage: health-card-issue", error.ToString());
    }

    [Fact]
    public void An_empty_card_id_exits_2()
    {
        var (priv, _) = KeyPair();
        Assert.Equal(2, Cli.Run(["health-card-issue", priv, ""], new StringWriter(), new StringWriter()));
    }
}

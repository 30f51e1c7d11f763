using System.Diagnostics;
using Xunit;
using Xunit.Abstractions;

namespace FhirArchive.Crypto.Tests;

/// <summary>
/// The signed checkpoint format (README "Signed audit checkpoints"): what it signs, what breaks it, and the README's
/// OpenSSL recipe run as printed — an outside verifier needs neither this code nor .NET.
/// </summary>
public sealed class ChainCheckpointTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("checkpoint-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    private static readonly DateTimeOffset When = new(2026, 12, 7, 20, 15, 30, 500, TimeSpan.FromHours(8));

    [Fact]
    public void The_signing_text_is_five_lines_and_the_time_is_UTC_to_the_second()
    {
        var key = Sm2Key.Generate();
        var head = Sm3.ChainLink(Sm3.Genesis, 1, [1, 2, 3]);
        var c = ChainCheckpoint.Sign(1, head, When, key);
        Assert.Equal("2026-12-07T12:15:30Z", c.Time);
        Assert.Equal(key.KeyId(), c.KeyId);
        Assert.Equal($"fhirarchive-audit-checkpoint/1\nsequence=1\nhead={Convert.ToHexStringLower(head)}\ntime=2026-12-07T12:15:30Z\nkey={key.KeyId()}",
            System.Text.Encoding.UTF8.GetString(ChainCheckpoint.SigningInput(c.Sequence, c.Head, c.Time, c.KeyId)));
        Assert.Null(c.Verify(Sm2Key.FromPem(key.PublicKeyPem())));
        Assert.NotNull((c with { Sequence = 2 }).Verify(key));
        Assert.NotNull((c with { Head = Sm3.Genesis }).Verify(key));
        Assert.NotNull((c with { Time = "2026-12-07T12:15:31Z" }).Verify(key));
        Assert.NotNull((c with { Signature = c.Signature[..^1] }).Verify(key));
        Assert.NotNull(c.Verify(Sm2Key.Generate()));
        // A document-style signature of the same key over the same fields is no checkpoint signature (r ‖ s, not DER).
        Assert.NotNull((c with { Signature = key.Sign(ChainCheckpoint.SigningInput(1, head, c.Time, c.KeyId), Sm2SignatureFormat.Raw) }).Verify(key));
    }

    [Fact]
    public void Recompute_follows_the_chain_and_names_a_gap()
    {
        var records = new List<(long, byte[])> { (1, [1]), (2, [2]), (3, [3]) };
        var (seq, head, problem) = ChainCheckpoint.Recompute(0, Sm3.Genesis, records);
        Assert.Null(problem);
        Assert.Equal(3, seq);
        Assert.Equal(Sm3.ChainLink(Sm3.ChainLink(Sm3.ChainLink(Sm3.Genesis, 1, [1]), 2, [2]), 3, [3]), head);
        Assert.Equal("event 2 expected, event 3 found", ChainCheckpoint.Recompute(0, Sm3.Genesis, [(1, [1]), (3, [3])]).Problem);
    }

    /// <summary>The recipe in the README, word for word apart from the file names.</summary>
    private const string Recipe = """
        p() { jq -r --arg n "$1" '.parameter[] | select(.name == $n) | (.valueString // .valueInteger // .valueInstant // .valueCode // .valueBase64Binary) | tostring' checkpoint.json; }
        printf 'fhirarchive-audit-checkpoint/1\nsequence=%s\nhead=%s\ntime=%s\nkey=%s' "$(p sequence)" "$(p head)" "$(p time)" "$(p keyId)" > input
        p signature | base64 -d > sig.der
        openssl dgst -sm3 -verify audit-signing-key.pem -sigopt distid:1234567812345678 -signature sig.der input
        """;

    [Fact]
    public void The_readme_recipe_verifies_a_checkpoint_with_openssl_and_refuses_a_changed_field()
    {
        if (!Tool("openssl") || !Tool("jq"))
        {
            output.WriteLine("SKIPPED: openssl or jq is not on PATH; the recipe did not run.");
            return;
        }
        var key = Sm2Key.Generate();
        File.WriteAllText(Path.Combine(_dir, "audit-signing-key.pem"), key.PublicKeyPem());
        var c = ChainCheckpoint.Sign(42, Sm3.ChainLink(Sm3.Genesis, 42, [4, 2]), When, key);
        Write(c, c.Sequence);
        var ok = Bash(Recipe);
        Assert.True(ok.Exit == 0, ok.Output);
        Assert.Contains("Verified OK", ok.Output);
        Write(c, 41);
        Assert.NotEqual(0, Bash(Recipe).Exit);
    }

    private void Write(ChainCheckpoint c, long sequence) => File.WriteAllText(Path.Combine(_dir, "checkpoint.json"), $$"""
        {"resourceType":"Parameters","parameter":[
          {"name":"format","valueString":"{{ChainCheckpoint.Format}}"},{"name":"algorithm","valueCode":"SM2SM3"},
          {"name":"sequence","valueInteger":{{sequence}}},{"name":"head","valueString":"{{Convert.ToHexStringLower(c.Head)}}"},
          {"name":"time","valueInstant":"{{c.Time}}"},{"name":"keyId","valueString":"{{c.KeyId}}"},
          {"name":"signature","valueBase64Binary":"{{Convert.ToBase64String(c.Signature)}}"}]}
        """);

    private static bool Tool(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, name)));

    private (int Exit, string Output) Bash(string script)
    {
        var psi = new ProcessStartInfo("bash") { WorkingDirectory = _dir, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit(30_000);
        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}

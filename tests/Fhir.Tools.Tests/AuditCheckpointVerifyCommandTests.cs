using System.Text.Json.Nodes;
using FhirArchive.Crypto;
using Xunit;

namespace FhirArchive.Tools.Tests;

/// <summary>
/// audit-checkpoint-verify on checkpoints and exported chains written as the server's operations answer them
/// (README "Signed audit checkpoints"): a chain of events made here, its head signed, then each field, the key,
/// the signature and an event tampered with.
/// </summary>
public sealed class AuditCheckpointVerifyCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("checkpoint-").FullName;
    private readonly Sm2Key _key = Sm2Key.Generate();
    private readonly List<(long Seq, byte[] Data)> _events = [.. Enumerable.Range(1, 6).Select(i => ((long)i, System.Text.Encoding.UTF8.GetBytes($"event {i} 审计")))];

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private byte[] HeadAt(long seq) => ChainCheckpoint.Recompute(0, Sm3.Genesis, _events.Where(e => e.Seq <= seq)).Head;

    private ChainCheckpoint Checkpoint(long seq, Sm2Key? key = null) =>
        ChainCheckpoint.Sign(seq, HeadAt(seq), new DateTimeOffset(2026, 12, 7, 20, 0, 0, TimeSpan.Zero), key ?? _key);

    private string Write(string name, JsonObject json)
    {
        var file = Path.Combine(_dir, name);
        File.WriteAllText(file, json.ToJsonString());
        return file;
    }

    private static JsonObject Parameter(string name, string type, JsonNode value) => new() { ["name"] = name, ["value" + type] = value };

    /// <summary>As AuditEvent/$checkpoint answers; <paramref name="change"/> alters a field after signing.</summary>
    private string WriteCheckpoint(ChainCheckpoint c, string name = "checkpoint.json", Action<Dictionary<string, JsonNode>>? change = null)
    {
        var values = new Dictionary<string, JsonNode>
        {
            ["format"] = ChainCheckpoint.Format, ["algorithm"] = ChainCheckpoint.Algorithm, ["sequence"] = c.Sequence,
            ["head"] = Convert.ToHexStringLower(c.Head), ["time"] = c.Time, ["keyId"] = c.KeyId, ["signature"] = Convert.ToBase64String(c.Signature),
        };
        change?.Invoke(values);
        string Type(string n) => n switch { "sequence" => "Integer", "time" => "Instant", "signature" => "Base64Binary", "algorithm" => "Code", _ => "String" };
        return Write(name, new JsonObject
        {
            ["resourceType"] = "Parameters",
            ["parameter"] = new JsonArray([.. values.Select(kv => (JsonNode)Parameter(kv.Key, Type(kv.Key), kv.Value))]),
        });
    }

    /// <summary>As AuditEvent/$chain answers.</summary>
    private string WriteChain(IEnumerable<(long Seq, byte[] Data)> events) => Write("chain.json", new JsonObject
    {
        ["resourceType"] = "Parameters",
        ["parameter"] = new JsonArray([.. events.Select(e => (JsonNode)new JsonObject
        {
            ["name"] = "event",
            ["part"] = new JsonArray(Parameter("sequence", "Integer", e.Seq), Parameter("data", "Base64Binary", Convert.ToBase64String(e.Data))),
        })]),
    });

    private string PublicKey(Sm2Key? key = null)
    {
        key ??= _key;
        var file = Path.Combine(_dir, key == _key ? "public.pem" : "other.pem");
        File.WriteAllText(file, key.PublicKeyPem());
        return file;
    }

    private static (int Exit, string Output) Verify(params string[] args)
    {
        var output = new StringWriter();
        var exit = Cli.Run(["audit-checkpoint-verify", .. args], output, output);
        return (exit, output.ToString());
    }

    [Fact]
    public void A_valid_checkpoint_verifies_with_the_public_key_alone()
    {
        var (exit, output) = Verify(WriteCheckpoint(Checkpoint(6)), PublicKey());
        Assert.Equal(0, exit);
        Assert.Contains("valid", output);
        Assert.Contains(Convert.ToHexStringLower(HeadAt(6)), output);
    }

    [Theory]
    [InlineData("sequence")]
    [InlineData("head")]
    [InlineData("time")]
    [InlineData("keyId")]
    public void A_changed_field_is_invalid(string field)
    {
        var file = WriteCheckpoint(Checkpoint(6), change: v => v[field] = field switch
        {
            "sequence" => 5,
            "head" => Convert.ToHexStringLower(HeadAt(5)),
            "time" => "2026-12-07T20:00:01Z",
            _ => Sm2Key.Generate().KeyId(),
        });
        var (exit, output) = Verify(file, PublicKey());
        Assert.Equal(1, exit);
        Assert.Contains("invalid", output);
    }

    [Fact]
    public void Another_key_is_invalid_whether_it_signed_or_only_verifies()
    {
        var other = Sm2Key.Generate();
        // Signed by another key, checked with the server's: the key ids differ, and so would the signature.
        Assert.Equal(1, Verify(WriteCheckpoint(Checkpoint(6, other)), PublicKey()).Exit);
        // Signed by another key that claims the server's key id: the signature does not verify.
        Assert.Equal(1, Verify(WriteCheckpoint(Checkpoint(6, other), change: v => v["keyId"] = _key.KeyId()), PublicKey()).Exit);
        // The server's checkpoint checked with another public key.
        Assert.Equal(1, Verify(WriteCheckpoint(Checkpoint(6)), PublicKey(other)).Exit);
    }

    [Theory]
    [InlineData("truncated")]
    [InlineData("flipped")]
    [InlineData("empty")]
    [InlineData("raw")]
    public void A_truncated_or_forged_signature_is_invalid(string how)
    {
        var c = Checkpoint(6);
        var signature = how switch
        {
            "truncated" => c.Signature[..^4],
            "flipped" => [.. c.Signature[..^1], (byte)(c.Signature[^1] ^ 1)],
            "empty" => [],
            // The same (r, s) written r ‖ s instead of DER: not the documented encoding.
            _ => Sm2Key.DerToRaw(c.Signature),
        };
        var (exit, output) = Verify(WriteCheckpoint(c, change: v => v["signature"] = Convert.ToBase64String(signature)), PublicKey());
        Assert.Equal(1, exit);
        Assert.Contains("signature", output);
    }

    [Fact]
    public void The_exported_events_recompute_the_signed_head_from_the_start_or_from_an_earlier_checkpoint()
    {
        var checkpoint = WriteCheckpoint(Checkpoint(6));
        Assert.Equal(0, Verify(checkpoint, PublicKey(), "--events", WriteChain(_events)).Exit);
        var earlier = WriteCheckpoint(Checkpoint(3), "earlier.json");
        Assert.Equal(0, Verify(checkpoint, PublicKey(), "--events", WriteChain(_events.Skip(3)), "--after", earlier).Exit);
    }

    [Fact]
    public void A_rewritten_removed_or_swapped_event_does_not_reach_the_signed_head()
    {
        var checkpoint = WriteCheckpoint(Checkpoint(6));
        var rewritten = _events.Select(e => e.Seq == 4 ? (e.Seq, "event 4 改写"u8.ToArray()) : e);
        var (exit, output) = Verify(checkpoint, PublicKey(), "--events", WriteChain(rewritten));
        Assert.Equal(1, exit);
        Assert.Contains("do not chain", output);
        Assert.Equal(1, Verify(checkpoint, PublicKey(), "--events", WriteChain(_events.Where(e => e.Seq != 4))).Exit);
        var swapped = _events.Select(e => e.Seq switch { 4 => (4L, _events[4].Data), 5 => (5L, _events[3].Data), _ => e });
        Assert.Equal(1, Verify(checkpoint, PublicKey(), "--events", WriteChain(swapped)).Exit);
        // Events that stop short of the checkpoint.
        Assert.Equal(1, Verify(checkpoint, PublicKey(), "--events", WriteChain(_events.Take(5))).Exit);
        // An earlier checkpoint that is forged (another key) is no starting point.
        var forged = WriteCheckpoint(Checkpoint(3, Sm2Key.Generate()), "earlier.json");
        Assert.Equal(1, Verify(checkpoint, PublicKey(), "--events", WriteChain(_events.Skip(3)), "--after", forged).Exit);
    }

    [Theory]
    [InlineData("only-one")]
    [InlineData("after-without-events")]
    [InlineData("unknown-option")]
    [InlineData("not-json")]
    [InlineData("not-a-key")]
    public void Bad_usage_or_unreadable_input_exits_2(string how)
    {
        var checkpoint = WriteCheckpoint(Checkpoint(6));
        var key = PublicKey();
        var junk = Path.Combine(_dir, "junk.txt");
        File.WriteAllText(junk, "not json, not PEM");
        string[] args = how switch
        {
            "only-one" => [checkpoint],
            "after-without-events" => [checkpoint, key, "--after", checkpoint],
            "unknown-option" => [checkpoint, key, "--frobnicate"],
            "not-json" => [junk, key],
            _ => [checkpoint, junk],
        };
        Assert.Equal(2, Verify(args).Exit);
    }
}

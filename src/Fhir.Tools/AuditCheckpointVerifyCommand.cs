using System.Text.Json;
using FhirArchive.Crypto;

namespace FhirArchive.Tools;

/// <summary>
/// Checks a signed audit checkpoint (the Parameters of AuditEvent/$checkpoint) with the audit signing public key
/// alone; given the exported events since an earlier checkpoint (AuditEvent/$chain), also recomputes the chain's
/// head from them and requires it to be the one signed. Exit 0 valid, 1 invalid, 2 bad usage or unreadable input.
/// </summary>
public static class AuditCheckpointVerifyCommand
{
    private const string Usage =
        "usage: audit-checkpoint-verify <checkpoint.json> <public.pem> [--events <chain.json> [--after <earlier-checkpoint.json>]]";

    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        string? events = null, after = null;
        var positional = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] is "--events" or "--after" && i + 1 < args.Length)
            {
                if (args[i] == "--events") events = args[++i];
                else after = args[++i];
            }
            else if (args[i].StartsWith("--", StringComparison.Ordinal)) return Fail(error, $"unknown option {args[i]}\n{Usage}");
            else positional.Add(args[i]);
        }
        if (positional.Count != 2 || after is not null && events is null) return Fail(error, Usage);

        ChainCheckpoint checkpoint, previous;
        Sm2Key key;
        List<(long, byte[])>? chain = null;
        try
        {
            key = Sm2KeyFile.LoadPublic(positional[1], "checkpoint signer's public key");
            checkpoint = ReadCheckpoint(positional[0]);
            previous = after is null ? new ChainCheckpoint(0, Sm3.Genesis, "", "", []) : ReadCheckpoint(after);
            if (events is not null) chain = ReadChain(events);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return Fail(error, $"cannot read the input / 无法读取输入: {e.Message}");
        }

        if (checkpoint.Verify(key) is { } problem) return Invalid(output, $"checkpoint at event {checkpoint.Sequence}: {problem}");
        if (after is not null && previous.Verify(key) is { } earlier) return Invalid(output, $"earlier checkpoint at event {previous.Sequence}: {earlier}");
        if (chain is not null)
        {
            var (seq, head, gap) = ChainCheckpoint.Recompute(previous.Sequence, previous.Head, chain);
            if (gap is not null) return Invalid(output, $"the exported events are not consecutive: {gap}");
            if (seq != checkpoint.Sequence) return Invalid(output, $"the exported events end at event {seq}, the checkpoint is at event {checkpoint.Sequence}");
            if (!head.AsSpan().SequenceEqual(checkpoint.Head))
                return Invalid(output, $"the events {previous.Sequence + 1}–{seq} do not chain to the signed head (an event was changed, removed or reordered)");
        }
        output.WriteLine($"valid / 有效: the audit trail's head at event {checkpoint.Sequence} was {Convert.ToHexStringLower(checkpoint.Head)} at {checkpoint.Time}, signed by key {checkpoint.KeyId}"
            + (chain is null ? "" : $"; events {previous.Sequence + 1}–{checkpoint.Sequence} recomputed to it"));
        return 0;
    }

    private static int Invalid(TextWriter output, string why)
    {
        output.WriteLine($"invalid / 无效: {why}");
        return 1;
    }

    private static int Fail(TextWriter error, string message)
    {
        error.WriteLine(message);
        return 2;
    }

    /// <summary>A checkpoint from the Parameters of AuditEvent/$checkpoint (README, "Signed audit checkpoints").</summary>
    public static ChainCheckpoint ReadCheckpoint(string file)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(file));
        var values = Parameters(doc.RootElement).ToDictionary(p => p.GetProperty("name").GetString()!, Value);
        if (values["format"] != ChainCheckpoint.Format) throw new FormatException($"not a {ChainCheckpoint.Format} checkpoint");
        if (values["algorithm"] != ChainCheckpoint.Algorithm) throw new FormatException($"algorithm {values["algorithm"]} is not {ChainCheckpoint.Algorithm}");
        return new ChainCheckpoint(long.Parse(values["sequence"], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture),
            Convert.FromHexString(values["head"]), values["time"], values["keyId"], Convert.FromBase64String(values["signature"]));
    }

    /// <summary>The events of AuditEvent/$chain: each parameter "event" with parts sequence and data (base64).</summary>
    public static List<(long, byte[])> ReadChain(string file)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(file));
        return Parameters(doc.RootElement).Where(p => p.GetProperty("name").GetString() == "event").Select(e =>
        {
            var parts = e.GetProperty("part").EnumerateArray().ToDictionary(p => p.GetProperty("name").GetString()!, Value);
            return (long.Parse(parts["sequence"], System.Globalization.CultureInfo.InvariantCulture), Convert.FromBase64String(parts["data"]));
        }).ToList();
    }

    private static IEnumerable<JsonElement> Parameters(JsonElement root) =>
        root.GetProperty("resourceType").GetString() == "Parameters"
            ? root.TryGetProperty("parameter", out var p) ? p.EnumerateArray() : []
            : throw new FormatException("not a FHIR Parameters resource");

    /// <summary>A parameter's value[x] as text (valueString, valueInteger, valueInstant...).</summary>
    private static string Value(JsonElement parameter)
    {
        foreach (var property in parameter.EnumerateObject())
            if (property.Name.StartsWith("value", StringComparison.Ordinal))
                return property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString()! : property.Value.GetRawText();
        return "";
    }
}

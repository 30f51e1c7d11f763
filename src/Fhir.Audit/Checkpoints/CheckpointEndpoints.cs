using FhirArchive.Audit.Store;
using FhirArchive.Crypto;
using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Metadata;

namespace FhirArchive.Audit.Checkpoints;

/// <summary>
/// The signed checkpoints over REST (auditors): <c>AuditEvent/$checkpoint</c> reads one, <c>$sign-checkpoint</c>
/// signs the head now, <c>$chain</c> exports the chained bytes a verifier recomputes a head from; the public key is
/// open at <see cref="AuditCheckpoints.WellKnownPath"/>. A checkpoint is answered as a Parameters (as $verify
/// answers): it is a statement about the trail, not a resource of the record, and each of its fields is a named,
/// typed value an outside verifier reads without FHIR tooling.
/// </summary>
public static class CheckpointEndpoints
{
    /// <summary>The most events one $chain answer holds.</summary>
    public const int MaxChain = 10_000;

    public static void Map(IEndpointRouteBuilder app)
    {
        // Loaded (or generated) at start-up, so a wrong Audit:Checkpoints:KeyFile stops the start, not the first checkpoint.
        _ = app.ServiceProvider.GetRequiredService<AuditCheckpoints>().Key;
        var local = typeof(CheckpointEndpoints).Assembly;
        app.MapOperation(FhirOperation.Local(local, "AuditEvent-checkpoint"), OperationLevel.Type, Read)
            .WithTags("Audit").WithSummary("a signed checkpoint of the audit trail (auditors)");
        app.MapOperation(FhirOperation.Local(local, "AuditEvent-sign-checkpoint"), OperationLevel.Type, Sign)
            .WithTags("Audit").WithSummary("sign the audit trail's head now (auditors)");
        app.MapOperation(FhirOperation.Local(local, "AuditEvent-chain"), OperationLevel.Type, Chain)
            .WithTags("Audit").WithSummary("the chained bytes of audit events, to recompute a checkpoint's head (auditors)");
        // The public key, open to anyone who checks a checkpoint (no token, not audited: it discloses no record data).
        app.MapGet(AuditCheckpoints.WellKnownPath, (AuditCheckpoints c) => Results.Text(c.Key.PublicKeyPem(), "application/x-pem-file"))
            .AllowAnonymous().NotAudited().WithTags("Audit").WithSummary("the audit signing public key (SM2) as SubjectPublicKeyInfo PEM");
    }

    private static void RequireAuditor(HttpContext c)
    {
        if (!AuditEndpoints.IsAuditor(c.GetCaller())) throw new FhirException(403, "forbidden", "Only auditors may read or sign the audit trail's checkpoints.");
    }

    private static async Task Read(HttpContext c, AuditCheckpoints checkpoints)
    {
        RequireAuditor(c);
        var p = await OperationParameters.ReadAsync(c);
        var checkpoint = p.Integer("sequence", 1) is { } seq
            ? await checkpoints.FindAsync(seq, c.RequestAborted) ?? throw FhirException.NotFound($"No checkpoint was signed at event {seq} / 该序号无检查点.")
            : await checkpoints.LatestAsync(c.RequestAborted) ?? throw FhirException.NotFound("No checkpoint has been signed yet / 尚无检查点.");
        await FhirFormats.WriteNodeAsync(c, 200, ToParameters(checkpoint));
    }

    private static async Task Sign(HttpContext c, AuditCheckpoints checkpoints)
    {
        RequireAuditor(c);
        await OperationParameters.ReadAsync(c);
        ChainCheckpoint? checkpoint;
        try { checkpoint = await checkpoints.SignAsync(c.RequestAborted); }
        catch (CheckpointRefusedException e) { throw new FhirException(409, "conflict", e.Message); }
        if (checkpoint is null) throw new FhirException(409, "conflict", "The audit trail is empty: there is no head to sign / 审计链为空.");
        await FhirFormats.WriteNodeAsync(c, 200, ToParameters(checkpoint));
    }

    private static async Task Chain(HttpContext c, AuditStore store)
    {
        RequireAuditor(c);
        var p = await OperationParameters.ReadAsync(c);
        var after = p.Integer("after", 0) ?? 0;
        var through = p.Integer("through", 1) ?? throw FhirException.BadRequest("$chain needs 'through', the last event to export / 缺少参数 through.");
        if (through <= after) throw FhirException.BadRequest($"'through' ({through}) must come after 'after' ({after}) / through 须大于 after.");
        if ((long)through - after > MaxChain)
            throw FhirException.BadRequest($"At most {MaxChain:N0} events per answer: ask for after={after}&through={after + MaxChain}, then on / 每次最多导出 {MaxChain} 条.");
        var result = FhirParameters.Create();
        foreach (var (seq, data) in await store.ChainAsync(after, through, c.RequestAborted))
        {
            var e = result.Add("parameter");
            e.Add("name", "event");
            AddPart(e, "sequence", seq.ToString(System.Globalization.CultureInfo.InvariantCulture), "integer");
            AddPart(e, "data", Convert.ToBase64String(data), "base64Binary");
        }
        await FhirFormats.WriteNodeAsync(c, 200, result);
    }

    private static void AddPart(ElementNode parameter, string name, string value, string type)
    {
        var part = parameter.Add("part");
        part.Add("name", name);
        part.Add("value", value, type);
    }

    /// <summary>A checkpoint as the operations answer it (the format the README documents and the CLI reads).</summary>
    public static ElementNode ToParameters(ChainCheckpoint checkpoint)
    {
        var result = FhirParameters.Create();
        FhirParameters.Add(result, "format", ChainCheckpoint.Format, "string");
        FhirParameters.Add(result, "algorithm", ChainCheckpoint.Algorithm, "code");
        FhirParameters.Add(result, "sequence", checkpoint.Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture), "integer");
        FhirParameters.Add(result, "head", Convert.ToHexStringLower(checkpoint.Head), "string");
        FhirParameters.Add(result, "time", checkpoint.Time, "instant");
        FhirParameters.Add(result, "keyId", checkpoint.KeyId, "string");
        FhirParameters.Add(result, "signature", Convert.ToBase64String(checkpoint.Signature), "base64Binary");
        return result;
    }
}

using System.Text.Json;
using System.Text.Json.Nodes;
using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Metadata;
using FhirArchive.Storage;

namespace FhirArchive.Archive.Signatures;

/// <summary>
/// Bundle/$verify-signature: the Bundle in the body (itself, or as the "bundle" part of a Parameters) or, at
/// instance level, a stored Bundle (read through the consent decision: one the caller may not see is a 404).
/// Answers Parameters valid / reason / signer / when; an unsigned, changed or foreign-signed Bundle is valid=false
/// with the reason, never an error.
/// </summary>
public static class VerifySignatureEndpoint
{
    public static void Map(IEndpointRouteBuilder app)
    {
        var op = FhirOperation.Local(typeof(VerifySignatureEndpoint).Assembly, "Bundle-verify-signature");
        app.MapOperation(op, OperationLevel.Type, VerifyBody)
            .WithTags("Signatures").WithSummary("verify a document Bundle's SM2 signature (the Bundle as body or as the 'bundle' parameter)");
        app.MapOperation(op, OperationLevel.Instance, VerifyStored)
            .WithTags("Signatures").WithSummary("verify a stored Bundle's SM2 signature");
    }

    private static async Task VerifyBody(HttpContext ctx, DocumentSigner signer)
    {
        if (!OperationParameters.HasBody(ctx.Request))
            throw FhirException.BadRequest("$verify-signature needs the Bundle: POST it as the body or as the 'bundle' parameter / 请提交待验证的 Bundle.");
        var body = await FhirFormats.ReadResourceAsync(ctx.Request, ctx.RequestAborted);
        var bundle = body.Type == "Parameters" ? OperationParameters.Of(body, ctx.Request.Query).Resource("bundle") : body;
        if (bundle is null) throw FhirException.BadRequest("The Parameters has no 'bundle' part with a resource / 缺少 bundle 参数.");
        if (bundle.Type != "Bundle") throw FhirException.BadRequest($"$verify-signature takes a Bundle, not a {bundle.Type} / 仅可验证 Bundle.");
        await Answer(ctx, signer.Verify(bundle));
    }

    private static async Task VerifyStored(HttpContext ctx, string id, IResourceStore store, ReadGuard guard, DocumentSigner signer)
    {
        var ct = ctx.RequestAborted;
        var stored = await store.ReadAsync("Bundle", id, ct);
        var shown = await guard.RunAsync(ctx, "operation-verify-signature", "Bundle", async access => await guard.ShowOrGoneAsync(access, stored));
        if (shown is null) throw FhirException.NotFound($"Bundle/{id} is not known.");
        if (shown.IsDeleted) throw FhirException.Gone($"Bundle/{id} has been deleted.");
        // The stored version is checked, not a view redacted for the caller: the answer says whether the document the
        // server holds is intact, and discloses nothing of its content.
        await Answer(ctx, signer.Verify(FhirFormats.ParseStored(stored!.Json!)));
    }

    private static Task Answer(HttpContext ctx, SignatureCheck check)
    {
        var parameters = new JsonArray
        {
            new JsonObject { ["name"] = "valid", ["valueBoolean"] = check.Valid },
            new JsonObject { ["name"] = "reason", ["valueString"] = check.Reason },
        };
        if (check.Signer is { } who)
        {
            using var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer)) FhirJsonSerializer.Write(who, w);
            parameters.Add(new JsonObject { ["name"] = "signer", ["valueReference"] = JsonNode.Parse(buffer.ToArray()) });
        }
        if (check.When is { } when) parameters.Add(new JsonObject { ["name"] = "when", ["valueInstant"] = when });
        var result = new JsonObject { ["resourceType"] = "Parameters", ["parameter"] = parameters };
        return FhirFormats.WriteJsonBytesAsync(ctx, 200, FhirFormats.Utf8(result));
    }
}

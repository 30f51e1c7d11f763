using FhirArchive.Rest.Access;
using FhirArchive.Rest.Resources;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;

namespace FhirArchive.Rest.Patch;

/// <summary>PATCH [type]/[id] and conditional PATCH [type]?criteria with JSON Patch or FHIRPath Patch.</summary>
public static class PatchEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapMethods("/{type}/{id}", ["PATCH"], Patch).WithInteraction(InteractionKind.Patch).WithTags("Resources")
            .WithSummary("patch: application/json-patch+json (JSON Patch) or a Parameters resource (FHIRPath Patch); If-Match for versioned patch");
        app.MapMethods("/{type}", ["PATCH"], ConditionalPatch).WithInteraction(InteractionKind.Patch).WithTags("Resources").WithSummary("conditional patch");
    }

    private static async Task Patch(HttpContext ctx, string type, string id, IResourceStore store, ResourcePatcher patcher)
    {
        ResourceWriter.CheckType(type);
        var patch = await PatchDocument.ReadAsync(ctx.Request, ctx.RequestAborted);
        var ifMatch = FhirHeaders.IfMatch(ctx.Request);
        var outcome = await ResourceEndpoints.InSessionAsync(ctx, store, s => patcher.PatchAsync(s, type, id, patch, ifMatch, ctx.RequestAborted));
        await ResourceEndpoints.WriteOutcomeAsync(ctx, outcome, "Patched");
    }

    private static async Task ConditionalPatch(HttpContext ctx, string type, IResourceStore store, ResourcePatcher patcher)
    {
        ResourceWriter.CheckType(type);
        var patch = await PatchDocument.ReadAsync(ctx.Request, ctx.RequestAborted);
        var ifMatch = FhirHeaders.IfMatch(ctx.Request);
        var outcome = await ResourceEndpoints.InSessionAsync(ctx, store, s => patcher.ConditionalPatchAsync(s, type, ResourceEndpoints.CriteriaOf(ctx), patch, ifMatch, ctx.RequestAborted));
        await ResourceEndpoints.WriteOutcomeAsync(ctx, outcome, "Patched");
    }
}

using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Outcomes;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Writing;
using FhirArchive.Storage;

namespace FhirArchive.Rest.Resources;

/// <summary>Instance-level REST interactions: read, vread, create, update, delete (plain and conditional).</summary>
public static class ResourceEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/{type}/{id}", Read).WithInteraction(InteractionKind.Read).WithTags("Resources").WithSummary("read");
        app.MapGet("/{type}/{id}/_history/{vid}", VRead).WithInteraction(InteractionKind.VRead).WithTags("Resources").WithSummary("vread");
        app.MapPost("/{type}", Create).WithInteraction(InteractionKind.Create).WithTags("Resources").WithSummary("create (If-None-Exist for conditional create)");
        app.MapPut("/{type}/{id}", Update).WithInteraction(InteractionKind.Update).WithTags("Resources").WithSummary("update / update-as-create (If-Match for versioned update)");
        app.MapPut("/{type}", ConditionalUpdate).WithInteraction(InteractionKind.Update).WithTags("Resources").WithSummary("conditional update");
        app.MapDelete("/{type}/{id}", Delete).WithInteraction(InteractionKind.Delete).WithTags("Resources").WithSummary("delete");
        app.MapDelete("/{type}", ConditionalDelete).WithInteraction(InteractionKind.Delete).WithTags("Resources").WithSummary("conditional delete");
        app.MapMethods("/{type}/{id}/_history/{vid}", ["PUT", "DELETE", "POST", "PATCH"], (HttpContext c) => NotAllowed(c.Request.Method))
            .WithInteraction(InteractionKind.Other).ExcludeFromDescription();
    }

    private static IResult NotAllowed(string method) =>
        throw new FhirException(405, "not-supported", $"{method} is not supported on this URL.");

    private static async Task Read(HttpContext ctx, string type, string id, IResourceStore store, ReadGuard guard)
    {
        ResourceWriter.CheckType(type);
        await guard.RunAsync(ctx, "read", type, async access =>
        {
            await WriteVersionAsync(ctx, await ShownAsync(access, store, guard, type, id, null, ctx.Response));
            return 0;
        });
    }

    private static async Task VRead(HttpContext ctx, string type, string id, string vid, IResourceStore store, ReadGuard guard)
    {
        ResourceWriter.CheckType(type);
        if (!int.TryParse(vid, out _)) throw FhirException.NotFound($"'{vid}' is not a version of {type}/{id}.");
        await guard.RunAsync(ctx, "vread", type, async access =>
        {
            await WriteVersionAsync(ctx, await ShownAsync(access, store, guard, type, id, vid));
            return 0;
        });
    }

    /// <summary>
    /// The one read path (read, vread, a batch entry's read): the current version, or version <paramref name="vid"/>
    /// (a number), as the caller may see it; else what a read answers: 404 when missing or hidden, 410 when deleted
    /// (with the deletion's version in the headers of <paramref name="goneHeaders"/>: a plain read's response).
    /// </summary>
    public static async Task<StoredResource> ShownAsync(AccessContext access, IResourceStore store, ReadGuard guard, string type, string id, string? vid,
        HttpResponse? goneHeaders = null)
    {
        var ct = access.Http.RequestAborted;
        var s = vid is null ? await store.ReadAsync(type, id, ct) : await store.ReadVersionAsync(type, id, int.Parse(vid), ct);
        if ((s = await guard.ShowOrGoneAsync(access, s)) is null)
            throw FhirException.NotFound(vid is null ? $"{type}/{id} is not known." : $"{type}/{id}/_history/{vid} is not known.");
        if (!s.IsDeleted) return s;
        if (vid is not null) throw FhirException.Gone($"Version {vid} of {type}/{id} is a deletion.");
        if (goneHeaders is not null) FhirHeaders.SetVersionHeaders(goneHeaders, s);
        throw FhirException.Gone($"{type}/{id} was deleted (version {s.Version}).");
    }

    private static async Task WriteVersionAsync(HttpContext ctx, StoredResource s)
    {
        FhirHeaders.SetVersionHeaders(ctx.Response, s);
        if (FhirHeaders.NotModified(ctx.Request, s))
        {
            ctx.Response.StatusCode = StatusCodes.Status304NotModified;
            return;
        }
        if (s.ResourceType == "Binary" && FhirFormats.WantsNativeBinary(ctx))
        {
            await WriteNativeBinaryAsync(ctx, s);
            return;
        }
        await FhirFormats.WriteJsonBytesAsync(ctx, 200, s.Json!, Search.ResultShaping.ForRead(ctx.Request));
    }

    /// <summary>A Binary's content as itself (R4 http.html#binary): its contentType, its bytes, its securityContext in X-Security-Context.</summary>
    private static async Task WriteNativeBinaryAsync(HttpContext ctx, StoredResource s)
    {
        var node = FhirFormats.ParseStored(s.Json!);
        var contentType = node.Child("contentType")?.Value ?? "application/octet-stream";
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(node.Child("data")?.Value ?? "");
        }
        catch (FormatException)
        {
            throw new FhirException(500, "exception", $"Binary/{s.Id} holds data that is not base64.");
        }
        if (node.Child("securityContext")?.Child("reference")?.Value is { } context) ctx.Response.Headers["X-Security-Context"] = context;
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = contentType;
        // Stored content served from the API's origin: never sniffed into another type, never run as a page there.
        ctx.Response.Headers.XContentTypeOptions = "nosniff";
        ctx.Response.Headers.ContentSecurityPolicy = "sandbox";
        ctx.Response.ContentLength = bytes.Length;
        await ctx.Response.Body.WriteAsync(bytes, ctx.RequestAborted);
    }

    private static async Task Create(HttpContext ctx, string type, IResourceStore store, ResourceWriter writer)
    {
        ResourceWriter.CheckType(type);
        var resource = await FhirFormats.ReadResourceAsync(ctx.Request, ctx.RequestAborted);
        var outcome = await InSessionAsync(ctx, store, s => writer.CreateAsync(s, resource, type, ctx.Request.Headers["If-None-Exist"].ToString(), ctx.RequestAborted));
        await WriteOutcomeAsync(ctx, outcome, outcome.Status == 201 ? "Created" : "A matching resource already exists; nothing was created.");
    }

    private static async Task Update(HttpContext ctx, string type, string id, IResourceStore store, ResourceWriter writer)
    {
        ResourceWriter.CheckType(type);
        var resource = await FhirFormats.ReadResourceAsync(ctx.Request, ctx.RequestAborted);
        var ifMatch = FhirHeaders.IfMatch(ctx.Request);
        var outcome = await InSessionAsync(ctx, store, s => writer.UpdateAsync(s, resource, type, id, ifMatch, ctx.RequestAborted));
        await WriteOutcomeAsync(ctx, outcome, outcome.Status == 201 ? "Created" : "Updated");
    }

    private static async Task ConditionalUpdate(HttpContext ctx, string type, IResourceStore store, ResourceWriter writer)
    {
        ResourceWriter.CheckType(type);
        var resource = await FhirFormats.ReadResourceAsync(ctx.Request, ctx.RequestAborted);
        var ifMatch = FhirHeaders.IfMatch(ctx.Request);
        var outcome = await InSessionAsync(ctx, store, s => writer.ConditionalUpdateAsync(s, resource, type, CriteriaOf(ctx), ifMatch, ctx.RequestAborted));
        await WriteOutcomeAsync(ctx, outcome, outcome.Status == 201 ? "Created" : "Updated");
    }

    /// <summary>One write in its own session: committed when it succeeds, rolled back when it throws.</summary>
    public static async Task<T> InSessionAsync<T>(HttpContext ctx, IResourceStore store, Func<IWriteSession, Task<T>> write)
    {
        await using var s = await store.BeginWriteAsync(ctx.RequestAborted);
        var result = await write(s);
        await s.CommitAsync(ctx.RequestAborted);
        return result;
    }

    /// <summary>The query string without the formatting parameters (those are not search criteria).</summary>
    public static IEnumerable<KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues>> CriteriaOf(HttpContext ctx) =>
        ctx.Request.Query.Where(kv => !FhirFormats.IsFormatting(kv.Key));

    /// <summary>
    /// What a DELETE answers: 200 with an OperationOutcome saying what was deleted (also when it already was). A batch
    /// entry's DELETE and the deletion's entry in history give the same status.
    /// </summary>
    public const int DeletedStatus = StatusCodes.Status200OK;

    private static async Task Delete(HttpContext ctx, string type, string id, IResourceStore store, ResourceWriter writer)
    {
        ResourceWriter.CheckType(type);
        var deleted = await InSessionAsync(ctx, store, async s =>
        {
            var current = await writer.CurrentAsync(s, type, id, WriteIntent.Delete, ctx.RequestAborted);
            if (current is null) throw FhirException.NotFound($"{type}/{id} is not known.");
            return await writer.DeleteAsync(s, current, ctx.RequestAborted);
        });
        if (deleted is not null) ctx.Response.Headers.ETag = FhirHeaders.ETag(deleted.Version);
        await WriteInfoAsync(ctx, DeletedStatus, deleted is null ? $"{type}/{id} was already deleted." : $"Deleted {type}/{id} (version {deleted.Version}).");
    }

    private static async Task ConditionalDelete(HttpContext ctx, string type, IResourceStore store, ResourceWriter writer)
    {
        ResourceWriter.CheckType(type);
        var count = await InSessionAsync(ctx, store, s => writer.ConditionalDeleteAsync(s, type, CriteriaOf(ctx), ctx.RequestAborted));
        if (count == 0)
        {
            ctx.Response.StatusCode = StatusCodes.Status204NoContent;
            return;
        }
        await WriteInfoAsync(ctx, 200, $"Deleted {count} {type}.");
    }

    private static Task WriteInfoAsync(HttpContext ctx, int status, string message) =>
        FhirFormats.WriteNodeAsync(ctx, status, OperationOutcomes.Create(IssueSeverity.Information, "informational", message));

    /// <summary>Location/ETag/Last-Modified, then the body the client asked for with Prefer: return=...</summary>
    public static async Task WriteOutcomeAsync(HttpContext ctx, WriteOutcome o, string message)
    {
        var s = o.Stored;
        FhirHeaders.SetVersionHeaders(ctx.Response, s);
        ctx.Response.Headers.Location = FhirHeaders.VersionUrl(ctx.Request, s);
        var warnings = WriteWarnings.Of(ctx, s);
        var preferred = FhirHeaders.Return(ctx.Request);
        if (preferred != PreferReturn.OperationOutcome && warnings.Count > 0)
            ctx.Response.Headers.Append("Warning", warnings.Select(WriteWarnings.Header).ToArray());
        switch (preferred)
        {
            case PreferReturn.Minimal:
                ctx.Response.StatusCode = o.Status;
                break;
            case PreferReturn.OperationOutcome:
                await FhirFormats.WriteNodeAsync(ctx, o.Status, OperationOutcomes.Create(
                    [new FhirIssue(IssueSeverity.Information, "informational", $"{message}: {s.ResourceType}/{s.Id} version {s.Version}."), .. warnings]));
                break;
            default:
                // The body as its writer is shown it: the access policies' masking and redaction, never their decisions.
                var shown = await ctx.RequestServices.GetRequiredService<ReadGuard>().ShowWrittenAsync(ctx, s);
                await FhirFormats.WriteJsonBytesAsync(ctx, o.Status, shown.Json!);
                break;
        }
    }
}

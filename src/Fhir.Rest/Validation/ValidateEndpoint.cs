using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Outcomes;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Resources;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Metadata;
using FhirArchive.Storage;

namespace FhirArchive.Rest.Validation;

/// <summary>
/// $validate at type and instance level: the resource in the body (or a Parameters with "resource", "mode",
/// "profile"), or the stored one for GET on an instance. Answers 200 with an OperationOutcome listing every issue.
/// </summary>
public static class ValidateEndpoint
{
    public static readonly FhirOperation Operation = FhirOperation.Core("Resource-validate");

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapOperation(Operation, OperationLevel.Type, (HttpContext ctx, string type, WriteValidator v, IResourceStore store, ReadGuard guard) =>
            RunAsync(ctx, type, null, v, store, guard)).WithTags("Validation").WithSummary("$validate a resource (profile, mode)");
        // A stored instance is read through the ReadGuard; a body alone reveals nothing.
        app.MapOperation(Operation, OperationLevel.Instance, (HttpContext ctx, string type, string id, WriteValidator v, IResourceStore store, ReadGuard guard) =>
            RunAsync(ctx, type, id, v, store, guard)).WithTags("Validation").WithSummary("$validate the stored instance, or a resource against it (mode update/delete)")
            .WithMetadata(new DecidesOwnVisibility());
    }

    private static async Task RunAsync(HttpContext ctx, string type, string? id, WriteValidator validator, IResourceStore store, ReadGuard guard)
    {
        ResourceWriter.CheckType(type);
        // The body is the resource to validate, or Parameters holding it (resource, mode, profile; the query's behind them).
        var body = OperationParameters.HasBody(ctx.Request) ? await FhirFormats.ReadResourceAsync(ctx.Request, ctx.RequestAborted) : null;
        var wrapped = body?.Type == "Parameters" && type != "Parameters";
        var parameters = OperationParameters.Of(wrapped ? body : null, ctx.Request.Query);
        var mode = parameters.Value("mode") ?? "";
        var profile = parameters.Value("profile") ?? "";
        ElementNode? resource = wrapped ? null : body;
        if (wrapped)
        {
            // re-rooted, so that issue locations read "Patient.name", not "Parameters.parameter[0].resource.name"
            if (parameters.Resource("resource") is { } r) resource = FhirFormats.ParseStored(Fhir.Serialization.Json.FhirJsonSerializer.SerializeToUtf8Bytes(r));
            // On an instance, Parameters without a resource validate the stored one (as a GET does).
            if (resource is null && mode != "delete" && id is null) throw FhirException.BadRequest("The Parameters hold no 'resource' to validate.");
        }
        if (mode is not ("" or "create" or "update" or "delete"))
            throw FhirException.BadRequest($"Unknown mode '{mode}': use create, update or delete.");

        var issues = new List<FhirIssue>();
        if (resource is null)
        {
            if (id is null) throw FhirException.BadRequest("$validate needs a resource in the body.");
            var stored = await ReadAsync(ctx, type, id, store, guard);
            if (mode != "delete") resource = FhirFormats.ParseStored(stored.Json!);
        }
        else if (resource.Type != type)
        {
            throw FhirException.BadRequest($"The resource is a {resource.Type} but the URL is for {type}.");
        }

        if (mode == "update")
        {
            var bodyId = resource?.Child("id")?.Value;
            if (bodyId is null) issues.Add(new FhirIssue(IssueSeverity.Error, "required", "An update needs the resource's id.", $"{type}.id"));
            else if (id is not null && bodyId != id) issues.Add(new FhirIssue(IssueSeverity.Error, "invalid", $"The id '{bodyId}' does not match the URL ('{id}').", $"{type}.id"));
        }
        if (mode == "delete")
        {
            if (id is null) throw FhirException.BadRequest("mode=delete needs an instance: POST [type]/[id]/$validate.");
            await ReadAsync(ctx, type, id, store, guard);
            issues.Add(new FhirIssue(IssueSeverity.Information, "informational", $"No rule forbids deleting {type}/{id}."));
        }
        if (resource is not null) issues.AddRange(validator.Validate(resource, profile.Length > 0 ? profile : null));
        await FhirFormats.WriteNodeAsync(ctx, 200, OperationOutcomes.Create(issues));
    }

    private static async Task<StoredResource> ReadAsync(HttpContext ctx, string type, string id, IResourceStore store, ReadGuard guard)
    {
        StoredResource? found = null;
        await guard.RunAsync(ctx, "validate", type, async access =>
        {
            var s = await store.ReadAsync(type, id, ctx.RequestAborted);
            if (s is null || s.IsDeleted || (s = await guard.ShowOrGoneAsync(access, s)) is null) throw FhirException.NotFound($"{type}/{id} is not known.");
            found = s;
            return 0;
        });
        return found!;
    }
}

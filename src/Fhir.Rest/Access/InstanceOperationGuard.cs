using FhirArchive.Fhir.Definitions;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;

namespace FhirArchive.Rest.Access;

/// <summary>
/// Marks an instance-level operation that decides for itself what a caller who may not see the resource learns
/// ($request-access and $break-glass exist for records the caller cannot see yet; $open-record for a guardian's ward).
/// </summary>
public sealed class DecidesOwnVisibility;

/// <summary>
/// Every instance-level operation ([type]/[id]/$op) on a resource the caller may not see answers exactly as on a
/// missing one — the same 404 and message — before the operation runs, so no operation's own checks (a 403 naming
/// the holder, a 409 about its state) can tell a hidden resource from a missing one. Operations marked
/// <see cref="DecidesOwnVisibility"/> are left to decide.
/// </summary>
public sealed class InstanceOperationGuard(RequestDelegate next, IResourceStore store, ReadGuard guard)
{
    public async Task InvokeAsync(HttpContext http)
    {
        if (RequestRoute.InteractionOf(http) is { Code: "operation", Type: { } type, Id: { } id } && FhirDefinitions.R4.IsResourceType(type)
            && http.GetEndpoint()?.Metadata.GetMetadata<DecidesOwnVisibility>() is null && http.GetCaller() is { } caller && !caller.HasRole(Roles.Server))
        {
            var current = await store.ReadAsync(type, id, http.RequestAborted);
            if (current is null || !await guard.MayKnowAsync(http, "operation", current))
                throw FhirException.NotFound($"{type}/{id} is not known.");
        }
        await next(http);
    }
}

using FhirArchive.Auth.Scopes;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;

namespace FhirArchive.Rest.Access;

/// <summary>
/// The first access policy, the token's reach, resource by resource: the scope
/// must allow the type (read, or search for searches and histories, includes too), patient/ scopes only show the
/// launch patient's compartment, granular scopes only what matches their query, and division-bound officers only
/// their division's residents. A type the token does not reach is a 403 on a direct read; a resource refused for its
/// content is hidden everywhere (a direct read answers 404, as for a missing one, so refusals reveal nothing).
/// </summary>
public sealed class ScopedAccessPolicy(PatientLinks links) : IAccessPolicy
{
    public ValueTask OnStartAsync(AccessContext context) => ValueTask.CompletedTask;
    public ValueTask OnEndAsync(AccessContext context) => ValueTask.CompletedTask;

    public async ValueTask<StoredResource?> ShowAsync(AccessContext context, StoredResource resource)
    {
        var caller = context.Http.GetCaller();
        if (caller.HasRole(Roles.Server)) return resource;
        var listing = context.Interaction.Contains("search") || context.Interaction.Contains("history");
        // Before a write over a stored version (ResourceWriter), the token's reach for that write decides.
        var permission = context.Interaction switch
        {
            "update" or "patch" => Permission.Update,
            "delete" => Permission.Delete,
            _ => listing ? Permission.Search : Permission.Read,
        };
        if (TypeRefusal(caller, resource.ResourceType, permission) is { } typeReason)
        {
            // Quiet decisions (totals, what a resource points at) never refuse the whole request.
            if (listing || context.Counting) return null;
            throw new FhirException(403, "forbidden", typeReason);
        }
        if (await RefusalAsync(context, caller, resource, permission) is not { } reason) return resource;
        if (!context.Counting) context.Http.Features.Get<IAccessRecorder>()?.Decided(resource, false, reason);
        return null;
    }

    /// <summary>Division-bound callers and patient/ or granular scopes may be refused resources of a type the token reaches.</summary>
    public bool MayHide(Caller caller, string? type)
    {
        if (caller.HasRole(Roles.Server)) return false;
        if (caller.Jurisdiction is not null && caller.Roles.Any(RolePolicy.BoundToDivision)) return true;
        var grants = InteractionAuthorizer.Grants(caller, type ?? "Resource", Permission.Search).ToList();
        return grants.Count == 0 || grants.Any(g => g.Context == "patient" || g.Query is not null);
    }

    private static string? TypeRefusal(Caller caller, string type, Permission permission)
    {
        if (!InteractionAuthorizer.Grants(caller, type, permission).Any()) return $"the token's scopes do not allow {permission.ToString().ToLowerInvariant()} of {type}.";
        if (!RolePolicy.Permits(caller.Roles, type, permission)) return $"the role {string.Join(", ", caller.Roles)} may not {permission.ToString().ToLowerInvariant()} {type}.";
        return null;
    }

    private async ValueTask<string?> RefusalAsync(AccessContext context, Caller caller, StoredResource resource, Permission permission)
    {
        var type = resource.ResourceType;
        var grants = InteractionAuthorizer.Grants(caller, type, permission).ToList();
        if (resource.Json is null)
            return grants.Any(g => g.Context != "patient" && g.Query is null) ? null : "deleted resources are not shown to patient-scoped tokens.";
        // Parsed only when a rule needs the content (patient/ or granular scopes, division-bound roles).
        var divisionBound = caller.Jurisdiction is not null && caller.Roles.Any(RolePolicy.BoundToDivision);
        var unconditional = grants.Any(g => g.Context != "patient" && g.Query is null);
        if (unconditional && !divisionBound) return null;
        var node = FhirFormats.ParseStored(resource.Json);
        var patient = caller.Patient?.Replace("Patient/", "");
        if (!unconditional && !grants.Any(g => (g.Context != "patient" || links.InCompartment(node, patient, FhirHeaders.BaseUrl(context.Http))) && (g.Query is null || links.Matches(node, g.Query))))
            return patient is null && grants.All(g => g.Context == "patient")
                ? "a patient/ scope needs a launch patient."
                : "outside the record(s) the token's scopes reach.";
        if (divisionBound && !await links.InDivisionAsync(node, caller.Jurisdiction!, FhirHeaders.BaseUrl(context.Http), context.Items, context.Http.RequestAborted))
            return $"outside the caller's division {caller.Jurisdiction}.";
        return null;
    }
}

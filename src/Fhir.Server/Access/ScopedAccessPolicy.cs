using FhirArchive.Auth.Scopes;
using FhirArchive.Server.Infrastructure;
using FhirArchive.Storage;

namespace FhirArchive.Server.Access;

/// <summary>
/// Decorates the configured <see cref="IAccessPolicy"/> with the token's reach, resource by resource: the scope
/// must allow the type (read, or search for searches and histories, includes too), patient/ scopes only show the
/// launch patient's compartment, granular scopes only what matches their query, and division-bound officers only
/// their division's residents. A direct read that is refused is a 403; in searches the resource is left out.
/// </summary>
public sealed class ScopedAccessPolicy(IAccessPolicy inner, PatientLinks links) : IAccessPolicy
{
    public ValueTask OnStartAsync(AccessContext context) => inner.OnStartAsync(context);
    public ValueTask OnEndAsync(AccessContext context) => inner.OnEndAsync(context);

    public async ValueTask<bool> CanShowAsync(AccessContext context, StoredResource resource)
    {
        var caller = context.Http.GetCaller();
        if (caller.HasRole(Roles.Server)) return await inner.CanShowAsync(context, resource);
        var listing = context.Interaction.Contains("search") || context.Interaction.Contains("history");
        var reason = await RefusalAsync(context, caller, resource, listing ? Permission.Search : Permission.Read);
        if (reason is null) return await inner.CanShowAsync(context, resource);
        if (listing) return false;
        throw new FhirException(403, "forbidden", $"{resource.ResourceType}/{resource.Id}: {reason}");
    }

    private async ValueTask<string?> RefusalAsync(AccessContext context, Caller caller, StoredResource resource, Permission permission)
    {
        var type = resource.ResourceType;
        var grants = InteractionAuthorizer.Grants(caller, type, permission).ToList();
        if (grants.Count == 0) return $"the token's scopes do not allow {permission.ToString().ToLowerInvariant()} of {type}.";
        if (!RolePolicy.Permits(caller.Roles, type, permission)) return $"the role {string.Join(", ", caller.Roles)} may not {permission.ToString().ToLowerInvariant()} {type}.";
        if (resource.Json is null)
            return grants.Any(g => g.Context != "patient" && g.Query is null) ? null : "deleted resources are not shown to patient-scoped tokens.";
        // Parsed only when a rule needs the content (patient/ or granular scopes, division-bound roles).
        var divisionBound = caller.Jurisdiction is not null && caller.Roles.Any(RolePolicy.BoundToDivision);
        var unconditional = grants.Any(g => g.Context != "patient" && g.Query is null);
        if (unconditional && !divisionBound) return null;
        var node = FhirFormats.ParseStored(resource.Json);
        var patient = caller.Patient?.Replace("Patient/", "");
        if (!unconditional && !grants.Any(g => (g.Context != "patient" || links.InCompartment(node, patient)) && (g.Query is null || links.Matches(node, g.Query))))
            return patient is null && grants.All(g => g.Context == "patient")
                ? "a patient/ scope needs a launch patient."
                : "outside the record(s) the token's scopes reach.";
        if (divisionBound && !await links.InDivisionAsync(node, caller.Jurisdiction!, context.Items, context.Http.RequestAborted))
            return $"outside the caller's division {caller.Jurisdiction}.";
        return null;
    }
}

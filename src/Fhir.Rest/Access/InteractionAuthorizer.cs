using FhirArchive.Auth.Scopes;
using FhirArchive.Rest.Infrastructure;

namespace FhirArchive.Rest.Access;

/// <summary>
/// The per-interaction decision: may this caller do this kind of thing to this resource type at all? Both the
/// token's scopes and the caller's roles must allow it; a refusal is a 403 with an OperationOutcome. What may be
/// shown resource by resource (compartment, granular scopes, jurisdiction) is <see cref="ScopedAccessPolicy"/>'s,
/// what may be written resource by resource is <see cref="ScopedWriteGuard"/>'s.
/// </summary>
public static class InteractionAuthorizer
{
    public static void Check(HttpContext http, FhirInteraction i)
    {
        if (i.IsBundle) return; // each entry is checked by the batch/transaction processing
        Check(http.GetCaller(), i.ResourceType, i.Permission);
    }

    /// <summary>A batch or transaction entry (method + url).</summary>
    public static void CheckEntry(HttpContext http, string method, string url, int index)
    {
        var i = FhirInteraction.Classify(method, url.Split('?')[0]);
        if (i is null) return; // the entry processing reports what it cannot do
        if (i.Value.IsBundle) throw new FhirException(403, "forbidden", $"entry[{index}]: nested batch or transaction is not allowed.");
        try { Check(http.GetCaller(), i.Value.ResourceType, i.Value.Permission); }
        catch (FhirException e) { throw new FhirException(e.Status, "forbidden", $"entry[{index}] ({method} {url}): {e.Message}"); }
    }

    public static void Check(Caller caller, string? type, Permission permission)
    {
        if (caller.HasRole(Roles.Server)) return;
        var what = $"{Describe(permission)} {type ?? "(all types)"}";
        var grants = Grants(caller, type, permission).ToList();
        if (grants.Count == 0)
            throw new FhirException(403, "forbidden", $"The token's scopes do not allow {what} (scopes: {string.Join(' ', caller.Scopes.Where(s => s.Contains('/')))}).");
        // patient/ scopes reach the launch patient's compartment only: what is shown is filtered by ScopedAccessPolicy,
        // what is written is checked resource by resource by ScopedWriteGuard; without a launch patient, nothing.
        if (permission is Permission.Create or Permission.Update or Permission.Delete && grants.All(g => g.Context == "patient") && caller.Patient is null)
            throw new FhirException(403, "forbidden", $"A patient/ scope needs a launch patient: {what} is not allowed without one.");
        if (!RolePolicy.Permits(caller.Roles, type, permission))
            throw new FhirException(403, "forbidden", $"The role {string.Join(", ", caller.Roles)} may not {what}.");
    }

    /// <summary>The caller's scopes that allow the permission on the type (null type: any type).</summary>
    public static IEnumerable<SmartScope> Grants(Caller caller, string? type, Permission permission) =>
        caller.Scopes.Select(SmartScope.Parse).OfType<SmartScope>()
            .Where(s => (type is null || s.AppliesTo(type)) && s.Permissions.HasFlag(permission));

    private static string Describe(Permission p) => p switch
    {
        Permission.Create => "create",
        Permission.Read => "read",
        Permission.Update => "update",
        Permission.Delete => "delete",
        Permission.Search => "search",
        _ => p.ToString(),
    };
}

using FhirArchive.Auth.Scopes;
using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Writing;

namespace FhirArchive.Rest.Access;

/// <summary>
/// The write side of the token's reach, on every write a client asks for (REST, each batch/transaction entry,
/// conditional, PATCH, DELETE): when no user/ or system/ scope allows the write outright, some scope must allow it
/// resource by resource: a patient/ scope only inside the launch patient's compartment, a granular scope only for a
/// resource matching its query. Both the stored version (what an update, patch or delete replaces) and the written
/// one (before and, as changed by the other interceptors, after the write) must qualify; else 403, rolled back.
/// The server's own writes, the companion writes of the record rules and the inner writes of operations (which
/// authorise their own) are not the token's to limit.
/// </summary>
public sealed class ScopedWriteGuard(PatientLinks links) : IWriteInterceptor
{
    public WriteStage Stage => WriteStage.Authorize;

    public ValueTask BeforeWriteAsync(WriteContext context)
    {
        if (Limits(context) is not { } limits) return ValueTask.CompletedTask;
        if (context.Current is { IsDeleted: false, Json: { } json })
            Check(context, limits, FhirFormats.ParseStored(json), "as stored");
        if (context.Resource is { } written) Check(context, limits, written, "as written");
        return ValueTask.CompletedTask;
    }

    public ValueTask AfterWriteAsync(WriteContext context)
    {
        if (context.Resource is { } written && Limits(context) is { } limits) Check(context, limits, written, "as written");
        return ValueTask.CompletedTask;
    }

    private sealed record Reach(Caller Caller, List<SmartScope> Grants);

    /// <summary>The scopes that allow this write only conditionally; null when the write is not limited by them.</summary>
    private static Reach? Limits(WriteContext context)
    {
        if (context.Http is not { } http || context.Parent is not null) return null;
        var caller = http.GetCaller();
        if (caller.HasRole(Roles.Server)) return null;
        // The permission as the request was classified (PUT is an update, even when it creates).
        var permission = context.Interaction switch
        {
            WriteInteraction.Create => Permission.Create,
            WriteInteraction.Delete => Permission.Delete,
            _ => Permission.Update,
        };
        var grants = InteractionAuthorizer.Grants(caller, context.ResourceType, permission).ToList();
        // No scope for the write at all: not a REST write (InteractionAuthorizer has refused those) but the inner write
        // of an operation, which authorises its own.
        if (grants.Count == 0 || grants.Any(g => g.Context != "patient" && g.Query is null)) return null;
        return new Reach(caller, grants);
    }

    private void Check(WriteContext context, Reach reach, ElementNode resource, string which)
    {
        var patient = reach.Caller.Patient?.Replace("Patient/", "");
        if (reach.Grants.Any(g => (g.Context != "patient" || InCompartment(context, resource, patient)) && (g.Query is null || links.Matches(resource, g.Query))))
            return;
        var what = $"{context.ResourceType}/{context.Id} ({which})";
        var reason = patient is null && reach.Grants.All(g => g.Context == "patient") ? "a patient/ scope needs a launch patient"
            : reach.Grants.All(g => g.Context == "patient") ? $"outside the launch patient's compartment (Patient/{patient})"
            : "outside what the token's scopes may write";
        throw new FhirException(403, "forbidden", $"{what}: {reason}.");
    }

    /// <summary>Strictly in the compartment: types outside the Patient compartment are no patient's data to write.</summary>
    private bool InCompartment(WriteContext context, ElementNode resource, string? patient)
    {
        if (patient is null) return false;
        // A new Patient's id is the server's to assign after the interceptors ran: the write's id is the one.
        if (context.ResourceType == "Patient") return context.Id == patient;
        // Every patient it names: a resource that also names another patient belongs to that record too.
        return links.PatientIds(resource, FhirHeaders.BaseUrl(context.Http)) is { Count: > 0 } ids && ids.All(id => id == patient);
    }
}

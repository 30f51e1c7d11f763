using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;

namespace FhirArchive.Rest.Bulk;

/// <summary>
/// Who may export what, and how the data is shaped on the way out: the domain's decision, plugged into the engine's
/// $export. The protocol (jobs, files, polling) is the engine's; every exported resource has passed the access
/// policies as a read of the requester's before the policy sees it.
/// </summary>
public interface IBulkExportPolicy
{
    /// <summary>
    /// At kick-off, as the requester: refuse (throw a <see cref="FhirException"/>, e.g. 403) or answer the export as it
    /// may run — its types narrowed, its period, a <see cref="BulkExportSpec.Profile"/> naming the transformation.
    /// </summary>
    ValueTask<BulkExportSpec> AuthorizeAsync(HttpContext http, BulkExportSpec requested);

    /// <summary>
    /// A resource the requester may see (as the access policies showed it), as it goes into the file: its bytes (one
    /// line of JSON), or null to leave it out. Called by the worker, for the job's requester and spec.
    /// </summary>
    ValueTask<byte[]?> TransformAsync(Caller requester, BulkExportSpec spec, StoredResource shown, CancellationToken ct) =>
        ValueTask.FromResult(shown.Json);
}

/// <summary>The engine's default: only the server itself and system clients export, as they may read; everyone else 403.</summary>
public sealed class SystemClientExportPolicy : IBulkExportPolicy
{
    public ValueTask<BulkExportSpec> AuthorizeAsync(HttpContext http, BulkExportSpec requested)
    {
        var caller = http.GetCaller();
        if (!caller.HasRole(Roles.Server) && !caller.HasRole(Roles.SystemClient))
            throw new FhirException(403, "forbidden", "Only system clients may export in bulk.");
        return ValueTask.FromResult(requested);
    }
}

/// <summary>
/// Where each batch of an export is recorded: a disclosure to the requester of these patients' data. The audit trail
/// implements it (the engine knows no module); without one, nothing is recorded.
/// </summary>
public interface IBulkExportAudit
{
    ValueTask ExportedAsync(Caller requester, string jobId, string type, int count, IReadOnlyCollection<string> patients);
}

internal sealed class NoBulkExportAudit : IBulkExportAudit
{
    public ValueTask ExportedAsync(Caller requester, string jobId, string type, int count, IReadOnlyCollection<string> patients) => ValueTask.CompletedTask;
}

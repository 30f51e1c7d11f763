using FhirArchive.Rest.Access;
using FhirArchive.Rest.Bulk;
using FhirArchive.Rest.Infrastructure;

namespace FhirArchive.Archive.Export;

/// <summary>
/// Identifiable bulk export is for the server itself, system clients (a hospital's, bound to its institution, and the
/// platform's own) and public-health officers within their division (公共卫生管理: the division bounds what they see,
/// so one without a division exports nothing); each sees in the files exactly what its reads would show. Researchers
/// receive de-identified data only, under an approved research application, never through this identifiable export;
/// everyone else is refused (403).
/// </summary>
public sealed class ExportPolicy : IBulkExportPolicy
{
    public ValueTask<BulkExportSpec> AuthorizeAsync(HttpContext http, BulkExportSpec requested)
    {
        var caller = http.GetCaller();
        if (caller.HasRole(Roles.Server) || caller.HasRole(Roles.SystemClient)) return ValueTask.FromResult(requested);
        if (caller.HasRole(Roles.PublicHealthOfficer))
            return caller.Jurisdiction is null
                ? throw Refused("a public-health officer exports within a division; the token names none.")
                : ValueTask.FromResult(requested);
        if (caller.HasRole(Roles.Researcher))
            throw Refused("researchers receive de-identified data only, under an approved research application; identifiable bulk export is not open to them.");
        throw Refused("bulk export is for system clients and public-health officers within their division.");
    }

    private static FhirException Refused(string why) => new(403, "forbidden", "Bulk export refused: " + why);
}

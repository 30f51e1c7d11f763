using FhirArchive.Rest.Bulk;

namespace FhirArchive.Archive.Export;

/// <summary>
/// Who may export in bulk (批量导出): the domain's answer to the engine's $export (<see cref="ExportPolicy"/>). The
/// protocol, the jobs and the files are the engine's; every exported resource passes the consent rules and the masking
/// as a read of the requester's would, and each batch is audited as a disclosure of its patients' data.
/// </summary>
public static class ExportModule
{
    public static IServiceCollection AddExport(this IServiceCollection services)
    {
        services.AddSingleton<IBulkExportPolicy, ExportPolicy>();
        return services;
    }
}

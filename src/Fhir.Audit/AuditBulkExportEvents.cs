using FhirArchive.Rest.Access;
using FhirArchive.Rest.Bulk;

namespace FhirArchive.Audit;

/// <summary>
/// Each batch an export writes as an audit event of its own: a disclosure to the requester — DICOM "Export" (data
/// leaving the server), subtype bulk-export, action R, the requester as the agent, every patient whose data the batch
/// holds as a patient entity (so <c>AuditEvent?patient=</c> and a resident's access log find it), the job as the
/// description.
/// </summary>
public sealed class AuditBulkExportEvents(AuditTrail trail, TimeProvider clock, IConfiguration configuration) : IBulkExportAudit
{
    public const string Subtypes = "http://fhirarchive.cn/fhir/CodeSystem/bulk-export-event";
    private static readonly Coding Export = new("http://dicom.nema.org/resources/ontology/DCM", "110106", "Export");
    private readonly bool _enabled = configuration.GetValue("Audit:Enabled", true);

    public ValueTask ExportedAsync(Caller requester, string jobId, string type, int count, IReadOnlyCollection<string> patients)
    {
        if (!_enabled) return ValueTask.CompletedTask;
        var description = $"bulk export {jobId}: {count} {type} resources written for the requester";
        return trail.RecordAsync(new AuditDraft(null, clock.GetUtcNow(), new Interaction("bulk-export", "R", type, null, null),
                200, requester, null, null, [], patients, description, Export, Subtypes),
            [.. patients.Select(p => ("patient", p))]);
    }
}

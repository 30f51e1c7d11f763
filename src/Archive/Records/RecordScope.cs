using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Validation;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;

namespace FhirArchive.Archive.Records;

/// <summary>
/// Which resources the record rules govern: record Patients (under the record profile) and the service records
/// (configured types) whose subject or patient is one. Everything else is plain FHIR.
/// </summary>
public sealed class RecordScope(RecordOptions options, ValidationOptions validation)
{
    private readonly HashSet<string> _serviceTypes = new(options.ServiceRecordTypes, StringComparer.Ordinal);

    public RecordOptions Options => options;

    public bool IsServiceRecordType(string type) => options.Enabled && _serviceTypes.Contains(type);

    /// <summary>A Patient claiming the record profile, or any Patient when the record profile is enforced for the type.</summary>
    public bool IsRecordPatient(ElementNode? resource) =>
        options.Enabled && resource?.Type == "Patient" &&
        (validation.RecordProfiles.GetValueOrDefault("Patient") == options.PatientProfile ||
         resource.Child("meta")?.ChildrenNamed("profile").Any(p => p.Value?.Split('|')[0] == options.PatientProfile) == true);

    /// <summary>The id of the Patient a service record belongs to (its subject or patient reference), or null.</summary>
    public string? SubjectId(ElementNode? resource)
    {
        if (resource is null) return null;
        var reference = (resource.Child("subject") ?? resource.Child("patient"))?.Child("reference")?.Value;
        if (reference is null) return null;
        var parts = reference.Split('/');
        return parts.Length >= 2 && parts[^2] == "Patient" ? parts[^1] : parts.Length >= 4 && parts[^4] == "Patient" ? parts[^3] : null;
    }

    /// <summary>The record Patient with this id as this session sees it; null when there is none or it is not a record.</summary>
    public async Task<ElementNode?> RecordPatientAsync(IWriteSession s, string? id, CancellationToken ct)
    {
        if (id is null) return null;
        var stored = await s.ReadAsync("Patient", id, ct);
        if (stored?.Json is not { } json) return null;
        var node = FhirFormats.ParseStored(json);
        return IsRecordPatient(node) ? node : null;
    }

    public static ElementNode? Parse(StoredResource? stored) => stored?.Json is { } json ? FhirFormats.ParseStored(json) : null;

    /// <summary>When the service was given: the first of the usual time elements (effective, occurrence, performed, period…), as written.</summary>
    public static string? ServiceTime(ElementNode resource)
    {
        foreach (var name in ServiceTimeElements)
        {
            if (resource.Child(name) is not { } e) continue;
            if (e.Type is "dateTime" or "instant" or "date" && e.Value is { } v) return v;
            if (e.Type == "Period" && e.Child("start")?.Value is { } start) return start;
        }
        return null;
    }

    private static readonly string[] ServiceTimeElements =
        ["effective", "occurrence", "performed", "period", "onset", "recordedDate", "authored", "authoredOn", "issued", "date", "created"];
}

using FhirArchive.Fhir.Model;

namespace FhirArchive.Archive.Records;

/// <summary>
/// The record's status (health-record-status code system) in the profile's cn-record-status extension, searched with
/// the package's record-status parameter (Patient?record-status=inactive-lost), mirrored in meta.tag (_tag) and in
/// Patient.active: only an active record is in active management, so sealed ones leave every count of active records.
/// </summary>
public static class RecordStatus
{
    public const string Extension = "http://fhirarchive.cn/fhir/StructureDefinition/cn-record-status";
    public const string System = "http://fhirarchive.cn/fhir/CodeSystem/health-record-status";
    public const string Active = "active";
    public const string Lost = "inactive-lost";
    public const string Deceased = "inactive-death";
    public const string MovedOut = "inactive-moved";
    public const string Merged = "merged";

    public static readonly IReadOnlyList<string> CloseReasons = [Lost, Deceased, MovedOut];

    public static string? Get(ElementNode patient) =>
        patient.ChildrenNamed("extension").FirstOrDefault(e => e.Child("url")?.Value == Extension)
            ?.Child("value")?.Child("code")?.Value;

    public static bool IsSealed(string? status) => status is not null and not Active;

    public static void Set(ElementNode patient, string code)
    {
        foreach (var e in patient.ChildrenNamed("extension").Where(e => e.Child("url")?.Value == Extension).ToList()) patient.Remove(e);
        var ext = patient.Add("extension");
        ext.Add("url", Extension);
        var coding = ext.Add("value", type: "Coding");
        coding.Add("system", System);
        coding.Add("code", code);
        patient.RemoveAll("active");
        patient.Add("active", code == Active ? "true" : "false");
        var meta = patient.Child("meta") ?? patient.Add("meta");
        foreach (var t in meta.ChildrenNamed("tag").Where(t => t.Child("system")?.Value == System).ToList()) meta.Remove(t);
        var tag = meta.Add("tag");
        tag.Add("system", System);
        tag.Add("code", code);
    }
}

using System.Globalization;
using FhirArchive.Archive.Records;
using FhirArchive.Fhir.Model;
using FhirArchive.Terminology.Sources;

namespace FhirArchive.Archive.OffSite;

/// <summary>The vocabulary of the off-site service: its purpose of use, the push Communication's category, the kinds of free service.</summary>
public static class OffSiteTerms
{
    /// <summary>Local purpose of use of the off-site view (HL7 v3 ActReason has none); the audit writes it as system|code.</summary>
    public const string PurposeSystem = CnTerminology.PurposeOfUse;
    public const string Purpose = "offsite-service";
    public const string PurposeOfUse = PurposeSystem + "|" + Purpose;

    /// <summary>Communication.category of a push to the holder: record-task-type#off-site-service (异地服务回传).</summary>
    public const string CategorySystem = CnTerminology.RecordTaskType;
    public const string Category = "off-site-service";

    /// <summary>Encounter.type codes of the basic public-health services.</summary>
    public const string ServiceSystem = CnTerminology.PublicHealthService;

    public static bool IsPush(ElementNode? communication) =>
        communication?.Type == "Communication" && communication.ChildrenNamed("category").SelectMany(c => c.ChildrenNamed("coding"))
            .Any(c => c.Child("system")?.Value == CategorySystem && c.Child("code")?.Value == Category);

    /// <summary>The public-health-service codes of an Encounter's type.</summary>
    public static IEnumerable<string> ServiceCodes(ElementNode encounter) =>
        encounter.ChildrenNamed("type").SelectMany(t => t.ChildrenNamed("coding"))
            .Where(c => c.Child("system")?.Value == ServiceSystem).Select(c => c.Child("code")?.Value).OfType<string>();

    /// <summary>The calendar year in China of a service time (a FHIR date or dateTime), or null.</summary>
    public static int? Year(string? time)
    {
        if (time is null || time.Length < 4) return null;
        if (time.Length > 10 && DateTimeOffset.TryParse(time, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t))
            return Consent.ConsentDecision.ChinaDate(t).Year;
        return int.TryParse(time[..4], NumberStyles.None, CultureInfo.InvariantCulture, out var y) ? y : null;
    }

    /// <summary>The year in China of a service record's time (<see cref="RecordScope.ServiceTime"/>).</summary>
    public static int? ServiceYear(ElementNode resource) => Year(RecordScope.ServiceTime(resource));
}

using System.Globalization;
using FhirArchive.Archive.Records;
using FhirArchive.Fhir.Model;
using FhirArchive.Terminology.Sources;

namespace FhirArchive.Archive.Transfer;

/// <summary>The vocabulary of a transfer Task and the few facts read from it (all codes live in the Terminology project).</summary>
public static class TransferTerms
{
    public const string Code = "transfer";
    public const string ReasonSystem = CnTerminology.TransferReason;
    public const string ConfirmationSystem = CnTerminology.ConfirmationMethod;
    public const string BusinessStatusSystem = CnTerminology.RecordTaskBusinessStatus;
    public const string Escalated = "escalated";
    /// <summary>Task.input / output type texts.</summary>
    public const string ConfirmationInput = "confirmation";
    public const string ConfirmedByInput = "confirmed-by";
    /// <summary>resident-confirmation-method 3, SMS or telephone: the one a one-time code can prove.</summary>
    public const string SmsConfirmation = "3";
    public const string ProtectionEndOutput = "protection-end";
    public const string RecordOutput = "record";
    /// <summary>Holds one open transfer per record (UNIQUE key = the Patient id, owner = the Task): concurrent requests cannot both win.</summary>
    public const string OpenScope = "transfer-open";

    /// <summary>The token that finds transfer Tasks (Task?code=…).</summary>
    public static readonly string CodeToken = $"{TaskDecisions.TaskTypeSystem}|{Code}";

    public static bool IsTransfer(ElementNode? task) => task?.Type == "Task" && TaskDecisions.CodeOf(task) == Code;

    public static string? Ref(ElementNode task, string element) => task.Child(element)?.Child("reference")?.Value;

    public static string? PatientId(ElementNode task) => Ref(task, "for") is { } r && r.StartsWith("Patient/", StringComparison.Ordinal) ? r["Patient/".Length..] : null;

    public static bool IsEscalated(ElementNode task) =>
        task.Child("businessStatus")?.ChildrenNamed("coding").Any(c => c.Child("system")?.Value == BusinessStatusSystem && c.Child("code")?.Value == Escalated) == true;


    public static string Date(DateOnly d) => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    /// <summary>The date (yyyy-MM-dd) an output of the given type text holds, or null.</summary>
    public static DateOnly? OutputDate(ElementNode task, string type) =>
        task.ChildrenNamed("output").Where(o => o.Child("type")?.Child("text")?.Value == type).Select(o => o.Child("value")?.Value)
            .Select(v => DateOnly.TryParseExact(v, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d) ? d : (DateOnly?)null)
            .FirstOrDefault(d => d is not null);
}

namespace FhirArchive.Fhir.Outcomes;

public enum IssueSeverity
{
    Fatal,
    Error,
    Warning,
    Information,
}

/// <summary>
/// One problem found in an instance or a request: becomes an OperationOutcome.issue.
/// <paramref name="Code"/> is an IssueType code ("structure", "value", "invalid", "too-costly"...);
/// <paramref name="Location"/> is a FHIRPath expression ("Patient.name[0].given[1]").
/// </summary>
public sealed record FhirIssue(IssueSeverity Severity, string Code, string Message, string? Location = null)
{
    public bool IsError => Severity is IssueSeverity.Error or IssueSeverity.Fatal;

    public static string SeverityCode(IssueSeverity s) => s switch
    {
        IssueSeverity.Fatal => "fatal",
        IssueSeverity.Error => "error",
        IssueSeverity.Warning => "warning",
        _ => "information",
    };

    public override string ToString() =>
        $"{SeverityCode(Severity)} [{Code}] {(Location is null ? "" : Location + ": ")}{Message}";
}

using FhirArchive.Fhir.Outcomes;

namespace FhirArchive.Rest.Infrastructure;

/// <summary>A request that ends with an HTTP status and an OperationOutcome.</summary>
public sealed class FhirException(int status, IReadOnlyList<FhirIssue> issues) : Exception(issues.FirstOrDefault()?.Message)
{
    public int Status { get; } = status;
    public IReadOnlyList<FhirIssue> Issues { get; } = issues;

    public FhirException(int status, string code, string message)
        : this(status, [new FhirIssue(IssueSeverity.Error, code, message)]) { }

    public static FhirException BadRequest(string message) => new(400, "invalid", message);
    public static FhirException NotFound(string message) => new(404, "not-found", message);
    public static FhirException Gone(string message) => new(410, "deleted", message);
    public static FhirException Conflict(string message) => new(409, "conflict", message);
    public static FhirException PreconditionFailed(string message) => new(412, "conflict", message);
    public static FhirException Unprocessable(string message) => new(422, "processing", message);
}

using FhirArchive.Fhir.Outcomes;
using Microsoft.AspNetCore.Diagnostics;

namespace FhirArchive.Server.Infrastructure;

/// <summary>
/// Every failure leaves as an OperationOutcome: <see cref="FhirException"/> with its status, anything unexpected
/// as a 500 outcome (logged) — never an HTML or empty error page.
/// </summary>
public sealed class FhirExceptionHandler(ILogger<FhirExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext ctx, Exception exception, CancellationToken ct)
    {
        var (status, issues) = exception switch
        {
            FhirException fe => (fe.Status, fe.Issues),
            BadHttpRequestException bad => (bad.StatusCode, (IReadOnlyList<FhirIssue>)[new FhirIssue(IssueSeverity.Error, bad.StatusCode == 413 ? "too-costly" : "invalid", bad.Message)]),
            // Only another server process writing the same resource at the same moment can hit the unique version index.
            Microsoft.EntityFrameworkCore.DbUpdateException => (409, [new FhirIssue(IssueSeverity.Error, "conflict", "A concurrent write to the same resource won; retry the request.")]),
            OperationCanceledException when ctx.RequestAborted.IsCancellationRequested => (499, []),
            _ => (500, [new FhirIssue(IssueSeverity.Error, "exception", "An unexpected error occurred; it has been logged.")]),
        };
        if (status == 500) logger.LogError(exception, "Unhandled error on {Method} {Path}", ctx.Request.Method, ctx.Request.Path);
        if (status == 499 || ctx.Response.HasStarted) return true;
        ctx.Response.Clear();
        await FhirFormats.WriteNodeAsync(ctx, status, OperationOutcomes.Create(issues));
        return true;
    }
}

using FhirArchive.Fhir.Outcomes;
using Microsoft.AspNetCore.Diagnostics;

namespace FhirArchive.Rest.Infrastructure;

/// <summary>
/// Every failure leaves as an OperationOutcome: <see cref="FhirException"/> with its status, anything unexpected
/// as a 500 outcome carrying a correlation id that the logged error carries too — never an HTML or empty error page.
/// The handler itself never throws: when no outcome can be written (the answer has started, or writing fails) the
/// connection is aborted, so the client does not take a cut-off answer for a whole one.
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
            _ => (500, [Unexpected(ctx)]),
        };
        if (status == 500)
            logger.LogError(exception, "Unhandled error {CorrelationId} on {Method} {Path}", ctx.TraceIdentifier, ctx.Request.Method, ctx.Request.Path);
        if (status == 499) return true;
        if (ctx.Response.HasStarted)
        {
            ctx.Abort();
            return true;
        }
        try
        {
            ctx.Response.Clear();
            await FhirFormats.WriteNodeAsync(ctx, status, OperationOutcomes.Create(issues));
        }
        catch (Exception e)
        {
            logger.LogError(e, "The OperationOutcome of {CorrelationId} ({Status}) could not be written", ctx.TraceIdentifier, status);
            ctx.Abort();
        }
        return true;
    }

    /// <summary>The 500 outcome: the correlation id (the request's trace identifier) finds the logged error.</summary>
    public static FhirIssue Unexpected(HttpContext ctx) =>
        new(IssueSeverity.Error, "exception", $"An unexpected error occurred; it has been logged with correlation id {ctx.TraceIdentifier}.");
}

/// <summary>
/// The fallback for answers that carry an error status but no body (routing's 404 and 405, the web layer's 413, 415,
/// 406, a middleware that only set a status): they get the OperationOutcome every other error has. Answers that have
/// a body or a content type, and every status below 400 (304, 204), are left as they are.
/// </summary>
public static class OutcomeStatusPages
{
    public static async Task WriteAsync(StatusCodeContext c)
    {
        var ctx = c.HttpContext;
        var status = ctx.Response.StatusCode;
        if (status < 400 || ctx.Response.HasStarted || ctx.Response.ContentLength > 0) return;
        var (code, message) = status switch
        {
            401 => ("login", "Authentication is required."),
            403 => ("forbidden", "The request is not allowed."),
            404 => ("not-found", $"No FHIR interaction at {ctx.Request.Method} {ctx.Request.Path}."),
            405 => ("not-supported", $"{ctx.Request.Method} is not allowed on {ctx.Request.Path}."),
            406 => ("not-supported", "None of the accepted media types can be produced: use application/fhir+json or application/fhir+xml."),
            413 => ("too-costly", "The request body is too large."),
            414 => ("too-costly", "The request URL is too long."),
            415 => ("not-supported", $"Unsupported Content-Type '{ctx.Request.ContentType}': use {FhirFormats.JsonType} or {FhirFormats.XmlType}."),
            429 => ("throttled", "Too many requests; try again later."),
            431 => ("too-costly", "The request headers are too large."),
            >= 500 => ("exception", FhirExceptionHandler.Unexpected(ctx).Message),
            _ => ("processing", $"HTTP {status}."),
        };
        try
        {
            await FhirFormats.WriteNodeAsync(ctx, status, OperationOutcomes.Create(IssueSeverity.Error, code, message));
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or InvalidOperationException)
        {
            ctx.Abort(); // the client is gone or the answer cannot be completed: nothing else to say
        }
    }
}

using Microsoft.AspNetCore.Http.Features;

namespace FhirArchive.Rest.Infrastructure;

/// <summary>Limits on a request's URL and headers (section "Limits").</summary>
public sealed class HttpLimits
{
    /// <summary>The longest URL (path and query) accepted; longer gets 414.</summary>
    public int MaxUrlBytes { get; set; } = 8 * 1024;

    /// <summary>The most header bytes (names and values) accepted; more gets 431.</summary>
    public int MaxHeaderBytes { get; set; } = 32 * 1024;

    /// <summary>The most header fields accepted; more gets 431.</summary>
    public int MaxHeaderCount { get; set; } = 100;

    /// <summary>
    /// Kestrel answers requests past its own limits before any middleware runs, with an empty body. Its limits are
    /// set well above ours (up to its request buffer), so that the usual oversized requests reach
    /// <see cref="RequestGuard.CheckSize"/> and get an OperationOutcome.
    /// </summary>
    public void ApplyTo(Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerLimits k)
    {
        const int webLayer = 1024 * 1024;
        k.MaxRequestLineSize = Math.Max(webLayer, MaxUrlBytes * 2);
        k.MaxRequestHeadersTotalSize = Math.Max(webLayer, MaxHeaderBytes * 2);
        k.MaxRequestHeaderCount = Math.Max(1000, MaxHeaderCount * 2);
        k.MaxRequestBufferSize = Math.Max(k.MaxRequestBufferSize ?? 0, Math.Max(k.MaxRequestLineSize, k.MaxRequestHeadersTotalSize));
    }
}

/// <summary>Refuses oversized requests and unreadable forms with an OperationOutcome, before any endpoint sees them.</summary>
public static class RequestGuard
{
    /// <summary>414 for a URL, 431 for headers past <see cref="HttpLimits"/> (first in the pipeline: nothing is done for them).</summary>
    public static void CheckSize(HttpRequest request, HttpLimits limits)
    {
        var url = request.Path.Value?.Length + request.QueryString.Value?.Length ?? 0;
        if (url > limits.MaxUrlBytes)
            throw new FhirException(414, "too-costly", $"The URL has {url:N0} characters; at most {limits.MaxUrlBytes:N0} are accepted (put search parameters in a POST _search form).");
        var count = 0;
        long bytes = 0;
        foreach (var (name, values) in request.Headers)
        {
            foreach (var v in values)
            {
                count++;
                bytes += name.Length + (v?.Length ?? 0) + 4; // "name: value\r\n"
            }
        }
        if (count > limits.MaxHeaderCount)
            throw new FhirException(431, "too-costly", $"The request has {count} header fields; at most {limits.MaxHeaderCount} are accepted.");
        if (bytes > limits.MaxHeaderBytes)
            throw new FhirException(431, "too-costly", $"The request headers have {bytes:N0} bytes; at most {limits.MaxHeaderBytes:N0} are accepted.");
    }

    /// <summary>
    /// Reads a form body once, up front, so that every later reader (POST _search, the audit's query record) gets the
    /// parsed form and none throws: an unreadable form (no multipart boundary, a cut-off body, a key or value count
    /// past the form limits) is a 400, and the request then holds an empty form. A POST _search without a form body
    /// gets an empty form; with another body, 415.
    /// </summary>
    public static async Task ReadFormAsync(HttpContext ctx)
    {
        var request = ctx.Request;
        if (!request.HasFormContentType)
        {
            if (!HttpMethods.IsPost(request.Method) || !(request.Path.Value?.EndsWith("/_search", StringComparison.Ordinal) ?? false)) return;
            if (request.ContentLength > 0 || request.Headers.TransferEncoding.Count > 0)
                throw new FhirException(415, "not-supported", "POST _search takes application/x-www-form-urlencoded parameters.");
            ctx.Features.Set<IFormFeature>(new FormFeature(FormCollection.Empty));
            return;
        }
        try
        {
            await request.ReadFormAsync(ctx.RequestAborted);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or InvalidOperationException or BadHttpRequestException && !ctx.RequestAborted.IsCancellationRequested)
        {
            ctx.Features.Set<IFormFeature>(new FormFeature(FormCollection.Empty));
            if (e is BadHttpRequestException { StatusCode: 413 }) throw new FhirException(413, "too-costly", $"The form is too large: {e.Message}");
            throw FhirException.BadRequest($"The form body could not be read: {e.Message}");
        }
    }
}

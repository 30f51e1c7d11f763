using System.Text;
using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Serialization;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Fhir.Serialization.Xml;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace FhirArchive.Rest.Infrastructure;

public enum FhirFormat { Json, Xml }

/// <summary>Content negotiation (_format, Accept, Content-Type), request parsing and response writing.</summary>
public static class FhirFormats
{
    public const string JsonType = "application/fhir+json";
    public const string XmlType = "application/fhir+xml";
    public const long MaxBodyBytes = 16 * 1024 * 1024;

    /// <summary>
    /// Request bodies nest at most 64 levels (JSON objects and arrays; an XML element counts twice): stored resources
    /// are read back with System.Text.Json's default depth of 64 (the audit's patient references), and the deepest
    /// official example has 22.
    /// </summary>
    public const int MaxDepth = 64;

    private static readonly ParserOptions Strict = ParserOptions.Strict with { MaxBytes = MaxBodyBytes, MaxDepth = MaxDepth };

    /// <summary>The response format: _format wins over Accept; JSON when neither says.</summary>
    public static FhirFormat ResponseFormat(HttpContext ctx)
    {
        if (ctx.Request.Query.TryGetValue("_format", out var f) && !StringValues.IsNullOrEmpty(f))
            return FromMime(f.ToString()) ?? throw new FhirException(406, "not-supported", $"Unsupported _format '{f}'.");
        var accept = ctx.Request.Headers.Accept.ToString();
        if (string.IsNullOrWhiteSpace(accept)) return FhirFormat.Json;
        foreach (var part in accept.Split(','))
            if (FromMime(part.Split(';')[0].Trim()) is { } fmt) return fmt;
        return FhirFormat.Json; // */* and unknown types get JSON rather than a 406
    }

    private static FhirFormat? FromMime(string mime) => mime.Trim().ToLowerInvariant() switch
    {
        "json" or "application/json" or JsonType or "application/json+fhir" or "*/*" or "application/*" => FhirFormat.Json,
        "xml" or "text/xml" or "application/xml" or XmlType or "application/xml+fhir" => FhirFormat.Xml,
        _ => null,
    };

    public static bool Pretty(HttpContext ctx) => ctx.Request.Query["_pretty"].ToString() == "true";

    /// <summary>Reads and parses the request body as a resource; 413 above the limit, 415 for other media types, 400 when malformed.</summary>
    public static async Task<ElementNode> ReadResourceAsync(HttpRequest request, CancellationToken ct, long maxBytes = MaxBodyBytes)
    {
        var contentType = request.ContentType;
        FhirFormat format;
        if (string.IsNullOrEmpty(contentType)) format = FhirFormat.Json;
        else
        {
            var mime = MediaTypeHeaderValue.TryParse(contentType, out var mt) ? mt.MediaType.ToString() : contentType;
            format = FromMime(mime) is { } fm && mime != "*/*" ? fm
                : throw new FhirException(415, "not-supported", $"Unsupported Content-Type '{contentType}': use {JsonType} or {XmlType}.");
        }
        return Parse((await ReadBodyAsync(request, ct, maxBytes)).Span, format, maxBytes);
    }

    /// <summary>The request body's bytes, whatever the media type; 413 above the limit, 400 when empty.</summary>
    public static async Task<ReadOnlyMemory<byte>> ReadBodyAsync(HttpRequest request, CancellationToken ct, long maxBytes = MaxBodyBytes)
    {
        if (request.ContentLength > maxBytes) throw TooLarge(maxBytes);
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > maxBytes) throw TooLarge(maxBytes);
            buffer.Write(chunk, 0, read);
        }
        if (buffer.Length == 0) throw FhirException.BadRequest("The request has no body.");
        return buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
    }

    /// <summary>The FHIR format a media type names (JSON or XML), or null for any other type.</summary>
    public static FhirFormat? FormatOfMediaType(string mime) => mime == "*/*" ? null : FromMime(mime);

    public static ElementNode Parse(ReadOnlySpan<byte> body, FhirFormat format, long maxBytes = MaxBodyBytes)
    {
        ParseResult result;
        var options = maxBytes == MaxBodyBytes ? Strict : Strict with { MaxBytes = maxBytes };
        try
        {
            result = format == FhirFormat.Json ? new FhirJsonParser(options).Parse(body) : new FhirXmlParser(options).Parse(body);
        }
        catch (Exception e) when (e is not FhirException)
        {
            throw FhirException.BadRequest($"The body could not be parsed: {e.Message}");
        }
        if (!result.Success)
        {
            // Unreadable input (bad syntax, not a resource) is 400; a readable resource that breaks FHIR's rules
            // (unknown elements, invalid primitive values) is 422.
            var unreadable = result.Resource is null || result.Issues.Any(i => i.Severity == Fhir.Outcomes.IssueSeverity.Fatal);
            throw new FhirException(unreadable ? 400 : 422, result.Issues.Where(i => i.IsError).ToList());
        }
        return result.Resource!;
    }

    private static FhirException TooLarge(long maxBytes) => new(413, "too-costly", $"The body exceeds {maxBytes:N0} bytes ({maxBytes / 1024.0 / 1024:0.#} MB), the most accepted.");

    /// <summary>Parses stored JSON (trusted, written by this server): lenient so nothing stored is ever unreadable.</summary>
    public static ElementNode ParseStored(byte[] json) => new FhirJsonParser(ParserOptions.Lenient).Parse(json).Resource
        ?? throw new InvalidOperationException("Stored resource could not be parsed.");

    /// <summary>Writes a resource given as JSON bytes: served as they are when JSON and not pretty, re-serialised otherwise.</summary>
    public static async Task WriteJsonBytesAsync(HttpContext ctx, int status, byte[] json, Func<ElementNode, ElementNode>? transform = null)
    {
        var format = ResponseFormat(ctx);
        var pretty = Pretty(ctx);
        ctx.Response.StatusCode = status;
        if (format == FhirFormat.Json && !pretty && transform is null)
        {
            ctx.Response.ContentType = JsonType + "; charset=utf-8";
            ctx.Response.ContentLength = json.Length;
            await ctx.Response.Body.WriteAsync(json, ctx.RequestAborted);
            return;
        }
        var node = ParseStored(json);
        if (transform is not null) node = transform(node);
        await WriteNodeAsync(ctx, status, node, format, pretty);
    }

    public static Task WriteNodeAsync(HttpContext ctx, int status, ElementNode node) =>
        WriteNodeAsync(ctx, status, node, SafeResponseFormat(ctx), Pretty(ctx));

    private static async Task WriteNodeAsync(HttpContext ctx, int status, ElementNode node, FhirFormat format, bool pretty)
    {
        ctx.Response.StatusCode = status;
        byte[] bytes;
        if (format == FhirFormat.Xml)
        {
            ctx.Response.ContentType = XmlType + "; charset=utf-8";
            bytes = FhirXmlSerializer.SerializeToUtf8Bytes(node, pretty);
        }
        else
        {
            ctx.Response.ContentType = JsonType + "; charset=utf-8";
            bytes = FhirJsonSerializer.SerializeToUtf8Bytes(node, pretty);
        }
        ctx.Response.ContentLength = bytes.Length;
        await ctx.Response.Body.WriteAsync(bytes, ctx.RequestAborted);
    }

    /// <summary>For error responses: a bad _format must not stop the OperationOutcome from being written.</summary>
    public static FhirFormat SafeResponseFormat(HttpContext ctx)
    {
        try { return ResponseFormat(ctx); }
        catch (FhirException) { return FhirFormat.Json; }
    }

    public static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);
}

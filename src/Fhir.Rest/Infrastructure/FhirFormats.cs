using System.Globalization;
using System.Text;
using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Serialization;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Fhir.Serialization.Xml;
using Microsoft.Extensions.Primitives;

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

    /// <summary>
    /// The response format: _format wins over Accept; JSON when neither says. Accept's media ranges are tried by
    /// quality: 406 when the header names only types the server cannot produce (text/csv) or another FHIR version
    /// (fhirVersion=3.0); a browser's text/html,...,*/* still gets an answer. A repeated _format (as clients send when
    /// they follow a link that carries one) is fine when its values agree.
    /// </summary>
    public static FhirFormat ResponseFormat(HttpContext ctx)
    {
        if (ctx.Request.Query.TryGetValue("_format", out var f) && !StringValues.IsNullOrEmpty(f))
        {
            var asked = f.Select(v => FromMediaRange(v ?? "") ?? throw new FhirException(406, "not-supported", $"Unsupported _format '{v}': use json, xml, {JsonType} or {XmlType} (FHIR 4.0).")).Distinct().ToList();
            return asked.Count == 1 ? asked[0] : throw FhirException.BadRequest($"_format is given more than once with different formats ({f}).");
        }
        var accept = ctx.Request.Headers.Accept;
        if (StringValues.IsNullOrEmpty(accept) || string.IsNullOrWhiteSpace(accept.ToString())) return FhirFormat.Json;
        var ranges = accept.SelectMany(h => (h ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Select(r => (Range: r, Quality: Quality(r))).Where(r => r.Quality > 0).OrderByDescending(r => r.Quality); // stable: ties keep the header's order
        foreach (var (range, _) in ranges)
            if (FromMediaRange(range) is { } format) return format;
        throw new FhirException(406, "not-supported", $"None of the accepted media types ({accept}) can be produced: use {JsonType} or {XmlType} (FHIR 4.0).");
    }

    /// <summary>
    /// R4 http.html#binary: a read of a Binary whose Accept names no FHIR format (text/plain, application/pdf, */*)
    /// answers the content itself, in its contentType; _format, no Accept, or a JSON/XML/FHIR type get the Binary resource.
    /// </summary>
    public static bool WantsNativeBinary(HttpContext ctx)
    {
        if (ctx.GetEndpoint()?.Metadata.GetMetadata<Access.InteractionKind>() is not { Code: "read" or "vread" }) return false;
        if (ctx.Request.RouteValues["type"] as string != "Binary" || ctx.Request.Query.ContainsKey("_format")) return false;
        var accept = ctx.Request.Headers.Accept.ToString();
        if (string.IsNullOrWhiteSpace(accept)) return false;
        return !accept.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(r => Quality(r) > 0)
            .Any(r => r.Split(';')[0].Trim() is var mime && mime is not ("*/*" or "application/*") && FromMime(mime) is not null);
    }

    /// <summary>The format a media range (or _format value) asks for, with its parameters; null when the server cannot produce it.</summary>
    private static FhirFormat? FromMediaRange(string range)
    {
        var parts = range.Split(';', StringSplitOptions.TrimEntries);
        return parts.Skip(1).All(IsOurFhirVersion) ? FromMime(parts[0]) : null;
    }

    /// <summary>
    /// A media type parameter other than fhirVersion is ignored; fhirVersion must name R4 (http.html: "4.0"; 4.0.1
    /// is taken too).
    /// </summary>
    private static bool IsOurFhirVersion(string parameter)
    {
        var kv = parameter.Split('=', 2, StringSplitOptions.TrimEntries);
        if (!kv[0].Equals("fhirVersion", StringComparison.OrdinalIgnoreCase)) return true;
        var version = kv.Length > 1 ? kv[1].Trim('"') : "";
        return version is "4.0" or "4.0.1";
    }

    /// <summary>A media range's q (RFC 9110 12.4.2): 1 when absent or unreadable; 0 means "not this one".</summary>
    private static double Quality(string range)
    {
        foreach (var p in range.Split(';', StringSplitOptions.TrimEntries).Skip(1))
            if (p.StartsWith("q=", StringComparison.OrdinalIgnoreCase))
                return double.TryParse(p[2..], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var q) ? q : 1;
        return 1;
    }

    private static FhirFormat? FromMime(string mime) => mime.Trim().ToLowerInvariant() switch
    {
        "json" or "application/json" or JsonType or "application/json+fhir" or "*/*" or "application/*" => FhirFormat.Json,
        "xml" or "text/xml" or "application/xml" or XmlType or "application/xml+fhir" => FhirFormat.Xml,
        _ => null,
    };

    /// <summary>The parameters that shape the answer's format, not what it holds (never search criteria).</summary>
    public static bool IsFormatting(string parameter) => parameter is "_format" or "_pretty";

    public static bool Pretty(HttpContext ctx) => ctx.Request.Query["_pretty"].ToString() == "true";

    /// <summary>Reads and parses the request body as a resource; 413 above the limit, 415 for other media types, 400 when malformed.</summary>
    public static async Task<ElementNode> ReadResourceAsync(HttpRequest request, CancellationToken ct, long maxBytes = MaxBodyBytes)
    {
        var contentType = request.ContentType;
        var format = string.IsNullOrEmpty(contentType) ? FhirFormat.Json
            : FormatOfContentType(contentType) ?? throw new FhirException(415, "not-supported", $"Unsupported Content-Type '{contentType}': use {JsonType} or {XmlType} (FHIR 4.0).");
        return Parse((await ReadBodyAsync(request, ct, maxBytes)).Span, format, maxBytes);
    }

    /// <summary>The FHIR format a request's Content-Type names (JSON or XML, fhirVersion 4.0 when given), or null for any other.</summary>
    public static FhirFormat? FormatOfContentType(string contentType)
    {
        var mime = contentType.Split(';')[0].Trim();
        return mime is "*/*" or "application/*" ? null : FromMediaRange(contentType);
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
        // Whatever the parser refuses cannot be parsed as FHIR (R4 http.html: 400): bad syntax, an unknown element, a
        // wrong JSON type or an invalid primitive value. 422 is for resources that parse but break a profile or a
        // business rule (the write validator, the interceptors).
        if (!result.Success) throw new FhirException(400, result.Issues.Where(i => i.IsError).ToList());
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

    /// <summary>A JSON tree built in code, as UTF-8 with Chinese and other text written as is (not \u-escaped).</summary>
    public static byte[] Utf8(System.Text.Json.Nodes.JsonNode node) => System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(node, RelaxedJson);

    private static readonly System.Text.Json.JsonSerializerOptions RelaxedJson =
        new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}

/// <summary>Endpoint metadata: the endpoint answers in a format of its own (NDJSON files), not one a FHIR Accept or _format chooses.</summary>
public sealed class AnswersOwnFormat;


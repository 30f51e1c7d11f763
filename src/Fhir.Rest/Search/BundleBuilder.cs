using System.Buffers;
using System.Text.Json;
using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Serialization.Json;

namespace FhirArchive.Rest.Search;

/// <summary>One Bundle entry: the resource as stored JSON bytes (copied verbatim) or as a node (when reshaped).</summary>
public sealed record BundleEntry(string? FullUrl, byte[]? Json = null, ElementNode? Node = null, string? SearchMode = null,
    (string Method, string Url)? Request = null, EntryResponse? Response = null);

/// <summary>
/// A batch, transaction or history entry's response: the HTTP status (written as its status line, "404 Not Found"),
/// and for a failed entry its OperationOutcome (JSON bytes, written as response.outcome).
/// </summary>
public sealed record EntryResponse(int Status, string? Location = null, string? Etag = null, DateTimeOffset? LastModified = null, byte[]? Outcome = null);

/// <summary>Writes Bundle JSON directly, embedding stored resource bytes without parsing them.</summary>
public sealed class BundleBuilder(string type)
{
    public int? Total { get; set; }
    /// <summary>
    /// The v3-ObservationValue labels of Bundle.meta.security (<see cref="Access.Redaction"/>): REDACTED when some entry
    /// was cut for the caller, MASKED when some was masked.
    /// </summary>
    public SortedSet<string> Labels { get; } = new(StringComparer.Ordinal);

    /// <summary>Some entry was redacted for the caller: the Bundle carries the DS4P REDACTED label too.</summary>
    public bool Redacted
    {
        get => Labels.Contains(Access.Redaction.Code);
        set
        {
            if (value) Labels.Add(Access.Redaction.Code);
            else Labels.Remove(Access.Redaction.Code);
        }
    }

    /// <summary>Carries the labels the operation marked on its resources.</summary>
    public void LabelFrom(Access.AccessContext access) => Labels.UnionWith(Access.Redaction.Labels(access));
    public List<(string Relation, string Url)> Links { get; } = [];
    public List<BundleEntry> Entries { get; } = [];
    public string Id { get; } = Guid.NewGuid().ToString();
    /// <summary>Bundle.identifier (a document's: persistent across servers), e.g. ("urn:ietf:rfc:3986", "urn:uuid:…").</summary>
    public (string System, string Value)? Identifier { get; set; }
    /// <summary>Bundle.timestamp (a document's assembly time).</summary>
    public DateTimeOffset? Timestamp { get; set; }

    public byte[] ToJson()
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("resourceType", "Bundle");
            w.WriteString("id", Id);
            w.WriteStartObject("meta");
            w.WriteString("lastUpdated", FhirInstant.Of(DateTimeOffset.UtcNow));
            if (Labels.Count > 0)
            {
                w.WriteStartArray("security");
                foreach (var code in Labels)
                {
                    w.WriteStartObject();
                    w.WriteString("system", Access.Redaction.System);
                    w.WriteString("code", code);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            w.WriteEndObject();
            if (Identifier is { } identifier)
            {
                w.WriteStartObject("identifier");
                w.WriteString("system", identifier.System);
                w.WriteString("value", identifier.Value);
                w.WriteEndObject();
            }
            w.WriteString("type", type);
            if (Timestamp is { } timestamp) w.WriteString("timestamp", FhirInstant.Of(timestamp));
            if (Total is { } t) w.WriteNumber("total", t);
            if (Links.Count > 0)
            {
                w.WriteStartArray("link");
                foreach (var (rel, url) in Links)
                {
                    w.WriteStartObject();
                    w.WriteString("relation", rel);
                    w.WriteString("url", url);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            if (Entries.Count > 0)
            {
                w.WriteStartArray("entry");
                foreach (var e in Entries) WriteEntry(w, e);
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteEntry(Utf8JsonWriter w, BundleEntry e)
    {
        w.WriteStartObject();
        if (e.FullUrl is not null) w.WriteString("fullUrl", e.FullUrl);
        if (e.Json is not null)
        {
            w.WritePropertyName("resource");
            w.WriteRawValue(e.Json, skipInputValidation: true);
        }
        else if (e.Node is not null)
        {
            w.WritePropertyName("resource");
            w.Flush();
            FhirJsonSerializer.Write(e.Node, w);
        }
        if (e.SearchMode is not null)
        {
            w.WriteStartObject("search");
            w.WriteString("mode", e.SearchMode);
            w.WriteEndObject();
        }
        if (e.Request is { } rq)
        {
            w.WriteStartObject("request");
            w.WriteString("method", rq.Method);
            w.WriteString("url", rq.Url);
            w.WriteEndObject();
        }
        if (e.Response is { } rs)
        {
            w.WriteStartObject("response");
            w.WriteString("status", Rest.Infrastructure.FhirHeaders.StatusLine(rs.Status));
            if (rs.Location is not null) w.WriteString("location", rs.Location);
            if (rs.Etag is not null) w.WriteString("etag", rs.Etag);
            if (rs.LastModified is { } lm) w.WriteString("lastModified", FhirInstant.Of(lm));
            if (rs.Outcome is not null)
            {
                w.WritePropertyName("outcome");
                w.WriteRawValue(rs.Outcome, skipInputValidation: true);
            }
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }
}

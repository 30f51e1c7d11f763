using System.Text.Json;
using System.Text.Json.Nodes;
using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Infrastructure;
using Microsoft.Net.Http.Headers;

namespace FhirArchive.Rest.Patch;

/// <summary>A PATCH body: a JSON Patch array, or a FHIRPath Patch Parameters resource.</summary>
public sealed record PatchDocument(JsonNode? JsonPatch, ElementNode? Parameters)
{
    public const string JsonPatchType = "application/json-patch+json";

    /// <summary>Reads a PATCH request body by its Content-Type (415 for anything else).</summary>
    public static async Task<PatchDocument> ReadAsync(HttpRequest request, CancellationToken ct)
    {
        var contentType = request.ContentType ?? "";
        var mime = MediaTypeHeaderValue.TryParse(contentType, out var mt) ? mt.MediaType.ToString().ToLowerInvariant() : contentType;
        var body = await FhirFormats.ReadBodyAsync(request, ct);
        if (mime == JsonPatchType) return FromJsonPatch(body.Span);
        if (FhirFormats.FormatOfContentType(contentType) is { } format) return FromParameters(FhirFormats.Parse(body.Span, format));
        throw new FhirException(415, "not-supported",
            $"Unsupported Content-Type '{contentType}' for PATCH: use {JsonPatchType}, or a FHIRPath Patch Parameters resource as {FhirFormats.JsonType} or {FhirFormats.XmlType}.");
    }

    public static PatchDocument FromJsonPatch(ReadOnlySpan<byte> utf8)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(utf8);
        }
        catch (JsonException e)
        {
            throw FhirException.BadRequest($"The JSON Patch is not valid JSON: {e.Message}");
        }
        if (node is not JsonArray) throw FhirException.BadRequest("A JSON Patch document is a JSON array of operations.");
        return new PatchDocument(node, null);
    }

    public static PatchDocument FromParameters(ElementNode resource) =>
        resource.Type == "Parameters" ? new PatchDocument(null, resource)
            : throw FhirException.BadRequest($"A FHIRPath Patch is a Parameters resource, not a {resource.Type}.");

    /// <summary>
    /// A batch/transaction entry's patch: a Parameters resource (FHIRPath Patch), or a Binary whose contentType is
    /// application/json-patch+json and whose data holds the JSON Patch (the spec's way to carry it in a Bundle).
    /// </summary>
    public static PatchDocument FromEntryResource(ElementNode? resource)
    {
        if (resource is null) throw FhirException.BadRequest("PATCH needs a resource: a Parameters (FHIRPath Patch) or a Binary (JSON Patch).");
        if (resource.Type != "Binary") return FromParameters(resource);
        var contentType = resource.Child("contentType")?.Value;
        if (contentType != JsonPatchType) throw new FhirException(415, "not-supported", $"A Binary patch must have contentType {JsonPatchType}, not '{contentType}'.");
        byte[] data;
        try
        {
            data = Convert.FromBase64String(resource.Child("data")?.Value ?? "");
        }
        catch (FormatException)
        {
            throw FhirException.BadRequest("Binary.data is not base64.");
        }
        return FromJsonPatch(data);
    }
}

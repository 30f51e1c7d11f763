using System.Collections.Concurrent;
using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Hl7.Fhir.Serialization;
using Xunit.Sdk;

namespace FhirArchive.Client.Tests;

/// <summary>
/// Re-parses every answer body with Firely's strict deserializer (SDK 6: <see cref="DeserializationMode.Strict"/>,
/// unknown elements, wrong types, bad primitives and invalid narrative all refused) and fails the request on anything
/// it refuses, so a test passes only when every byte the server sent is FHIR a strict client accepts. Also fails an
/// answer in another format than the client asked for.
/// </summary>
public sealed class StrictReparse(ResourceFormat format) : DelegatingHandler
{
    public static readonly IFhirSerializationEngine Engine = FhirSerializationEngineFactory.Strict(ModelInfo.ModelInspector);

    /// <summary>The answers seen, newest last: request, status, parsed resource (null without a body).</summary>
    public ConcurrentQueue<(HttpRequestMessage Request, int Status, Resource? Resource)> Seen { get; } = new();

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
    {
        var response = await base.SendAsync(request, ct);
        await response.Content.LoadIntoBufferAsync(ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        Resource? resource = null;
        if (body.Length > 0 && request.Method != HttpMethod.Head)
        {
            var media = response.Content.Headers.ContentType?.MediaType ?? "";
            var answered = media.EndsWith("json", StringComparison.Ordinal) ? ResourceFormat.Json
                : media.EndsWith("xml", StringComparison.Ordinal) ? ResourceFormat.Xml
                : throw new XunitException($"{request.Method} {request.RequestUri}: {(int)response.StatusCode} with a body of type '{media}', not FHIR");
            if (answered != format)
                throw new XunitException($"{request.Method} {request.RequestUri}: asked for {format}, answered {media}");
            resource = Parse(body, format, $"{request.Method} {request.RequestUri} → {(int)response.StatusCode}");
        }
        Seen.Enqueue((request, (int)response.StatusCode, resource));
        return response;
    }

    /// <summary>The body parsed strictly; anything the parser refuses fails the test with its issues.</summary>
    public static Resource Parse(string body, ResourceFormat format, string what)
    {
        try
        {
            return (format == ResourceFormat.Json ? Engine.DeserializeFromJson(body) : Engine.DeserializeFromXml(body))
                   ?? throw new XunitException($"{what}: the body holds no resource");
        }
        catch (DeserializationFailedException e)
        {
            throw new XunitException($"{what}: Firely's strict parser refuses the answer: {e.Message}\n{body[..Math.Min(body.Length, 2000)]}");
        }
    }
}

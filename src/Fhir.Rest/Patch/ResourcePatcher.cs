using System.Text.Json.Nodes;
using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Patch;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Rest.Resources;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Writing;
using FhirArchive.Storage;

namespace FhirArchive.Rest.Patch;

/// <summary>
/// PATCH (plain and conditional) inside a write session: the current version is patched and the result goes
/// through the ordinary update, so If-Match, versioning and indexing work exactly as for PUT.
/// </summary>
public sealed class ResourcePatcher(ResourceWriter writer)
{
    /// <param name="procedure">The procedure the patch belongs to (<see cref="WriteIntent.Procedure"/>), if any.</param>
    public Task<WriteOutcome> PatchAsync(IWriteSession s, string type, string id, PatchDocument patch, int? ifMatch, CancellationToken ct, string? procedure = null) =>
        PatchAsync(s, type, id, patch, ifMatch, new WriteIntent(WriteInteraction.Patch, Procedure: procedure), ct);

    public async Task<WriteOutcome> ConditionalPatchAsync(IWriteSession s, string type,
        IEnumerable<KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues>> criteria, PatchDocument patch, int? ifMatch, CancellationToken ct)
    {
        var match = await writer.MatchOneAsync(s, type, criteria, "patch", ct)
            ?? throw FhirException.NotFound($"The conditional patch matched no {type}.");
        return await PatchAsync(s, type, match.Id, patch, ifMatch, new WriteIntent(WriteInteraction.Patch, Conditional: true), ct);
    }

    private async Task<WriteOutcome> PatchAsync(IWriteSession s, string type, string id, PatchDocument patch, int? ifMatch, WriteIntent intent, CancellationToken ct)
    {
        var current = await writer.CurrentAsync(s, type, id, intent, ct);
        if (current is null) throw FhirException.NotFound($"{type}/{id} is not known.");
        if (current.IsDeleted) throw FhirException.Gone($"{type}/{id} was deleted (version {current.Version}); there is nothing to patch.");
        if (ifMatch is { } expected && current.Version != expected)
            throw FhirException.PreconditionFailed($"Version conflict: {type}/{id} is at version {current.Version}, If-Match asked for {expected}.");
        var patched = Apply(current.Json!, patch);
        if (patched.Type != type) throw FhirException.Unprocessable($"The patch turned the {type} into a {patched.Type}.");
        if (patched.Child("id")?.Value != id) throw FhirException.Unprocessable("A patch must not change or remove the resource's id.");
        return await writer.UpdateAsync(s, patched, type, id, ifMatch, ct, intent);
    }

    /// <summary>
    /// Applies the patch to the stored JSON; the result is serialised and parsed again strictly, so a patch that
    /// produces anything FHIR does not allow (unknown elements, bad primitive values) is refused with 422.
    /// </summary>
    private static ElementNode Apply(byte[] storedJson, PatchDocument patch)
    {
        byte[] result;
        try
        {
            if (patch.JsonPatch is { } ops)
            {
                var doc = JsonPatch.Apply(JsonNode.Parse(storedJson), ops);
                result = System.Text.Encoding.UTF8.GetBytes(doc?.ToJsonString() ?? "null");
            }
            else result = FhirJsonSerializer.SerializeToUtf8Bytes(FhirPathPatch.Apply(FhirFormats.ParseStored(storedJson), patch.Parameters!));
        }
        catch (PatchException e)
        {
            throw FhirException.Unprocessable($"The patch cannot be applied: {e.Message}");
        }
        try
        {
            return FhirFormats.Parse(result, FhirFormat.Json);
        }
        catch (FhirException e) when (e.Status == 400)
        {
            throw new FhirException(422, e.Issues.Select(i => i with { Message = $"The patched resource is not valid: {i.Message}" }).ToList());
        }
    }
}

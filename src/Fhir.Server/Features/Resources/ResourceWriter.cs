using FhirArchive.Fhir.Definitions;
using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Server.Features.Search;
using FhirArchive.Server.Infrastructure;
using FhirArchive.Storage;
using FhirArchive.Storage.Indexing;
using Microsoft.AspNetCore.WebUtilities;

namespace FhirArchive.Server.Features.Resources;

/// <summary>The result of a write: the stored version and the HTTP status it earns (201 created, 200 otherwise).</summary>
public sealed record WriteOutcome(StoredResource Stored, int Status);

/// <summary>
/// Create, update and delete (plain and conditional) inside a write session: shared by the REST endpoints and
/// by batch/transaction processing, so both follow exactly the same rules.
/// </summary>
public sealed class ResourceWriter(IndexExtractor extractor, SearchParser parser, TimeProvider clock, Validation.WriteValidator validator)
{
    public static void CheckType(string type)
    {
        var t = FhirDefinitions.R4.GetType(type);
        if (t is not { Kind: TypeKind.Resource } || t.IsAbstract) throw FhirException.NotFound($"Unknown resource type '{type}'.");
    }

    public static void CheckBodyType(ElementNode resource, string type)
    {
        if (resource.Type != type)
            throw FhirException.BadRequest($"The body is a {resource.Type} but the URL is for {type}.");
    }

    public static bool IsValidId(string id) =>
        id.Length is > 0 and <= 64 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.');

    public async Task<WriteOutcome> CreateAsync(IWriteSession s, ElementNode resource, string type, string? ifNoneExist, CancellationToken ct, string? assignedId = null)
    {
        CheckBodyType(resource, type);
        if (!string.IsNullOrWhiteSpace(ifNoneExist))
        {
            var matches = await FindAsync(s, type, QueryHelpers.ParseQuery(ifNoneExist.TrimStart('?')), ct);
            if (matches.Count > 1) throw FhirException.PreconditionFailed($"If-None-Exist matched {matches.Count} resources.");
            if (matches.Count == 1) return new WriteOutcome(matches[0], 200);
        }
        // The server assigns the id of a created resource; an id in the body is ignored.
        return new WriteOutcome(await StoreAsync(s, resource, type, assignedId ?? NewId(), 1, ct), 201);
    }

    public async Task<WriteOutcome> UpdateAsync(IWriteSession s, ElementNode resource, string type, string id, int? ifMatch, CancellationToken ct)
    {
        CheckBodyType(resource, type);
        var bodyId = resource.Child("id")?.Value;
        if (bodyId is null) throw FhirException.BadRequest("The resource has no id: an update needs the id of the URL in the body.");
        if (bodyId != id) throw FhirException.BadRequest($"The id in the body ('{bodyId}') does not match the id in the URL ('{id}').");
        if (!IsValidId(id)) throw FhirException.BadRequest($"'{id}' is not a valid FHIR id.");
        var current = await s.ReadAsync(type, id, ct);
        if (ifMatch is { } expected)
        {
            if (current is null) throw FhirException.NotFound($"{type}/{id} does not exist; If-Match cannot match.");
            if (current.IsDeleted) throw FhirException.Conflict($"{type}/{id} is deleted; If-Match cannot match.");
            if (current.Version != expected)
                throw FhirException.PreconditionFailed($"Version conflict: {type}/{id} is at version {current.Version}, If-Match asked for {expected}.");
        }
        var version = (current?.Version ?? 0) + 1;
        var stored = await StoreAsync(s, resource, type, id, version, ct);
        // Update-as-create (client-chosen id) and update of a deleted resource both bring it (back) into existence.
        return new WriteOutcome(stored, current is null || current.IsDeleted ? 201 : 200);
    }

    public async Task<WriteOutcome> ConditionalUpdateAsync(IWriteSession s, ElementNode resource, string type, IEnumerable<KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues>> criteria, int? ifMatch, CancellationToken ct)
    {
        CheckBodyType(resource, type);
        var matches = await FindAsync(s, type, criteria, ct);
        if (matches.Count > 1) throw FhirException.PreconditionFailed($"The conditional update matched {matches.Count} resources.");
        var bodyId = resource.Child("id")?.Value;
        if (matches.Count == 1)
        {
            if (bodyId is not null && bodyId != matches[0].Id)
                throw FhirException.BadRequest($"The id in the body ('{bodyId}') is not the id of the matching resource ('{matches[0].Id}').");
            if (bodyId is null) SetId(resource, matches[0].Id);
            return await UpdateAsync(s, resource, type, matches[0].Id, ifMatch, ct);
        }
        if (bodyId is not null) return await UpdateAsync(s, resource, type, bodyId, null, ct);
        return new WriteOutcome(await StoreAsync(s, resource, type, NewId(), 1, ct), 201);
    }

    /// <summary>Deletes; null when there was nothing to delete (never existed or already deleted).</summary>
    public async Task<StoredResource?> DeleteAsync(IWriteSession s, string type, string id, CancellationToken ct)
    {
        var current = await s.ReadAsync(type, id, ct);
        if (current is null || current.IsDeleted) return null;
        return await s.DeleteAsync(type, id, current.Version + 1, Now(), ct);
    }

    public async Task<int> ConditionalDeleteAsync(IWriteSession s, string type, IEnumerable<KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues>> criteria, CancellationToken ct)
    {
        var matches = await FindAsync(s, type, criteria, ct);
        if (matches.Count > 1) throw FhirException.PreconditionFailed($"The conditional delete matched {matches.Count} resources; only one may match.");
        foreach (var m in matches) await s.DeleteAsync(type, m.Id, m.Version + 1, Now(), ct);
        return matches.Count;
    }

    public async Task<IReadOnlyList<StoredResource>> FindAsync(IWriteSession s, string type,
        IEnumerable<KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues>> criteria, CancellationToken ct)
    {
        var flat = criteria.SelectMany(kv => kv.Value.Select(v => new KeyValuePair<string, string>(kv.Key, v ?? ""))).ToList();
        if (flat.Count == 0) throw FhirException.BadRequest("A conditional operation needs search criteria.");
        // Conditional operations are strict: an ignored criterion could make them touch the wrong resource.
        var (query, _) = await parser.ParseAsync(type, flat, strict: true, ct, s);
        query.Count = 2;
        query.IncludeTotal = false;
        return (await s.SearchAsync(query, ct)).Matches;
    }

    private async Task<StoredResource> StoreAsync(IWriteSession s, ElementNode resource, string type, string id, int version, CancellationToken ct)
    {
        validator.EnsureValid(resource);
        var now = Now();
        Stamp(resource, id, version, now);
        var json = FhirJsonSerializer.SerializeToUtf8Bytes(resource);
        var index = extractor.Extract(resource);
        return await s.PutAsync(type, id, version, now, json, index, ct);
    }

    /// <summary>Millisecond precision: what meta.lastUpdated shows is exactly what is stored and compared.</summary>
    private DateTimeOffset Now()
    {
        var t = clock.GetUtcNow();
        return new DateTimeOffset(t.Ticks - t.Ticks % TimeSpan.TicksPerMillisecond, TimeSpan.Zero);
    }

    public static string NewId() => Guid.NewGuid().ToString("N");

    private static void SetId(ElementNode resource, string id)
    {
        resource.RemoveAll("id");
        resource.Add("id", id);
    }

    private static void Stamp(ElementNode resource, string id, int version, DateTimeOffset lastUpdated)
    {
        SetId(resource, id);
        var meta = resource.Child("meta") ?? resource.Add("meta");
        meta.RemoveAll("versionId");
        meta.RemoveAll("lastUpdated");
        meta.Add("versionId", version.ToString(System.Globalization.CultureInfo.InvariantCulture));
        meta.Add("lastUpdated", lastUpdated.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture));
    }
}

using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Rest.Validation;
using FhirArchive.Storage;
using FhirArchive.Storage.Indexing;

namespace FhirArchive.Rest.Writing;

/// <summary>
/// Writes one version in its stages (<see cref="WriteStage"/>): the interceptors' before-calls; validate, stamp,
/// index, store; the interceptors' after-calls, each followed by the companions it asked for. What to write (ids,
/// versions, conditions, who may know what) is decided before, by the interactions (ResourceWriter).
/// </summary>
public sealed class WritePipeline(IEnumerable<IWriteInterceptor> interceptors, IndexExtractor extractor, WriteValidator validator,
    TimeProvider clock, IHttpContextAccessor caller)
{
    /// <summary>By stage; OrderBy is stable, so registration order within a stage.</summary>
    private readonly IWriteInterceptor[] _interceptors = interceptors.OrderBy(i => i.Stage).ToArray();

    /// <summary>Stores version current+1 of <paramref name="resource"/> as type/id.</summary>
    public async Task<StoredResource> StoreAsync(IWriteSession s, WriteIntent intent, ElementNode resource, string type, string id,
        StoredResource? current, CancellationToken ct)
    {
        var version = (current?.Version ?? 0) + 1;
        var context = await BeforeAsync(s, intent, type, id, version, resource, current, ct);
        // After the interceptors: whatever they add is held to the same rules and indexed.
        validator.EnsureValid(resource);
        var now = Now();
        Stamp(resource, id, version, now);
        var json = FhirJsonSerializer.SerializeToUtf8Bytes(resource);
        var index = extractor.Extract(resource);
        var stored = await s.PutAsync(type, id, version, now, json, index, ct);
        await AfterAsync(context, stored);
        return stored;
    }

    /// <summary>Stores a deletion as the version after <paramref name="current"/>.</summary>
    public async Task<StoredResource> DeleteAsync(IWriteSession s, WriteIntent intent, StoredResource current, CancellationToken ct)
    {
        var context = await BeforeAsync(s, intent, current.ResourceType, current.Id, current.Version + 1, null, current, ct);
        var deleted = await s.DeleteAsync(current.ResourceType, current.Id, current.Version + 1, Now(), ct);
        await AfterAsync(context, deleted);
        return deleted;
    }

    /// <summary>The id of a created resource: the server's.</summary>
    public static string NewId() => Guid.NewGuid().ToString("N");

    /// <summary>Sets the resource's id (in its body).</summary>
    public static void SetId(ElementNode resource, string id)
    {
        resource.RemoveAll("id");
        resource.Add("id", id);
    }

    /// <summary>No interceptors, no cost: no context.</summary>
    private async ValueTask<WriteContext?> BeforeAsync(IWriteSession s, WriteIntent intent, string type, string id, int version,
        ElementNode? resource, StoredResource? current, CancellationToken ct)
    {
        if (_interceptors.Length == 0) return null;
        var context = new WriteContext(s, caller.HttpContext, intent, type, id, version, resource, current, ct);
        foreach (var i in _interceptors) await i.BeforeWriteAsync(context);
        return context;
    }

    private async ValueTask AfterAsync(WriteContext? context, StoredResource stored)
    {
        if (context is null) return;
        context.Stored = stored;
        await CompanionsAsync(context);
        foreach (var i in _interceptors)
        {
            await i.AfterWriteAsync(context);
            await CompanionsAsync(context);
        }
    }

    /// <summary>The companions asked for so far, each a create of its own through every stage, in the same session.</summary>
    private async ValueTask CompanionsAsync(WriteContext context)
    {
        while (context.NextCompanion() is { } companion)
        {
            var intent = new WriteIntent(WriteInteraction.Create, Parent: context, Procedure: context.Intent.Procedure);
            await StoreAsync(context.Session, intent, companion, companion.Type!, NewId(), null, context.CancellationToken);
        }
    }

    /// <summary>Millisecond precision: what meta.lastUpdated shows is exactly what is stored and compared.</summary>
    private DateTimeOffset Now()
    {
        var t = clock.GetUtcNow();
        return new DateTimeOffset(t.Ticks - t.Ticks % TimeSpan.TicksPerMillisecond, TimeSpan.Zero);
    }

    private static void Stamp(ElementNode resource, string id, int version, DateTimeOffset lastUpdated)
    {
        SetId(resource, id);
        var meta = resource.Child("meta") ?? resource.Add("meta");
        meta.RemoveAll("versionId");
        meta.RemoveAll("lastUpdated");
        meta.Add("versionId", version.ToString(System.Globalization.CultureInfo.InvariantCulture));
        meta.Add("lastUpdated", FhirInstant.Of(lastUpdated));
    }
}

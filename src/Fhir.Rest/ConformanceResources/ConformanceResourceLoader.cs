using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Profiles;
using FhirArchive.Rest.Resources;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;

namespace FhirArchive.Rest.ConformanceResources;

/// <summary>
/// Puts the FhirArchive package's conformance resources (profiles and extensions with snapshots, code systems,
/// value sets, concept maps, naming systems) into the store at start-up, as the server's own resources, so they
/// are read and searched like any other (GET /StructureDefinition?url=..., /NamingSystem?value=...).
/// Idempotent: a resource is written only when it is missing or its content (meta aside) differs from the
/// package's, so a restart adds no versions and a changed package updates what changed.
/// </summary>
public static class ConformanceResourceLoader
{
    public static async Task<int> LoadAsync(IServiceProvider services, CancellationToken ct = default)
    {
        var store = services.GetRequiredService<IResourceStore>();
        var writer = services.GetRequiredService<ResourceWriter>();
        var written = 0;
        await using var s = await store.BeginWriteAsync(ct);
        foreach (var (file, json) in ImplementationGuidePackage.Resources())
        {
            if (file.StartsWith("example/", StringComparison.Ordinal)) continue; // examples are not the server's own
            if (await WriteIfChangedAsync(s, writer, json, ct)) written++;
        }
        await s.CommitAsync(ct);
        return written;
    }

    /// <summary>
    /// The OperationDefinition of every operation mapped (the R4 core's and the modules' own), so that each canonical
    /// the CapabilityStatement names resolves (/OperationDefinition?url=) and reads (/OperationDefinition/[id]).
    /// </summary>
    public static async Task<int> LoadOperationDefinitionsAsync(IServiceProvider services, IEnumerable<Endpoint> endpoints, CancellationToken ct = default)
    {
        var store = services.GetRequiredService<IResourceStore>();
        var writer = services.GetRequiredService<ResourceWriter>();
        var written = 0;
        await using var s = await store.BeginWriteAsync(ct);
        foreach (var op in Metadata.Operations.Declared(endpoints))
            if (await WriteIfChangedAsync(s, writer, op.Json, ct)) written++;
        await s.CommitAsync(ct);
        return written;
    }

    private static async Task<bool> WriteIfChangedAsync(IWriteSession s, ResourceWriter writer, string json, CancellationToken ct)
    {
        var node = FhirFormats.Parse(FhirFormats.Utf8(json), FhirFormat.Json);
        var type = node.Type!;
        var id = node.ResourceId!;
        var current = await s.ReadAsync(type, id, ct);
        if (current is { IsDeleted: false, Json: { } stored } && SameContent(stored, json)) return false;
        await writer.UpdateAsync(s, node, type, id, null, ct);
        return true;
    }

    /// <summary>The stored version says what the package says (meta is stamped by the server, so not compared).</summary>
    private static bool SameContent(byte[] storedJson, string packageJson) =>
        WithoutMeta(FhirFormats.ParseStored(storedJson)) == WithoutMeta(FhirFormats.Parse(FhirFormats.Utf8(packageJson), FhirFormat.Json));

    private static string WithoutMeta(Fhir.Model.ElementNode resource)
    {
        resource.RemoveAll("meta");
        return FhirJsonSerializer.Serialize(resource);
    }
}

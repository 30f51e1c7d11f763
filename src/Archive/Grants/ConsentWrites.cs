using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Resources;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;

using FhirArchive.Archive.Consent;

namespace FhirArchive.Archive.Grants;

/// <summary>The operations' writes: through the ordinary write rules (validation against cn-consent, audit, source labels), let past the Consent guard.</summary>
public static class ConsentWrites
{
    public static Task<StoredResource> CreateAsync(IWriteSession s, ResourceWriter writer, ElementNode resource, CancellationToken ct) =>
        GrantWriteMode.RunAsync(async () => (await writer.CreateAsync(s, resource, resource.Type!, null, ct)).Stored);

    public static Task<StoredResource> UpdateAsync(IWriteSession s, ResourceWriter writer, ElementNode resource, int version, CancellationToken ct) =>
        GrantWriteMode.RunAsync(async () => (await writer.UpdateAsync(s, resource, resource.Type!, resource.ResourceId!, version, ct)).Stored);

    /// <summary>201 with Location and the new Consent; or, for one already on file (<paramref name="created"/> false), 200 with it.</summary>
    public static async Task WriteCreatedAsync(HttpContext ctx, StoredResource stored, bool created = true)
    {
        FhirHeaders.SetVersionHeaders(ctx.Response, stored);
        if (created) ctx.Response.Headers.Location = FhirHeaders.VersionUrl(ctx.Request, stored);
        else ctx.Response.Headers.ContentLocation = FhirHeaders.VersionUrl(ctx.Request, stored);
        await FhirFormats.WriteJsonBytesAsync(ctx, created ? 201 : 200, stored.Json!);
    }
}

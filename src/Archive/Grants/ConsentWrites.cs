using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Resources;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Writing;
using FhirArchive.Storage;

using FhirArchive.Archive.Consent;

namespace FhirArchive.Archive.Grants;

/// <summary>
/// The authorisation operations' writes ($grant-access, $break-glass, $open-record, $revoke): through the ordinary
/// write rules (validation against cn-consent, audit, source labels), as the <see cref="Procedure"/> the
/// <see cref="ConsentGuardInterceptor"/> lets through.
/// </summary>
public static class ConsentWrites
{
    /// <summary>The <see cref="WriteIntent.Procedure"/> of these writes.</summary>
    public const string Procedure = "grant-authorisation";

    public static async Task<StoredResource> CreateAsync(IWriteSession s, ResourceWriter writer, ElementNode resource, CancellationToken ct) =>
        (await writer.CreateAsync(s, resource, resource.Type!, null, ct, intent: WriteIntent.Create.For(Procedure))).Stored;

    public static async Task<StoredResource> UpdateAsync(IWriteSession s, ResourceWriter writer, ElementNode resource, int version, CancellationToken ct) =>
        (await writer.UpdateAsync(s, resource, resource.Type!, resource.ResourceId!, version, ct, WriteIntent.Update.For(Procedure))).Stored;

    /// <summary>201 with Location and the new Consent; or, for one already on file (<paramref name="created"/> false), 200 with it.</summary>
    public static async Task WriteCreatedAsync(HttpContext ctx, StoredResource stored, bool created = true)
    {
        FhirHeaders.SetVersionHeaders(ctx.Response, stored);
        if (created) ctx.Response.Headers.Location = FhirHeaders.VersionUrl(ctx.Request, stored);
        else ctx.Response.Headers.ContentLocation = FhirHeaders.VersionUrl(ctx.Request, stored);
        await FhirFormats.WriteJsonBytesAsync(ctx, created ? 201 : 200, stored.Json!);
    }
}

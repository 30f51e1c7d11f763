using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Metadata;
using FhirArchive.Archive.Records;
using FhirArchive.Rest.Resources;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;

using FhirArchive.Archive.Consent;

namespace FhirArchive.Archive.Grants;

/// <summary>
/// Consent/[id]/$revoke: the resident, their guardian, or a record administrator of the record's responsible
/// institution withdraws an authorisation. The Consent gets a new version with status inactive; the reason, who
/// and when are kept in a Provenance of that version (and the audit). Anyone else is told the Consent is not known.
/// </summary>
public static class RevokeEndpoint
{
    public const string RevokeActivity = ProvenanceBuilder.DataOperation;

    public static void Map(IEndpointRouteBuilder app) =>
        app.MapOperation(FhirOperation.Local(typeof(RevokeEndpoint).Assembly, "Consent-revoke"), OperationLevel.Instance, Handle).WithTags("Consent").WithSummary("withdraw an authorisation (reason): status inactive (撤销授权)")
            .WithMetadata(new DecidesOwnVisibility());

    private static async Task Handle(HttpContext ctx, string id, IResourceStore store, ResourceWriter writer, RecordLookup lookup, TimeProvider clock)
    {
        var caller = ctx.GetCaller();
        var p = await OperationParameters.ReadAsync(ctx);
        var reason = p.Value("reason");
        var who = caller.Practitioner ?? (caller.HasRole(Roles.Guardian) ? caller.FhirUser : null) ?? caller.Patient ?? caller.Organization;
        var stored = await ResourceEndpoints.InSessionAsync(ctx, store, async s =>
        {
            var current = await s.ReadAsync("Consent", id, ctx.RequestAborted);
            var consent = current is { IsDeleted: false } ? RecordScope.Parse(current) : null;
            if (consent is null || !await MayRevokeAsync(s, caller, consent, ctx.RequestAborted))
                throw FhirException.NotFound($"Consent/{id} is not known.");
            if (consent.Child("status")?.Value != "active")
                throw FhirException.Conflict($"Consent/{id} is {consent.Child("status")?.Value}: only an active authorisation is revoked.");
            consent.RemoveAll("status");
            consent.Add("status", "inactive");
            var written = await ConsentWrites.UpdateAsync(s, writer, consent, current!.Version, ctx.RequestAborted);
            await ConsentWrites.CreateAsync(s, writer, Provenance(written, who, caller, reason, clock.GetUtcNow()), ctx.RequestAborted);
            return written;
        });
        FhirHeaders.SetVersionHeaders(ctx.Response, stored);
        await FhirFormats.WriteJsonBytesAsync(ctx, 200, stored.Json!);
    }

    /// <summary>The resident or guardian of the Consent's patient, or an administrator of its responsible institution.</summary>
    private static async Task<bool> MayRevokeAsync(IWriteSession s, Caller caller, ElementNode consent, CancellationToken ct)
    {
        var patient = consent.Child("patient")?.Child("reference")?.Value;
        if (patient is null) return false;
        if ((caller.HasRole(Roles.Resident) || caller.HasRole(Roles.Guardian)) && caller.Patient == patient) return true;
        if (!caller.HasRole(Roles.RecordAdministrator) || caller.Organization is null) return false;
        var record = RecordScope.Parse(await s.ReadAsync("Patient", patient.Split('/')[^1], ct));
        return record is not null && RecordLookup.ResponsibleInstitution(record) == caller.Organization;
    }

    private static ElementNode Provenance(StoredResource consent, string? who, Caller caller, string? reason, DateTimeOffset now)
    {
        var time = FhirInstant.Of(now);
        return new ProvenanceBuilder(consent, time, time)
            .Reason(reason ?? "撤销授权 / authorisation revoked")
            .Activity(RevokeActivity, "NULLIFY")
            .Agent("author", who, caller.DisplayName ?? caller.Subject)
            .Build();
    }
}

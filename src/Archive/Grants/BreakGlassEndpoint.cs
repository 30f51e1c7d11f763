using FhirArchive.Fhir.Model;
using System.Globalization;
using System.Text.Json.Nodes;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Metadata;
using FhirArchive.Archive.Notifications;
using FhirArchive.Archive.Records;
using FhirArchive.Rest.Resources;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;

using FhirArchive.Archive.Consent;

namespace FhirArchive.Archive.Grants;

/// <summary>
/// Patient/[id]/$break-glass: in an emergency a clinician or family doctor opens a record without authorisation
/// (reason required, purpose ETREAT) for a limited time (Consent:Grants:BreakGlassHours, 4). The server writes a
/// break-glass Consent for the caller (practitioner and institution), tells the responsible institution with a
/// Communication about it, and sends the resident a text message. The request is audited with purpose ETREAT.
/// </summary>
public static class BreakGlassEndpoint
{
    public static void Map(IEndpointRouteBuilder app) =>
        app.MapOperation(FhirOperation.Local(typeof(BreakGlassEndpoint).Assembly, "Patient-break-glass"), OperationLevel.Instance, Handle).WithTags("Consent").WithSummary("emergency access without authorisation (reason), time-limited, audited and notified (紧急破窗)")
            .WithMetadata(new DecidesOwnVisibility());

    private static async Task Handle(HttpContext ctx, string id, IResourceStore store, ResourceWriter writer, RecordLookup lookup, ISmsSender sms,
        GrantOptions options, TimeProvider clock, ILoggerFactory logs)
    {
        var caller = ctx.GetCaller();
        if (!(caller.HasRole(Roles.Clinician) || caller.HasRole(Roles.FamilyDoctor)) || caller.Organization is null || caller.Practitioner is null)
            throw new FhirException(403, "forbidden", "Only a clinician or family doctor (a practitioner acting for an institution) may break the glass / 仅医疗机构的医生可紧急破窗");
        // The whole operation is emergency treatment: the audit event says so.
        caller = caller with { PurposeOfUse = ConsentTerms.Emergency };
        ctx.SetCaller(caller);
        var p = await OperationParameters.ReadAsync(ctx);
        var reason = p.Value("reason");
        if (string.IsNullOrWhiteSpace(reason)) throw FhirException.BadRequest("Breaking the glass needs the 'reason' (the emergency) / 须填写紧急情况说明");
        var now = clock.GetUtcNow();
        var end = now.AddHours(options.BreakGlassHours);

        var (consent, phone, institution, doctor) = await ResourceEndpoints.InSessionAsync(ctx, store, async s =>
        {
            var patient = await lookup.PatientAsync(s, caller, id, null, ctx.RequestAborted) ?? throw FhirException.NotFound($"Patient/{id} is not known.");
            var responsible = RecordLookup.ResponsibleInstitution(patient);
            var draft = new ConsentDraft(ConsentTerms.BreakGlass, "Patient/" + id, responsible, [caller.Practitioner], null, now, end,
                [caller.Practitioner, caller.Organization], [ConsentTerms.Emergency], now, PolicyText: $"紧急救治破窗访问 / break-glass for emergency treatment: {reason}");
            var consent = await ConsentWrites.CreateAsync(s, writer, draft.ToResource(), ctx.RequestAborted);
            var institution = Name(await s.ReadAsync("Organization", caller.Organization.Split('/')[^1], ctx.RequestAborted)) ?? caller.Organization;
            var doctor = Name(await s.ReadAsync("Practitioner", caller.Practitioner.Split('/')[^1], ctx.RequestAborted)) ?? caller.Practitioner;
            if (responsible is not null)
                await ConsentWrites.CreateAsync(s, writer, Notice(id, responsible, caller.Practitioner, consent.Id, reason, institution, doctor, now, end), ctx.RequestAborted);
            return (consent, RecordLookup.MobilePhone(patient), institution, doctor);
        });

        if (phone is not null)
        {
            var when = now.ToOffset(TimeSpan.FromHours(8)).ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);
            var text = $"【FhirArchive】{institution} 的 {doctor} 因紧急救治于 {when} 调阅了您的健康档案（{options.BreakGlassHours} 小时内有效）。如有疑问请联系您的签约机构。" +
                       $" / {doctor} of {institution} opened your health record for emergency treatment at {when} (for {options.BreakGlassHours} hours).";
            // The access stands whether or not the text goes out; the institution has its Communication either way.
            try { await sms.SendAsync(new SmsMessage(phone, text, "break-glass"), ctx.RequestAborted); }
            catch (SmsNotSentException e) { logs.CreateLogger(typeof(BreakGlassEndpoint)).LogError(e, "Break-glass Consent/{Id}: the resident's text message was not sent", consent.Id); }
        }
        await ConsentWrites.WriteCreatedAsync(ctx, consent);
    }

    /// <summary>The notice to the responsible institution: a completed Communication about the Consent.</summary>
    private static Fhir.Model.ElementNode Notice(string patientId, string responsible, string practitioner, string consentId, string reason,
        string institution, string doctor, DateTimeOffset now, DateTimeOffset end)
    {
        var json = new JsonObject
        {
            ["resourceType"] = "Communication",
            ["status"] = "completed",
            ["category"] = new JsonArray(new JsonObject
            {
                ["coding"] = new JsonArray(new JsonObject { ["system"] = "http://terminology.hl7.org/CodeSystem/communication-category", ["code"] = "notification" }),
            }),
            ["priority"] = "urgent",
            ["subject"] = new JsonObject { ["reference"] = "Patient/" + patientId },
            ["about"] = new JsonArray(new JsonObject { ["reference"] = "Consent/" + consentId }),
            ["sent"] = FhirInstant.ToSecond(now),
            ["recipient"] = new JsonArray(new JsonObject { ["reference"] = responsible }),
            ["sender"] = new JsonObject { ["reference"] = practitioner },
            ["reasonCode"] = new JsonArray(new JsonObject { ["text"] = reason }),
            ["payload"] = new JsonArray(new JsonObject
            {
                ["contentString"] = $"{institution} 的 {doctor} 紧急破窗调阅 Patient/{patientId} 的档案，至 {FhirInstant.ToSecond(end)}：{reason} / " +
                                    $"{doctor} of {institution} broke the glass on Patient/{patientId} until {FhirInstant.ToSecond(end)}: {reason}",
            }),
        };
        return FhirFormats.Parse(FhirFormats.Utf8(json.ToJsonString()), FhirFormat.Json);
    }

    private static string? Name(StoredResource? stored)
    {
        var node = RecordScope.Parse(stored);
        return node?.Child("name") is { } name ? name.Value ?? name.Child("text")?.Value : null;
    }
}

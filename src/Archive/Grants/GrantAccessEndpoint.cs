using System.Globalization;
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
/// Patient/$grant-access records the resident's authorisation as a record-access Consent (written by the server,
/// audited, returned with 201): either the request id with the one-time code the resident passed on (sms-code), or
/// method=health-card with the electronic health card number (checked by <see cref="IHealthCardVerifier"/>) — for
/// a pending request, or for a record named by identifier with purpose and period as $request-access takes them.
/// A wrong code or card costs one of the request's attempts (422 with the attempts left; void when none are left);
/// an expired request gets 422 saying so. Only the requesting institution may use its request.
/// </summary>
public static class GrantAccessEndpoint
{
    public const string CardNotVerified = "The electronic health card does not verify for this record / 电子健康卡验证未通过";

    public static void Map(IEndpointRouteBuilder app) =>
        app.MapOperation(FhirOperation.Local(typeof(GrantAccessEndpoint).Assembly, "Patient-grant-access"), OperationLevel.Type, Handle).WithTags("Consent")
            .WithSummary("record the resident's authorisation: request + code, or method=health-card + card (授权确认)");

    /// <summary>What a session decided; the refusals are thrown after it committed (the attempt counts).</summary>
    private sealed record Decision(StoredResource? Consent, FhirException? Refusal);

    private static async Task Handle(HttpContext ctx, IResourceStore store, ResourceWriter writer, RecordLookup lookup, IHealthCardVerifier cards,
        GrantOptions options, TimeProvider clock)
    {
        var caller = ctx.GetCaller();
        RecordLookup.RequireInstitutionClinician(caller, "$grant-access");
        var p = await OperationParameters.ReadAsync(ctx);
        var method = p.Value("method") ?? ConsentTerms.SmsCode;
        if (method is not (ConsentTerms.SmsCode or ConsentTerms.HealthCard))
            throw FhirException.BadRequest($"Unknown method '{method}': use {ConsentTerms.SmsCode} (request + code) or {ConsentTerms.HealthCard} (card).");
        var now = clock.GetUtcNow();
        var requestId = p.Value("request");
        Decision decision;
        if (requestId is not null)
        {
            var secret = method == ConsentTerms.SmsCode ? p.Required("code") : p.Required("card");
            decision = await ResourceEndpoints.InSessionAsync(ctx, store, s => WithRequestAsync(s, writer, lookup, cards, options, caller, requestId, method, secret, now, ctx.RequestAborted));
        }
        else
        {
            if (method != ConsentTerms.HealthCard) throw FhirException.BadRequest("$grant-access needs the 'request' id with its 'code', or method=health-card with the 'card'.");
            var card = p.Required("card");
            var asked = AskedAccess.Read(p, caller, options, now);
            var identifier = p.Value("identifier");
            var patientId = p.Value("patient")?.Split('/')[^1];
            if (identifier is null && patientId is null) throw FhirException.BadRequest("Name the record: 'identifier' (e.g. the ID card number) or 'patient'.");
            decision = await ResourceEndpoints.InSessionAsync(ctx, store, async s =>
            {
                var patient = await lookup.PatientAsync(s, caller, patientId, identifier, ctx.RequestAborted);
                // A card attempt counts against the same limits as a code request, so card numbers cannot be tried at will.
                var requester = caller.Practitioner ?? caller.Subject;
                var subject = RequestLimits.Subject(patient?.ResourceId, patientId, identifier);
                await RequestLimits.CheckAsync(s, options, requester, subject, now, ctx.RequestAborted);
                // Unknown, closed and wrong card look alike.
                if (patient is null || !await cards.VerifyAsync(patient, card, ctx.RequestAborted))
                {
                    await AccessRequests.AddAsync(s, CardAttempt(caller, requester, subject, asked, now, AccessRequestStatus.Void), ctx.RequestAborted);
                    return new Decision(null, FhirException.Unprocessable(CardNotVerified));
                }
                await AccessRequests.AddAsync(s, CardAttempt(caller, requester, subject, asked, now, AccessRequestStatus.Granted), ctx.RequestAborted);
                var self = "Patient/" + patient.ResourceId;
                var draft = RecordAccess(patient, self, new ConsentVerification(ConsentTerms.HealthCard, self, now), caller.Organization!, caller.Practitioner,
                    asked.Purpose, asked.Start, asked.End, now);
                return new Decision(await ConsentWrites.CreateAsync(s, writer, draft.ToResource(), ctx.RequestAborted), null);
            });
        }
        if (decision.Refusal is { } refusal) throw refusal;
        await ConsentWrites.WriteCreatedAsync(ctx, decision.Consent!);
    }

    private static async Task<Decision> WithRequestAsync(IWriteSession s, ResourceWriter writer, RecordLookup lookup, IHealthCardVerifier cards, GrantOptions options,
        Caller caller, string requestId, string method, string secret, DateTimeOffset now, CancellationToken ct)
    {
        var row = await AccessRequests.FindAsync(s, requestId, ct);
        // Another institution's request is as unknown as a made-up id.
        if (row is null || row.Organization != caller.Organization || row.Subject.Split('/') is not ["Patient", var patientId])
            return new Decision(null, FhirException.NotFound($"Access request '{requestId}' is not known / 授权请求不存在"));
        switch (row.Status)
        {
            case AccessRequestStatus.Granted: return new Decision(null, FhirException.Conflict($"Access request '{requestId}' was granted already ({row.Consent}) / 该请求已授权"));
            case AccessRequestStatus.Void: return new Decision(null, FhirException.Unprocessable($"Access request '{requestId}' is void (no code was sent, or its attempts are used up): ask again / 请求已作废，请重新申请"));
            case AccessRequestStatus.Expired: return new Decision(null, Expired(requestId));
        }
        if (now.UtcTicks > row.Expires)
        {
            row.Status = AccessRequestStatus.Expired;
            await AccessRequests.UpdateAsync(s, row, ct);
            return new Decision(null, Expired(requestId));
        }
        var patient = await lookup.PatientAsync(s, caller, patientId, null, ct);
        var verified = method == ConsentTerms.SmsCode
            ? AccessCodes.Matches(row.Salt, row.Id, secret, row.CodeHash)
            : patient is not null && await cards.VerifyAsync(patient, secret, ct);
        if (!verified || patient is null)
        {
            row.Attempts++;
            var left = Math.Max(0, options.MaxAttempts - row.Attempts);
            if (left == 0) row.Status = AccessRequestStatus.Void;
            await AccessRequests.UpdateAsync(s, row, ct);
            var what = method == ConsentTerms.SmsCode ? "The code is wrong / 授权码错误" : CardNotVerified;
            return new Decision(null, new FhirException(422, "security", left == 0
                ? $"{what}: no attempts are left, the request is void; ask again / 尝试次数已用完，请求已作废"
                : $"{what}: {left.ToString(CultureInfo.InvariantCulture)} attempt(s) left / 剩余 {left} 次"));
        }
        var consenter = method == ConsentTerms.SmsCode ? row.Recipient! : "Patient/" + patientId;
        var draft = RecordAccess(patient, consenter, new ConsentVerification(method, consenter, now), row.Organization, row.Practitioner,
            row.Purpose, new DateTimeOffset(row.PeriodStart, TimeSpan.Zero), new DateTimeOffset(row.PeriodEnd, TimeSpan.Zero), now);
        var consent = await ConsentWrites.CreateAsync(s, writer, draft.ToResource(), ct);
        row.Status = AccessRequestStatus.Granted;
        row.Consent = $"Consent/{consent.Id}";
        await AccessRequests.UpdateAsync(s, row, ct);
        return new Decision(consent, null);
    }

    /// <summary>A health-card authorisation without a prior request, kept as a decided request (no code) for the limits.</summary>
    private static AccessRequestRow CardAttempt(Caller caller, string requester, string subject, AskedAccess asked, DateTimeOffset now, string status) => new()
    {
        Id = AccessCodes.NewRequestId(), Subject = subject, Requester = requester, Organization = caller.Organization!, Practitioner = caller.Practitioner,
        Purpose = asked.Purpose, PeriodStart = asked.Start.UtcTicks, PeriodEnd = asked.End.UtcTicks, Salt = [], CodeHash = [],
        Created = now.UtcTicks, Expires = now.UtcTicks, Attempts = 1, Status = status,
    };

    private static FhirException Expired(string requestId) =>
        new(422, "expired", $"The code of access request '{requestId}' has expired: ask again / 授权码已过期，请重新申请");

    /// <summary>The record-access Consent: the consenter, the grantee institution (and practitioner), period and purpose.</summary>
    private static ConsentDraft RecordAccess(ElementNode patient, string consenter, ConsentVerification verification, string organization, string? practitioner,
        string purpose, DateTimeOffset start, DateTimeOffset end, DateTimeOffset now)
    {
        List<string> recipients = [organization];
        if (practitioner is not null) recipients.Add(practitioner);
        return new ConsentDraft(ConsentTerms.RecordAccess, "Patient/" + patient.ResourceId, RecordLookup.ResponsibleInstitution(patient), [consenter],
            verification, start, end, recipients, [purpose], now);
    }
}

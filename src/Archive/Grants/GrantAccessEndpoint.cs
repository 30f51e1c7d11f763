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
/// method=health-card with the electronic health card (the platform's dynamic QR code, or the demo's card number:
/// <see cref="IHealthCardVerifier"/>: its signature and validity checked first, spent only right before the grant is
/// written, after the request, record and rate-limit checks, so a refused attempt leaves the code fresh) whose card id
/// is the record's health-card identifier — for a pending request, or for a record named by identifier with purpose
/// and period as $request-access takes them. A wrong code or card costs one of the request's attempts (422 with the
/// attempts left; void when none are left); an expired request gets 422 saying so. Only the requesting institution
/// may use its request.
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
        GrantOptions options, RequestSubjects subjects, TimeProvider clock)
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
            var card = method == ConsentTerms.HealthCard ? Verify(cards, secret) : null;
            decision = await ResourceEndpoints.InSessionAsync(ctx, store, s => WithRequestAsync(s, writer, lookup, options, caller, requestId, secret, card, now, ctx.RequestAborted));
        }
        else
        {
            if (method != ConsentTerms.HealthCard) throw FhirException.BadRequest("$grant-access needs the 'request' id with its 'code', or method=health-card with the 'card'.");
            var presented = p.Required("card");
            var asked = AskedAccess.Read(p, caller, options, now);
            var identifier = p.Value("identifier");
            var patientId = p.Value("patient")?.Split('/')[^1];
            if (identifier is null && patientId is null) throw FhirException.BadRequest("Name the record: 'identifier' (e.g. the ID card number) or 'patient'.");
            var card = Verify(cards, presented);
            decision = await ResourceEndpoints.InSessionAsync(ctx, store, async s =>
            {
                var patient = await lookup.PatientAsync(s, caller, patientId, identifier, ctx.RequestAborted);
                // A card attempt counts against the same limits as a code request, so card numbers cannot be tried at will.
                var requester = caller.Practitioner ?? caller.Subject;
                // Keyed on what was sent (the id or the identifier), not on the record found: unknown and known alike.
                var subject = subjects.Of(patientId, identifier);
                await RequestLimits.CheckAsync(s, options, requester, subject, now, ctx.RequestAborted);
                // Unknown, closed and another's card look alike (a code refused as such says why: that tells nothing of the record).
                if (patient is null || card.CardId is null || !HealthCard.Belongs(patient, card.CardId))
                {
                    await AccessRequests.AddAsync(s, CardAttempt(caller, requester, subject, patient, asked, now, AccessRequestStatus.Void), ctx.RequestAborted);
                    return new Decision(null, CardRefusal(card));
                }
                // Spent only now, in the session that writes the grant: a replay is the refusal.
                if (!await HealthCard.SpendAsync(s, card, ctx.RequestAborted))
                {
                    await AccessRequests.AddAsync(s, CardAttempt(caller, requester, subject, patient, asked, now, AccessRequestStatus.Void), ctx.RequestAborted);
                    return new Decision(null, Duplicate);
                }
                await AccessRequests.AddAsync(s, CardAttempt(caller, requester, subject, patient, asked, now, AccessRequestStatus.Granted), ctx.RequestAborted);
                var self = "Patient/" + patient.ResourceId;
                var draft = RecordAccess(patient, self, new ConsentVerification(ConsentTerms.HealthCard, self, now), caller.Organization!, caller.Practitioner,
                    asked.Purpose, asked.Start, asked.End, now);
                return new Decision(await ConsentWrites.CreateAsync(s, writer, draft.ToResource(), ctx.RequestAborted), null);
            });
        }
        if (decision.Refusal is { } refusal) throw refusal;
        await ConsentWrites.WriteCreatedAsync(ctx, decision.Consent!);
    }

    /// <param name="card">method=health-card: what the verifier made of the card; null for the SMS code (<paramref name="secret"/>).</param>
    private static async Task<Decision> WithRequestAsync(IWriteSession s, ResourceWriter writer, RecordLookup lookup, GrantOptions options,
        Caller caller, string requestId, string secret, HealthCardResult? card, DateTimeOffset now, CancellationToken ct)
    {
        var (row, patientId, refusal) = await AccessRequests.OpenAsync(s, caller, requestId, purpose => RolePolicy.MayClaim(caller.Roles, purpose), now, ct);
        if (row is null) return new Decision(null, refusal);
        var patient = await lookup.PatientAsync(s, caller, patientId, null, ct);
        var verified = card is null
            ? AccessCodes.Matches(row.Salt, row.Id, secret, row.CodeHash)
            : patient is not null && card.CardId is not null && HealthCard.Belongs(patient, card.CardId);
        if (!verified || patient is null)
            return new Decision(null, await AccessRequests.FailedAttemptAsync(s, row, options, card is null ? "The code is wrong / 授权码错误" : card.Refusal ?? CardNotVerified, ct));
        // Spent only now, right before the grant is written: a replay costs an attempt like a wrong card.
        if (card is not null && !await HealthCard.SpendAsync(s, card, ct))
            return new Decision(null, await AccessRequests.FailedAttemptAsync(s, row, options, HealthCardResult.DuplicateReason, ct));
        var method = card is null ? ConsentTerms.SmsCode : ConsentTerms.HealthCard;
        var consenter = card is null ? row.Recipient! : "Patient/" + patientId;
        var draft = RecordAccess(patient, consenter, new ConsentVerification(method, consenter, now), row.Organization, row.Practitioner,
            row.Purpose, new DateTimeOffset(row.PeriodStart, TimeSpan.Zero), new DateTimeOffset(row.PeriodEnd, TimeSpan.Zero), now);
        var consent = await ConsentWrites.CreateAsync(s, writer, draft.ToResource(), ct);
        await AccessRequests.ConfirmedAsync(s, row, $"Consent/{consent.Id}", ct);
        return new Decision(consent, null);
    }

    /// <summary>The pure check of what was presented (nothing spent); no verifier configured → 501 at once.</summary>
    private static HealthCardResult Verify(IHealthCardVerifier cards, string presented)
    {
        var card = cards.Verify(presented);
        if (card.Status == 501) throw new FhirException(501, card.IssueType ?? "not-supported", card.Refusal ?? UnconfiguredHealthCardVerifier.Reason);
        return card;
    }

    private static FhirException Duplicate => new(422, "duplicate", HealthCardResult.DuplicateReason);

    /// <summary>A refused card: the verifier's reason when the code itself was refused, else the one answer for unknown, closed and another's.</summary>
    private static FhirException CardRefusal(HealthCardResult card) =>
        card.CardId is null && card.Refusal is not null ? new FhirException(422, card.IssueType ?? "security", card.Refusal) : FhirException.Unprocessable(CardNotVerified);

    /// <summary>A health-card authorisation without a prior request, kept as a decided request (no code) for the limits.</summary>
    private static AccessRequestRow CardAttempt(Caller caller, string requester, string subject, ElementNode? patient, AskedAccess asked, DateTimeOffset now, string status) => new()
    {
        Id = AccessCodes.NewRequestId(), Subject = subject, Patient = patient is null ? null : "Patient/" + patient.ResourceId, Requester = requester, Organization = caller.Organization!, Practitioner = caller.Practitioner,
        Purpose = asked.Purpose, PeriodStart = asked.Start.UtcTicks, PeriodEnd = asked.End.UtcTicks, Salt = [], CodeHash = [],
        Created = now.UtcTicks, Expires = now.UtcTicks, Attempts = 1, Status = status,
    };

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

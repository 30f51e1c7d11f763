using System.Globalization;
using FhirArchive.Fhir.Model;
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
/// Patient/[id]/$request-access and Patient/$request-access (by identifier, e.g. the ID card number, for an
/// institution that cannot see the record yet): a clinician, family doctor or system client asks the resident (or
/// a guardian) for access — purpose, period — and a six-digit one-time code goes to that person's phone. The
/// request is kept (hashed code, expiry, attempts) for $grant-access; requests are rate-limited per requester and
/// record, and per requester (<see cref="RequestLimits"/>). Whenever no code can be sent — unknown record, classified person, no mobile phone on file — the
/// answer is one and the same 404, so the operation tells nothing about records the caller may not see.
/// </summary>
public static class RequestAccessEndpoint
{
    public const string NoRecord = "No record that can receive an access request was found; the resident can authorise with the electronic health card instead / 未找到可接收授权短信的档案，可改用电子健康卡授权";

    public static void Map(IEndpointRouteBuilder app)
    {
        var operation = FhirOperation.Local(typeof(RequestAccessEndpoint).Assembly, "Patient-request-access");
        app.MapOperation(operation, OperationLevel.Instance, (HttpContext ctx, string id, IServiceProvider sp) => Handle(ctx, id, sp))
            .WithTags("Consent").WithSummary("ask the resident for access: purpose, start/end or days, recipient; sends a one-time code by SMS (请求授权)")
            .WithMetadata(new DecidesOwnVisibility());
        app.MapOperation(operation, OperationLevel.Type, (HttpContext ctx, IServiceProvider sp) => Handle(ctx, null, sp))
            .WithTags("Consent").WithSummary("ask for access to the record with this identifier (e.g. the ID card number)");
    }

    private static async Task Handle(HttpContext ctx, string? id, IServiceProvider sp)
    {
        var (store, lookup, options, sms, clock) = (sp.GetRequiredService<IResourceStore>(), sp.GetRequiredService<RecordLookup>(),
            sp.GetRequiredService<GrantOptions>(), sp.GetRequiredService<ISmsSender>(), sp.GetRequiredService<TimeProvider>());
        var caller = ctx.GetCaller();
        RecordLookup.RequireInstitutionClinician(caller, "$request-access");
        var p = await OperationParameters.ReadAsync(ctx);
        var now = clock.GetUtcNow();
        var asked = AskedAccess.Read(p, caller, options, now);
        var identifier = id is null ? p.Required("identifier") : null;
        var recipient = p.Value("recipient");
        var code = AccessCodes.NewCode();

        var (row, phone, institution) = await ResourceEndpoints.InSessionAsync(ctx, store, async s =>
        {
            var patient = await lookup.PatientAsync(s, caller, id, identifier, ctx.RequestAborted);
            var patientId = patient?.ResourceId;
            var subject = RequestLimits.Subject(patientId, id, identifier);
            var requester = caller.Practitioner ?? caller.Subject;
            await RequestLimits.CheckAsync(s, options, requester, subject, now, ctx.RequestAborted);
            var (to, phone) = patient is null ? (null, null) : await RecipientAsync(lookup, s, patient, recipient, ctx.RequestAborted);
            var salt = AccessCodes.NewSalt();
            var requestId = AccessCodes.NewRequestId();
            var row = new AccessRequestRow
            {
                Id = requestId, Subject = subject, Requester = requester, Organization = caller.Organization!, Practitioner = caller.Practitioner,
                Recipient = phone is null ? null : to, Purpose = asked.Purpose, PeriodStart = asked.Start.UtcTicks, PeriodEnd = asked.End.UtcTicks,
                Salt = salt, CodeHash = AccessCodes.Hash(salt, requestId, code), Created = now.UtcTicks,
                Expires = now.AddMinutes(options.CodeMinutes).UtcTicks,
                // Nothing to send: kept (void) all the same, so that probing unknown records counts against the limits.
                Status = phone is null ? AccessRequestStatus.Void : AccessRequestStatus.Pending,
            };
            await AccessRequests.AddAsync(s, row, ctx.RequestAborted);
            var org = RecordScope.Parse(await s.ReadAsync("Organization", caller.Organization!.Split('/')[^1], ctx.RequestAborted));
            return (row, phone, org?.Child("name")?.Value ?? caller.Organization);
        });
        if (phone is null) throw FhirException.NotFound(NoRecord);

        var until = new DateTimeOffset(row.PeriodEnd, TimeSpan.Zero).ToOffset(TimeSpan.FromHours(8)).ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);
        var text = $"【FhirArchive】{institution} 请求调阅您的健康档案（目的 {row.Purpose}，至 {until}）。授权码 {code}，{options.CodeMinutes} 分钟内有效，告知医生即视为同意；如不同意请忽略。" +
                   $" / {institution} asks to read your health record (purpose {row.Purpose}, until {until}). Code {code}, valid {options.CodeMinutes} minutes; give it to the doctor to agree, ignore it to refuse.";
        try
        {
            await sms.SendAsync(new SmsMessage(phone, text, "access-code", code), ctx.RequestAborted);
        }
        catch (SmsNotSentException e)
        {
            row.Status = AccessRequestStatus.Void;
            await ResourceEndpoints.InSessionAsync(ctx, store, async s => { await AccessRequests.UpdateAsync(s, row, ctx.RequestAborted); return 0; });
            sp.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(RequestAccessEndpoint)).LogError(e, "Access request {Id}: the code was not sent", row.Id);
            throw new FhirException(503, "transient", "The one-time code could not be sent (SMS gateway); try again later / 短信发送失败，请稍后重试");
        }

        var result = FhirParameters.Create();
        FhirParameters.Add(result, "request", row.Id, "string");
        FhirParameters.Add(result, "expires", FhirInstant.ToSecond(new DateTimeOffset(row.Expires, TimeSpan.Zero)), "instant");
        FhirParameters.Add(result, "phone", RecordLookup.MaskPhone(phone), "string");
        FhirParameters.Add(result, "start", FhirInstant.ToSecond(asked.Start), "dateTime");
        FhirParameters.Add(result, "end", FhirInstant.ToSecond(asked.End), "dateTime");
        FhirParameters.Add(result, "attempts", options.MaxAttempts.ToString(CultureInfo.InvariantCulture), "integer");
        await FhirFormats.WriteNodeAsync(ctx, 200, result);
    }

    /// <summary>
    /// Who gets the code: the recipient asked for (the resident, or one of their RelatedPersons), else the resident,
    /// else (a minor, a resident without a phone) the first of their RelatedPersons with a phone. No phone: (_, null).
    /// </summary>
    private static async Task<(string? To, string? Phone)> RecipientAsync(RecordLookup lookup, IWriteSession s, ElementNode patient, string? recipient, CancellationToken ct)
    {
        var self = "Patient/" + patient.ResourceId;
        if (recipient is null || recipient == self)
        {
            if (RecordLookup.MobilePhone(patient) is { } own) return (self, own);
            if (recipient is not null) return (null, null);
            foreach (var person in await lookup.RelatedPersonsAsync(s, patient.ResourceId!, ct))
                if (RecordLookup.MobilePhone(person) is { } phone) return ("RelatedPerson/" + person.ResourceId, phone);
            return (null, null);
        }
        var related = await RecordLookup.RelatedPersonOfAsync(s, recipient, patient.ResourceId!, ct);
        return related is not null && RecordLookup.MobilePhone(related) is { } p ? (recipient, p) : (null, null);
    }
}

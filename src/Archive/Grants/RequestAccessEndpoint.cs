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
            var subject = sp.GetRequiredService<RequestSubjects>().Of(id, identifier);
            var (row, phone) = await AccessRequests.IssueAsync(s, lookup, options, caller, patient, subject, recipient, asked.Purpose, asked.Start, asked.End,
                code, now, ctx.RequestAborted);
            return (row, phone, await InstitutionNameAsync(s, caller, ctx.RequestAborted));
        });
        if (phone is null) throw FhirException.NotFound(NoRecord);

        var until = new DateTimeOffset(row.PeriodEnd, TimeSpan.Zero).ToOffset(TimeSpan.FromHours(8)).ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);
        var text = $"【FhirArchive】{institution} 请求调阅您的健康档案（目的 {row.Purpose}，至 {until}）。授权码 {code}，{options.CodeMinutes} 分钟内有效，告知医生即视为同意；如不同意请忽略。" +
                   $" / {institution} asks to read your health record (purpose {row.Purpose}, until {until}). Code {code}, valid {options.CodeMinutes} minutes; give it to the doctor to agree, ignore it to refuse.";
        await SendCodeAsync(ctx, store, sms, row, phone, text, code);

        var result = FhirParameters.Create();
        FhirParameters.Add(result, "request", row.Id, "string");
        FhirParameters.Add(result, "expires", FhirInstant.ToSecond(new DateTimeOffset(row.Expires, TimeSpan.Zero)), "instant");
        FhirParameters.Add(result, "phone", Masks.Phone(phone), "string");
        FhirParameters.Add(result, "start", FhirInstant.ToSecond(asked.Start), "dateTime");
        FhirParameters.Add(result, "end", FhirInstant.ToSecond(asked.End), "dateTime");
        FhirParameters.Add(result, "attempts", options.MaxAttempts.ToString(CultureInfo.InvariantCulture), "integer");
        await FhirFormats.WriteNodeAsync(ctx, 200, result);
    }

    /// <summary>The name of the caller's institution, as the resident's text message names who asks.</summary>
    public static async Task<string> InstitutionNameAsync(IWriteSession s, Caller caller, CancellationToken ct) =>
        RecordScope.Parse(await s.ReadAsync("Organization", caller.Organization!.Split('/')[^1], ct))?.Child("name")?.Value ?? caller.Organization!;

    /// <summary>Sends a request's code; when the gateway fails, the request is void and the answer a 503.</summary>
    public static async Task SendCodeAsync(HttpContext ctx, IResourceStore store, ISmsSender sms, AccessRequestRow row, string phone, string text, string code)
    {
        try
        {
            await sms.SendAsync(new SmsMessage(phone, text, "access-code", code), ctx.RequestAborted);
        }
        catch (SmsNotSentException e)
        {
            row.Status = AccessRequestStatus.Void;
            await ResourceEndpoints.InSessionAsync(ctx, store, async s => { await AccessRequests.UpdateAsync(s, row, ctx.RequestAborted); return 0; });
            ctx.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(RequestAccessEndpoint)).LogError(e, "Request {Id}: the code was not sent", row.Id);
            throw new FhirException(503, "transient", "The one-time code could not be sent (SMS gateway); try again later / 短信发送失败，请稍后重试");
        }
    }
}

using System.Globalization;
using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;
using FhirArchive.Storage.Writing;
using Microsoft.EntityFrameworkCore;

namespace FhirArchive.Archive.Grants;

/// <summary>
/// The pending requests for a resident's one-time code (an access authorisation, a transfer confirmation), read and
/// written inside a write session (the same transaction and the same single writer as what the code confirms, so a
/// code is used once even when two confirmations race): issued under the rate limits to the resident or a guardian,
/// checked against expiry and the attempts left.
/// </summary>
public static class AccessRequests
{
    private static FhirDbContext Db(IWriteSession s) => s.DbContext();

    public static async Task AddAsync(IWriteSession s, AccessRequestRow row, CancellationToken ct = default)
    {
        var db = Db(s);
        db.AccessRequests.Add(row);
        await db.SaveChangesAsync(ct);
        db.ChangeTracker.Clear();
    }

    public static Task<AccessRequestRow?> FindAsync(IWriteSession s, string id, CancellationToken ct = default) =>
        Db(s).AccessRequests.AsNoTracking().FirstOrDefaultAsync(r => r.Id == id, ct);

    /// <summary>Requests made since <paramref name="since"/> (UTC ticks) by this requester: over all records, and about this subject.</summary>
    public static async Task<(int ByRequester, int ByRequesterAndSubject)> CountSinceAsync(IWriteSession s, string requester, string subject, long since, CancellationToken ct = default)
    {
        var mine = Db(s).AccessRequests.Where(r => r.Requester == requester && r.Created >= since);
        return (await mine.CountAsync(ct), await mine.CountAsync(r => r.Subject == subject, ct));
    }

    /// <summary>Saves the attempts, status and consent of a request.</summary>
    public static Task UpdateAsync(IWriteSession s, AccessRequestRow row, CancellationToken ct = default) =>
        Db(s).AccessRequests.Where(r => r.Id == row.Id).ExecuteUpdateAsync(u => u
            .SetProperty(r => r.Attempts, row.Attempts)
            .SetProperty(r => r.Status, row.Status)
            .SetProperty(r => r.Consent, row.Consent), ct);

    /// <summary>
    /// A new request for <paramref name="code"/> (the caller asks about <paramref name="subject"/>; <paramref name="patient"/>
    /// null when no record was found): checked against the rate limits, addressed to the recipient asked for or found
    /// (<see cref="RecipientAsync"/>) and kept — void when there is no phone to send to, so probing counts as well.
    /// </summary>
    public static async Task<(AccessRequestRow Row, string? Phone)> IssueAsync(IWriteSession s, RecordLookup lookup, GrantOptions options, Caller caller,
        ElementNode? patient, string subject, string? recipient, string purpose, DateTimeOffset start, DateTimeOffset end, string code, DateTimeOffset now, CancellationToken ct)
    {
        var requester = caller.Practitioner ?? caller.Subject;
        await RequestLimits.CheckAsync(s, options, requester, subject, now, ct);
        var (to, phone) = patient is null ? (null, null) : await RecipientAsync(lookup, s, patient, recipient, ct);
        var salt = AccessCodes.NewSalt();
        var requestId = AccessCodes.NewRequestId();
        var row = new AccessRequestRow
        {
            Id = requestId, Subject = subject, Patient = patient is null ? null : "Patient/" + patient.ResourceId, Requester = requester, Organization = caller.Organization!, Practitioner = caller.Practitioner,
            Recipient = phone is null ? null : to, Purpose = purpose, PeriodStart = start.UtcTicks, PeriodEnd = end.UtcTicks,
            Salt = salt, CodeHash = AccessCodes.Hash(salt, requestId, code), Created = now.UtcTicks,
            Expires = now.AddMinutes(options.CodeMinutes).UtcTicks,
            Status = phone is null ? AccessRequestStatus.Void : AccessRequestStatus.Pending,
        };
        await AddAsync(s, row, ct);
        return (row, phone);
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

    /// <summary>
    /// The request <paramref name="requestId"/> of the caller's institution about a record, still open: (row, patient id),
    /// or the refusal — unknown (another institution's is as unknown), decided, void or expired (marked so).
    /// </summary>
    /// <param name="serves">Whether a request of that purpose is one this confirmation is for: a code the resident got to
    /// agree to a transfer never opens an access grant, nor the reverse (either is "not known").</param>
    public static async Task<(AccessRequestRow? Row, string? PatientId, FhirException? Refusal)> OpenAsync(IWriteSession s, Caller caller, string requestId,
        Func<string, bool> serves, DateTimeOffset now, CancellationToken ct)
    {
        var row = await FindAsync(s, requestId, ct);
        if (row is null || row.Organization != caller.Organization || !serves(row.Purpose) || row.Patient?.Split('/') is not ["Patient", var patientId])
            return (null, null, FhirException.NotFound($"Request '{requestId}' is not known / 请求不存在"));
        switch (row.Status)
        {
            case AccessRequestStatus.Granted: return (null, null, FhirException.Conflict($"Request '{requestId}' was confirmed already ({row.Consent}) / 该请求已确认"));
            case AccessRequestStatus.Void: return (null, null, FhirException.Unprocessable($"Request '{requestId}' is void (no code was sent, or its attempts are used up): ask again / 请求已作废，请重新申请"));
            case AccessRequestStatus.Expired: return (null, null, Expired(requestId));
        }
        if (now.UtcTicks > row.Expires)
        {
            row.Status = AccessRequestStatus.Expired;
            await UpdateAsync(s, row, ct);
            return (null, null, Expired(requestId));
        }
        return (row, patientId, null);
    }

    /// <summary>A wrong code or card: one attempt fewer (void when none are left), and the 422 that says how many are left.</summary>
    public static async Task<FhirException> FailedAttemptAsync(IWriteSession s, AccessRequestRow row, GrantOptions options, string what, CancellationToken ct)
    {
        row.Attempts++;
        var left = Math.Max(0, options.MaxAttempts - row.Attempts);
        if (left == 0) row.Status = AccessRequestStatus.Void;
        await UpdateAsync(s, row, ct);
        return new FhirException(422, "security", left == 0
            ? $"{what}: no attempts are left, the request is void; ask again / 尝试次数已用完，请求已作废"
            : $"{what}: {left.ToString(CultureInfo.InvariantCulture)} attempt(s) left / 剩余 {left} 次");
    }

    /// <summary>The request is used: <paramref name="result"/> ("Consent/…", "Task/…") is what the code confirmed.</summary>
    public static Task ConfirmedAsync(IWriteSession s, AccessRequestRow row, string result, CancellationToken ct)
    {
        row.Status = AccessRequestStatus.Granted;
        row.Consent = result;
        return UpdateAsync(s, row, ct);
    }

    private static FhirException Expired(string requestId) =>
        new(422, "expired", $"The code of request '{requestId}' has expired: ask again / 验证码已过期，请重新申请");
}

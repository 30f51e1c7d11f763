using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;

using FhirArchive.Archive.Consent;

namespace FhirArchive.Archive.Grants;

/// <summary>
/// The rate limits on asking for access (code requests and health-card attempts alike), both within
/// <see cref="GrantOptions.RateWindowMinutes"/>: at most <see cref="GrantOptions.RateLimit"/> per requester and record
/// (guessing one record's codes or cards, pestering one resident), and <see cref="GrantOptions.RequesterRateLimit"/>
/// per requester over all records (a busy clinic asks many residents; a runaway client does not ask thousands).
/// </summary>
public static class RequestLimits
{
    public static async Task CheckAsync(IWriteSession s, GrantOptions options, string requester, string subject, DateTimeOffset now, CancellationToken ct)
    {
        var since = now.AddMinutes(-options.RateWindowMinutes).UtcTicks;
        var (byRequester, byRecord) = await AccessRequests.CountSinceAsync(s, requester, subject, since, ct);
        if (byRecord >= options.RateLimit)
            throw Throttled($"at most {options.RateLimit} for one record in {options.RateWindowMinutes} minutes / 同一档案 {options.RateWindowMinutes} 分钟内至多 {options.RateLimit} 次");
        if (byRequester >= options.RequesterRateLimit)
            throw Throttled($"at most {options.RequesterRateLimit} per requester in {options.RateWindowMinutes} minutes / 每位请求者 {options.RateWindowMinutes} 分钟内至多 {options.RequesterRateLimit} 次");
    }

    private static FhirException Throttled(string limit) =>
        new(429, "throttled", $"Too many access requests ({limit}); try again later / 授权请求过于频繁，请稍后再试");

    /// <summary>What a request counts under: the record when known, else what was asked for (so probing unknown records counts too).</summary>
    public static string Subject(string? patientId, string? askedId, string? identifier) =>
        patientId is not null ? "Patient/" + patientId : askedId is not null ? "Patient/" + askedId : "identifier:" + identifier;
}

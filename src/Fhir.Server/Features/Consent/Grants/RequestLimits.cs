using FhirArchive.Server.Infrastructure;
using FhirArchive.Storage;
using FhirArchive.Storage.Grants;

namespace FhirArchive.Server.Features.Consent.Grants;

/// <summary>
/// The rate limits on asking for access: at most <see cref="GrantOptions.RateLimit"/> requests (code requests and
/// health-card attempts alike) per requester and per record within <see cref="GrantOptions.RateWindowMinutes"/>.
/// </summary>
public static class RequestLimits
{
    public static async Task CheckAsync(IWriteSession s, GrantOptions options, string requester, string subject, DateTimeOffset now, CancellationToken ct)
    {
        var since = now.AddMinutes(-options.RateWindowMinutes).UtcTicks;
        var (byRequester, bySubject) = await AccessRequests.CountSinceAsync(s, requester, subject, since, ct);
        if (byRequester >= options.RateLimit || bySubject >= options.RateLimit)
            throw new FhirException(429, "throttled",
                $"Too many access requests: at most {options.RateLimit} per requester and per record in {options.RateWindowMinutes} minutes; try again later / 授权请求过于频繁，请稍后再试");
    }

    /// <summary>What a request counts under: the record when known, else what was asked for (so probing unknown records counts too).</summary>
    public static string Subject(string? patientId, string? askedId, string? identifier) =>
        patientId is not null ? "Patient/" + patientId : askedId is not null ? "Patient/" + askedId : "identifier:" + identifier;
}

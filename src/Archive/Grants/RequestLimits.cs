using System.Security.Cryptography;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;
using FhirArchive.Storage.Encryption;

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

}

/// <summary>
/// What an access request counts under for the per-record limit, and is kept as (<see cref="AccessRequestRow.Subject"/>):
/// what the caller sent, never what it resolved to, so a known and an unknown record are limited alike and the limit
/// tells nothing of whether a resident exists — "Patient/{id}" for a record named by id, else "identifier:" and a keyed
/// hash of the identifier's value (its system left out, trimmed, upper-case: 11010519800101001x and …001X count as one),
/// so the table never holds an ID card number in clear. The key, decided here only: with field encryption on, the
/// blind-index key (<see cref="FieldEncryption.Blind"/>, HMAC-SM3, in its own domain); with it off, a random key made at
/// start and kept in memory only (HMAC-SM3 as well) — nothing stored can be turned back into a number even with the
/// database in hand, at the price that per-identifier counts start again when the server restarts (a limit's window is
/// minutes) and are per instance when several serve one database (the per-requester limit counts across them).
/// </summary>
public sealed class RequestSubjects(FieldEncryption encryption)
{
    private const string Domain = "AccessRequest.identifier";
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);

    public string Of(string? patientId, string? identifier) =>
        patientId is not null ? "Patient/" + patientId : "identifier:" + Hash(Normalise(identifier ?? ""));

    private static string Normalise(string identifier) => identifier[(identifier.LastIndexOf('|') + 1)..].Trim().ToUpperInvariant();

    private string Hash(string value) => encryption.Enabled
        ? encryption.Blind(Domain, value)
        : FieldEncryption.KeyedTag(_key, Domain, value);
}

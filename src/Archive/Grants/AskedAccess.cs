using System.Globalization;
using FhirArchive.Rest.Access;
using FhirArchive.Archive.Records;
using FhirArchive.Rest.Infrastructure;

using FhirArchive.Archive.Consent;

namespace FhirArchive.Archive.Grants;

/// <summary>What a clinician asks for: the purpose of use (default TREAT) and the period (start/end or days, capped).</summary>
public sealed record AskedAccess(string Purpose, DateTimeOffset Start, DateTimeOffset End)
{
    public static AskedAccess Read(OperationParameters p, Caller caller, GrantOptions options, DateTimeOffset now)
    {
        var purpose = p.Value("purpose") ?? ConsentTerms.Treatment;
        if (!RolePolicy.MayClaim(caller.Roles, purpose))
            throw FhirException.BadRequest($"The purpose of use '{purpose}' may not be claimed by the role {string.Join(", ", caller.Roles)} (v3-ActReason, e.g. {ConsentTerms.Treatment}).");
        var start = Time(p, "start") ?? now;
        if (start < now.AddMinutes(-5)) start = now; // an authorisation does not reach back in time
        DateTimeOffset end;
        if (Time(p, "end") is { } e) end = e;
        else
        {
            end = start.AddDays(p.Integer("days", 1) ?? options.DefaultDays);
        }
        if (end <= start) throw FhirException.BadRequest("The period asked for ends before it starts.");
        if (end - start > TimeSpan.FromDays(options.MaxDays))
            throw FhirException.BadRequest($"An authorisation lasts at most {options.MaxDays} days / 授权期限最长 {options.MaxDays} 天.");
        return new AskedAccess(purpose, start, end);
    }

    /// <summary>A date (from the start of that day, Beijing time) or a dateTime; 400 for anything else.</summary>
    public static DateTimeOffset? Time(OperationParameters p, string name)
    {
        if (p.Value(name) is not { } text) return null;
        if (DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
            return new DateTimeOffset(day.ToDateTime(TimeOnly.MinValue), TimeSpan.FromHours(8));
        if (text.Contains('T') && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)) return t;
        throw FhirException.BadRequest($"'{name}' must be a date or a dateTime, not '{text}'.");
    }
}

using System.Globalization;
using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;
using Microsoft.Extensions.Caching.Memory;

namespace FhirArchive.Archive.Consent;

/// <summary>
/// Gathers what the decision needs of a record — the Patient's holder, family doctors, classified flag and birth
/// date, and its record-opening Consents — with a short-lived cache that every write of a Patient or Consent
/// clears (<see cref="ConsentCacheInterceptor"/>), so a revocation takes effect on the next request.
/// </summary>
public sealed class RecordDirectory(IResourceStore store, ConsentOptions options, TimeProvider clock)
{
    private sealed record Entry(RecordFacts Facts, IReadOnlyList<ConsentGrant> Consents, DateTimeOffset Expires);

    private readonly MemoryCache _cache = new(new MemoryCacheOptions());

    public void Forget(string patientId) => _cache.Remove(patientId);

    public void ForgetAll() => _cache.Clear();

    public async ValueTask<(RecordFacts, IReadOnlyList<ConsentGrant>)> GetAsync(string patientId, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        if (_cache.TryGetValue(patientId, out Entry? e) && e!.Expires > now) return (e.Facts, e.Consents);
        var stored = await store.ReadAsync("Patient", patientId, ct);
        var facts = stored is { IsDeleted: false, Json: { } json } ? Facts(patientId, FhirFormats.ParseStored(json)) : RecordFacts.Missing(patientId);
        var consents = new List<ConsentGrant>();
        if (facts.Exists)
            foreach (var c in await store.RevIncludesAsync("Consent", "patient", "Patient", [patientId], ct))
                if (c.Json is { } cj && Grant(FhirFormats.ParseStored(cj)) is { } g) consents.Add(g);
        _cache.Set(patientId, new Entry(facts, consents, now.AddSeconds(options.CacheSeconds)));
        return (facts, consents);
    }

    public async ValueTask<GuardianFacts?> GuardianAsync(string? fhirUser, CancellationToken ct)
    {
        if (fhirUser is null || !fhirUser.StartsWith("RelatedPerson/", StringComparison.Ordinal)) return null;
        var id = fhirUser["RelatedPerson/".Length..];
        if (await store.ReadAsync("RelatedPerson", id, ct) is not { IsDeleted: false, Json: { } json }) return null;
        var node = FhirFormats.ParseStored(json);
        var patient = Id(node.Child("patient")?.Child("reference")?.Value, "Patient");
        var guardianship = Grants.RecordLookup.Guardianship(node);
        return new GuardianFacts(id, patient, node.Child("active")?.Value != "false", guardianship);
    }

    public static RecordFacts Facts(string id, ElementNode patient)
    {
        var classified = patient.Child("meta")?.ChildrenNamed("security")
            .Any(s => s.Child("system")?.Value == ConsentTerms.SensitivitySystem && s.Child("code")?.Value == ConsentTerms.Classified) == true;
        var doctors = patient.ChildrenNamed("generalPractitioner").Select(g => g.Child("reference")?.Value)
            .Where(r => r?.StartsWith("Practitioner/", StringComparison.Ordinal) == true).Select(r => r!).ToList();
        return new RecordFacts(id, true, patient.Child("managingOrganization")?.Child("reference")?.Value, doctors, classified,
            LatestBirthDate(patient.Child("birthDate")?.Value));
    }

    /// <summary>A partial birth date (1990, 1990-05) is read as its latest possible day: when in doubt, a minor.</summary>
    public static DateOnly? LatestBirthDate(string? value)
    {
        if (value is null) return null;
        var parts = value.Split('-');
        if (!int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var year) || year < 1 || year > 9999) return null;
        var month = parts.Length > 1 && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var m) && m is >= 1 and <= 12 ? m : 12;
        var day = parts.Length > 2 && int.TryParse(parts[2].AsSpan(0, Math.Min(2, parts[2].Length)), NumberStyles.None, CultureInfo.InvariantCulture, out var d)
            ? Math.Clamp(d, 1, DateTime.DaysInMonth(year, month)) : DateTime.DaysInMonth(year, month);
        return new DateOnly(year, month, day);
    }

    /// <summary>An active Consent of one of the record-opening categories; anything else is not a grant.</summary>
    public static ConsentGrant? Grant(ElementNode consent)
    {
        if (consent.Child("status")?.Value != "active") return null;
        var category = consent.ChildrenNamed("category").SelectMany(c => c.ChildrenNamed("coding"))
            .Where(c => c.Child("system")?.Value == ConsentTerms.CategorySystem).Select(c => c.Child("code")?.Value).FirstOrDefault();
        if (category is null) return null;
        var provision = consent.Child("provision");
        if (provision?.Child("type")?.Value is { } type && type != "permit") return null;
        var period = provision?.Child("period");
        return new ConsentGrant(consent.ResourceId ?? "", category,
            Instant(period?.Child("start")?.Value, false), Instant(period?.Child("end")?.Value, true),
            provision?.ChildrenNamed("actor").Select(a => a.Child("reference")?.Child("reference")?.Value).OfType<string>().ToList() ?? [],
            provision?.ChildrenNamed("purpose").Select(p => p.Child("code")?.Value).OfType<string>().ToList() ?? [],
            consent.ChildrenNamed("performer").Select(p => p.Child("reference")?.Value).OfType<string>().ToList());
    }

    /// <summary>A FHIR dateTime as an instant; a date alone means its start (or, for an end, the start of the next day).</summary>
    public static DateTimeOffset? Instant(string? value, bool end)
    {
        if (value is null) return null;
        if (value.Length == 10 && DateOnly.TryParseExact(value, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
        {
            var start = new DateTimeOffset(date.ToDateTime(TimeOnly.MinValue), TimeSpan.FromHours(8));
            return end ? start.AddDays(1) : start;
        }
        return DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : end ? DateTimeOffset.MinValue : DateTimeOffset.MaxValue;
    }

    /// <summary>The id in a relative reference of the type ("Patient/p1" or "Patient/p1/_history/2" → "p1"), else null.</summary>
    public static string? Id(string? reference, string type) =>
        reference is not null && reference.StartsWith(type + "/", StringComparison.Ordinal) ? reference[(type.Length + 1)..].Split('/')[0] : null;
}

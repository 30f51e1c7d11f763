using FhirArchive.Archive.Records;
using FhirArchive.Fhir.Model;
using FhirArchive.Profiles;
using FhirArchive.Rest.Search;
using FhirArchive.Storage;
using Microsoft.Extensions.Caching.Memory;

namespace FhirArchive.Archive.PatientIdentity;

/// <summary>
/// A patient identifier domain (IHE: Patient Identification Domain, its assigning authority): the system URIs that
/// name it (an OID and its aliases), a title, and the institution that assigns its identifiers — null for the
/// national ones (ID card, birth certificate, health card, record number…), which no single institution feeds.
/// </summary>
public sealed record IdentifierDomain(IReadOnlyList<string> Systems, string Title, string? Institution)
{
    public bool Names(string system) => Systems.Contains(system, StringComparer.Ordinal);
}

/// <summary>
/// The identifier domains the server recognises (PIXm "Assigning Authority"): the national person identifiers of the
/// package's naming systems (<see cref="NamingSystems"/>, <see cref="IdentityKeys.MotherIdCardSystem"/>), and each
/// institution's medical record numbers, registered as a stored NamingSystem (kind identifier, status active, the
/// system in uniqueId) whose useContext <c>venue</c> names the institution (valueReference Organization/…): that
/// institution is the domain's one Patient Identity Source (ITI-104: "a single Patient Identity Source per domain").
/// </summary>
public sealed class IdentifierDomains(IResourceStore store, SearchParser parser)
{
    public const string UsageContextSystem = "http://terminology.hl7.org/CodeSystem/usage-context-type";
    public const string InstitutionContext = "venue";

    /// <summary>Person identifiers only: the institution and professional identifiers name no patient.</summary>
    private static readonly IReadOnlyList<IdentifierDomain> National =
    [
        .. NamingSystems.All.Where(e => e.Id is not ("institution" or "health-professional"))
            .Select(e => new IdentifierDomain(NamingSystems.Aliases(e.Oid.Length > 0 ? "urn:oid:" + e.Oid : e.Uri!), e.Title, null)),
        new([IdentityKeys.MotherIdCardSystem], "母亲身份证号 / Mother's ID card number (undocumented infant)", null),
    ];

    /// <summary>How long an answer is kept at most: a NamingSystem written through another instance is seen after it.</summary>
    private static readonly TimeSpan KeptFor = TimeSpan.FromMinutes(5);

    private readonly MemoryCache _found = new(new MemoryCacheOptions { SizeLimit = 10_000 });
    private long _generation;

    /// <summary>
    /// The domain a system URI names, or null when the server does not recognise it. The answer (an unknown system
    /// too) is kept until a NamingSystem is written here (<see cref="Forget"/>), at most <see cref="KeptFor"/>: every Patient write asks.
    /// </summary>
    public async Task<IdentifierDomain?> FindAsync(string system, CancellationToken ct)
    {
        if (National.FirstOrDefault(d => d.Names(system)) is { } national) return national;
        if (_found.TryGetValue(system, out Found? kept)) return kept!.Domain;
        var generation = Interlocked.Read(ref _generation);
        var domain = await LookUpAsync(system, ct);
        // A NamingSystem written during the look-up may not be in its answer: kept only when none was.
        if (Interlocked.Read(ref _generation) == generation) _found.Set(system, new Found(domain), new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = KeptFor });
        return domain;
    }

    /// <summary>Drops every kept answer (a NamingSystem was written: a domain may be new, changed or gone).</summary>
    public void Forget()
    {
        Interlocked.Increment(ref _generation);
        _found.Clear();
    }

    private sealed record Found(IdentifierDomain? Domain);

    private async Task<IdentifierDomain?> LookUpAsync(string system, CancellationToken ct)
    {
        var isOid = system.StartsWith("urn:oid:", StringComparison.Ordinal);
        var value = isOid ? system[8..] : system;
        if (value.Length == 0) return null;
        Storage.Search.SearchQuery query;
        try
        {
            (query, _) = await parser.ParseAsync("NamingSystem", [new("value:exact", SearchParser.Escape(value)), new("kind", "identifier"), new("status", "active")], strict: true, ct);
        }
        catch (Rest.Infrastructure.FhirException)
        {
            return null; // a system no search can name (too long for a value): no registered domain
        }
        query.Count = 10;
        query.IncludeTotal = false;
        foreach (var stored in (await store.SearchAsync(query, ct)).Matches)
        {
            if (stored.Json is null) continue;
            var ns = Rest.Infrastructure.FhirFormats.ParseStored(stored.Json);
            var systems = Systems(ns);
            if (!systems.Contains(system)) continue;
            return new IdentifierDomain(systems, ns.Child("title")?.Value ?? ns.Child("name")?.Value ?? system, InstitutionOf(ns));
        }
        return null;
    }

    /// <summary>The system URIs of a NamingSystem's unique ids (an oid as urn:oid:…).</summary>
    private static List<string> Systems(ElementNode ns) =>
        [.. ns.ChildrenNamed("uniqueId").Select(u => (Type: u.Child("type")?.Value, Value: u.Child("value")?.Value))
            .Where(u => !string.IsNullOrEmpty(u.Value)).Select(u => u.Type == "oid" && !u.Value!.StartsWith("urn:oid:", StringComparison.Ordinal) ? "urn:oid:" + u.Value : u.Value!)];

    private static string? InstitutionOf(ElementNode ns) =>
        ns.ChildrenNamed("useContext").Where(c => c.Child("code") is { } code && code.Child("system")?.Value == UsageContextSystem && code.Child("code")?.Value == InstitutionContext)
            .Select(c => c.Child("value")?.Child("reference")?.Value).FirstOrDefault(r => r?.StartsWith("Organization/", StringComparison.Ordinal) == true);
}

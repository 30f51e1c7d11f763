using System.Globalization;
using System.Text.Json.Nodes;
using FhirArchive.Fhir.Model;
using FhirArchive.Profiles;
using FhirArchive.Profiles.Identifiers;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Metadata;
using FhirArchive.Rest.Search;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;

namespace FhirArchive.Archive.Records;

/// <summary>
/// Patient/$match (IHE PDQm style): candidates for the Patient in the "resource" parameter, found by ID card number,
/// phone, name with birth date, and birth date with sex, each scored from the agreeing fields (the ID card number
/// alone is certain) and graded with the match-grade extension (certain, probable, possible). Results pass the
/// access policy like any read.
/// </summary>
public static class MatchEndpoint
{
    public const string MatchGrade = "http://hl7.org/fhir/StructureDefinition/match-grade";
    private const int CandidatesPerQuery = 50;

    public static void Map(IEndpointRouteBuilder app) =>
        app.MapOperation(FhirOperation.Core("Patient-match"), OperationLevel.Type, Match).WithTags("Records").WithSummary("find record candidates for a person (resource, onlyCertainMatches, count), scored with a match grade");

    private static async Task Match(HttpContext ctx, IResourceStore store, SearchParser parser, ReadGuard guard)
    {
        var p = await OperationParameters.ReadAsync(ctx);
        var wanted = p.Resource("resource") ?? throw FhirException.BadRequest("$match needs the Patient to match in the parameter 'resource'.");
        if (wanted.Type != "Patient") throw FhirException.BadRequest($"$match matches a Patient, not a {wanted.Type}.");
        var onlyCertain = p.Boolean("onlyCertainMatches") == true;
        var count = int.TryParse(p.Value("count"), out var c) && c > 0 ? Math.Min(c, 100) : 10;
        var probe = Person.Of(wanted);
        if (probe.IsEmpty) throw FhirException.BadRequest("$match needs at least an identifier, a name, a birth date or a phone number.");

        List<string> labels = [];
        var scored = await guard.RunAsync(ctx, "operation", "Patient", async access =>
        {
            // Scored on the record as stored, answered as the caller is shown it (possibly masked).
            var found = new Dictionary<string, (StoredResource Stored, StoredResource Shown)>(StringComparer.Ordinal);
            foreach (var criteria in probe.Queries())
            {
                var (query, _) = await parser.ParseAsync("Patient", criteria, strict: true, ctx.RequestAborted);
                query.Count = CandidatesPerQuery;
                query.IncludeTotal = false;
                foreach (var r in (await store.SearchAsync(query, ctx.RequestAborted)).Matches)
                    if (!found.ContainsKey(r.Id) && await guard.ShowAsync(access, r) is { } shown) found[r.Id] = (r, shown);
            }
            labels = [.. Redaction.Labels(access)];
            return found.Values.Select(r => (Resource: r.Shown, Score: probe.Score(Person.Of(FhirFormats.ParseStored(r.Stored.Json!)))))
                .Where(x => x.Score >= 0.5).OrderByDescending(x => x.Score).ThenBy(x => x.Resource.Id, StringComparer.Ordinal).ToList();
        });
        if (onlyCertain) scored = scored.Where(x => Grade(x.Score) == "certain").ToList();

        var bundle = new JsonObject { ["resourceType"] = "Bundle" };
        if (labels.Count > 0)
            bundle["meta"] = new JsonObject { ["security"] = new JsonArray([.. labels.Select(c => new JsonObject { ["system"] = Redaction.System, ["code"] = c })]) };
        bundle["type"] = "searchset";
        bundle["total"] = Math.Min(scored.Count, count);
        var entries = new JsonArray();
        foreach (var (r, score) in scored.Take(count))
            entries.Add(new JsonObject
            {
                ["fullUrl"] = $"{FhirHeaders.BaseUrl(ctx.Request)}/Patient/{r.Id}",
                ["resource"] = JsonNode.Parse(r.Json!),
                ["search"] = new JsonObject
                {
                    ["extension"] = new JsonArray(new JsonObject { ["url"] = MatchGrade, ["valueCode"] = Grade(score) }),
                    ["mode"] = "match",
                    ["score"] = Math.Round(score, 3),
                },
            });
        bundle["entry"] = entries;
        await FhirFormats.WriteJsonBytesAsync(ctx, 200, FhirFormats.Utf8(bundle.ToJsonString()));
    }

    public static string Grade(double score) => score >= 0.99 ? "certain" : score >= 0.8 ? "probable" : "possible";

    /// <summary>The fields $match compares, normalised.</summary>
    private sealed record Person(IReadOnlyList<string> IdCards, string? Name, string? BirthDate, string? Gender, IReadOnlyList<string> Phones, string? Address)
    {
        private static readonly IReadOnlyList<string> IdCardSystems = NamingSystems.Aliases(ResidentIdCard.OidSystem);

        public bool IsEmpty => IdCards.Count == 0 && Name is null && BirthDate is null && Phones.Count == 0;

        public static Person Of(ElementNode p)
        {
            var ids = p.ChildrenNamed("identifier").Where(i => IdCardSystems.Contains(i.Child("system")?.Value ?? ""))
                .Select(i => i.Child("value")?.Value?.Trim().ToUpperInvariant()).OfType<string>().ToList();
            var name = p.ChildrenNamed("name").Select(n => n.Child("text")?.Value ?? n.Child("family")?.Value + string.Concat(n.ChildrenNamed("given").Select(g => g.Value)))
                .FirstOrDefault(n => !string.IsNullOrWhiteSpace(n))?.Replace(" ", "");
            var phones = p.ChildrenNamed("telecom").Where(t => t.Child("system")?.Value == "phone").Select(t => Digits(t.Child("value")?.Value)).OfType<string>().ToList();
            var address = p.ChildrenNamed("address").Select(a => a.Child("text")?.Value ?? string.Concat(a.Children.Where(x => x.IsPrimitive && x.Name is "city" or "district" or "line").Select(x => x.Value)))
                .FirstOrDefault(a => !string.IsNullOrWhiteSpace(a));
            return new Person(ids, string.IsNullOrEmpty(name) ? null : name, p.Child("birthDate")?.Value, p.Child("gender")?.Value, phones, address);
        }

        private static string? Digits(string? s) => s is null ? null : new string(s.Where(char.IsAsciiDigit).ToArray()) is { Length: > 0 } d ? d : null;

        /// <summary>The searches that gather candidates: each narrow enough to use an index.</summary>
        public IEnumerable<List<KeyValuePair<string, string>>> Queries()
        {
            foreach (var id in IdCards) yield return [new("identifier", $"{ResidentIdCard.OidSystem}|{id}")];
            foreach (var phone in Phones) yield return [new("phone", phone)];
            if (Name is not null && BirthDate is not null) yield return [new("name", Name), new("birthdate", BirthDate)];
            else if (Name is not null) yield return [new("name", Name)];
            if (BirthDate is not null && Gender is not null) yield return [new("birthdate", BirthDate), new("gender", Gender)];
        }

        /// <summary>1 for the same ID card number; else the weights of the agreeing fields (a different ID card number rules a match out).</summary>
        public double Score(Person other)
        {
            if (IdCards.Count > 0 && other.IdCards.Count > 0)
                return IdCards.Intersect(other.IdCards).Any() ? 1.0 : 0.0;
            var score = 0.0;
            if (Name is not null && Name == other.Name) score += 0.35;
            if (BirthDate is not null && BirthDate == other.BirthDate) score += 0.25;
            if (Gender is not null && Gender == other.Gender) score += 0.1;
            if (Phones.Intersect(other.Phones).Any()) score += 0.2;
            if (Address is not null && other.Address is not null && (Address.Contains(other.Address) || other.Address.Contains(Address))) score += 0.1;
            return Math.Min(score, 0.98);
        }
    }
}

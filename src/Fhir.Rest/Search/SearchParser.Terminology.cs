using FhirArchive.Fhir.Outcomes;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage.Indexing;
using FhirArchive.Storage.Search;

namespace FhirArchive.Rest.Search;

/// <summary>Token modifiers answered by the terminology service: :in / :not-in (value sets) and :below / :above (subsumption).</summary>
public sealed partial class SearchParser
{
    /// <summary>:in — the codes of a value set the terminology service can expand (base R4 and the Chinese ones).</summary>
    private TokenInPredicate InValueSet(string name, string valueSetUrl)
    {
        var expansion = terminology.Expand(valueSetUrl, count: MaxCodes);
        if (expansion.Error is { } error) throw new UnsupportedSearchException($"{name}:in cannot use {valueSetUrl}: {error}.");
        if (expansion.Total > MaxCodes) throw new UnsupportedSearchException($"{name}:in: {valueSetUrl} has {expansion.Total} codes, more than the {MaxCodes} a search may use.");
        // A bare code (a FHIR code element, e.g. Patient.gender) carries no system: it matches by code alone.
        var codes = expansion.Items.SelectMany(i => SystemAliases(i.System).Select(s => ((string?)s, i.Code)))
            .Concat(expansion.Items.Select(i => ((string?)null, i.Code)));
        return new TokenInPredicate(name, codes.ToList());
    }

    /// <summary>
    /// :below / :above — the code and the codes it subsumes (or that subsume it) in the code system's hierarchy, from
    /// the terminology service. Where no hierarchy is known, strict handling refuses; lenient matches the code exactly, with a warning.
    /// </summary>
    private SearchPredicate Subsumption(string name, string v, bool below, bool strict, List<FhirIssue> warnings)
    {
        var token = ParseToken(name, v);
        var modifier = below ? "below" : "above";
        if (token is not { System: { } system, Code: { } code })
            throw FhirException.BadRequest($"{name}:{modifier} needs system|code, not '{v}'.");
        var cs = terminology.GetCodeSystem(system);
        var concept = cs?.Find(code);
        if (cs is null || concept is null || !cs.IsHierarchical)
        {
            var why = cs is null ? $"the code system {system} is not known to this server"
                : concept is null ? $"'{code}' is not a code of {system}" : $"the code system {system} has no hierarchy";
            if (strict) throw FhirException.BadRequest($"{name}:{modifier}={v} cannot be evaluated: {why}.");
            warnings.Add(new FhirIssue(IssueSeverity.Warning, "not-supported", $"{name}:{modifier}={v}: {why}; matched the code exactly."));
            return token;
        }
        var codes = below
            ? cs.DescendantsOf(concept).Prepend(concept)
            : cs.Concepts.Where(c => cs.Subsumes(c, concept)).Append(concept);
        var list = codes.Select(c => c.Code).Distinct().Take(MaxCodes + 1).ToList();
        if (list.Count > MaxCodes) throw new UnsupportedSearchException($"{name}:{modifier}={v} stands for more than {MaxCodes} codes.");
        return new TokenInPredicate(name, SystemAliases(system).SelectMany(s => list.Select(c => ((string?)s, c))).ToList());
    }

    /// <summary>A code system's URL and its OID form: data may carry either.</summary>
    private IEnumerable<string> SystemAliases(string system)
    {
        var cs = terminology.GetCodeSystem(system);
        return new[] { system, cs?.Url, cs?.Oid is { } oid ? "urn:oid:" + oid : null }.OfType<string>().Distinct();
    }
}

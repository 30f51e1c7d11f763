using FhirArchive.Storage.Indexing;
using FhirArchive.Storage.Search;

namespace FhirArchive.Storage.Encryption;

/// <summary>The blind index: index rows written with it, and search criteria turned into it.</summary>
public sealed partial class FieldEncryption
{
    /// <summary>Protected values shorter than this are not looked for inside longer strings (a house number "1").</summary>
    internal const int MinContained = 4;

    /// <summary>
    /// Replaces the protected values in a resource's index rows by their blind index: a token's code (and an
    /// :of-type row's value part), a string row holding or containing one (both its columns: the blind index of the
    /// normalised value, so default and :exact searches find it alike), a uri. The _text/_content rows are built
    /// without them (<see cref="TextIndex"/>).
    /// </summary>
    internal void BlindRows(IndexSet set, HashSet<string> values, string type)
    {
        if (values.Count == 0) return;
        foreach (var t in set.Tokens)
        {
            if (t.Code is not { } code) continue;
            if (values.Contains(code)) t.Code = Blind(IndexDomain(type, t.Param), code);
            else if (t.Param.EndsWith(":of-type", StringComparison.Ordinal) && code.IndexOf('|') is var bar and > 0 && values.Contains(code[(bar + 1)..]))
                t.Code = IndexExtractor.OfTypeCode(code[..bar], Blind(IndexDomain(type, t.Param), code[(bar + 1)..]));
        }
        foreach (var s in set.Strings)
        {
            if (s.Param is TextIndex.Text or TextIndex.Content) continue;
            if (values.Contains(s.Value) || values.Any(v => v.Length >= MinContained && s.Value.Contains(v, StringComparison.Ordinal)))
                s.Value = s.Normalized = Blind(IndexDomain(type, s.Param), TextNormalizer.Normalize(s.Value));
        }
        foreach (var u in set.Uris)
            if (values.Contains(u.Uri)) u.Uri = Blind(IndexDomain(type, u.Param), u.Uri);
    }

    /// <summary>
    /// The criteria as the index holds them: on a parameter that may be blinded for the searched type, a token's code
    /// becomes its blind index (both, as alternatives, when the search spans types some of which are stored in
    /// clear), and a string value also matches the blind index of the whole normalised value. A partial match
    /// (:contains, a prefix of a protected value) finds only the values stored in clear.
    /// </summary>
    public IReadOnlyList<SearchCriterion> BlindCriteria(string? type, IReadOnlyList<SearchCriterion> criteria)
    {
        if (_keys is null || !criteria.Any(c => c.AnyOf.Any(p => IsBlinded(type, p.Param)))) return criteria;
        return criteria.Select(c => c with { AnyOf = c.AnyOf.SelectMany(p => BlindPredicate(type, p)).ToList() }).ToList();
    }

    private IEnumerable<SearchPredicate> BlindPredicate(string? type, SearchPredicate p)
    {
        // Composites (their components are "code$i") never hold a protected value: none is a person's identifier or contact.
        if (!IsBlinded(type, p.Param))
        {
            yield return p;
            yield break;
        }
        // A type stored in clear may be searched too (a system-wide search): the clear value stays an alternative.
        var alsoClear = type is null || !Encrypts(type);
        // Each type's rows are blinded in their own domain: a search spanning types probes each one's.
        var domains = (type is null ? _pathsByType.Keys.Where(t => IsBlinded(t, p.Param)) : [type]).Select(t => IndexDomain(t, p.Param)).ToList();
        switch (p)
        {
            case TokenPredicate { MatchCode: true, Code: { } code } t:
                if (alsoClear) yield return t;
                foreach (var d in domains) yield return t with { Code = BlindCode(d, t.Param, code) };
                break;
            case TokenInPredicate tin:
                yield return tin with { Codes = [.. alsoClear ? tin.Codes : [], .. domains.SelectMany(d => tin.Codes.Select(c => (c.System, BlindCode(d, tin.Param, c.Code))))] };
                break;
            case StringPredicate s:
                yield return s;
                if (s.Match is not StringMatch.Contains)
                    foreach (var d in domains) yield return new StringPredicate(s.Param, Blind(d, TextNormalizer.Normalize(s.Value)), StringMatch.StartsWith);
                break;
            case UriPredicate { Match: UriMatch.Exact } u:
                if (alsoClear) yield return u;
                foreach (var d in domains) yield return u with { Value = Blind(d, u.Value) };
                break;
            default:
                yield return p;
                break;
        }
    }

    private string BlindCode(string domain, string param, string code) =>
        param.EndsWith(":of-type", StringComparison.Ordinal) && code.IndexOf('|') is var bar and > 0
            ? IndexExtractor.OfTypeCode(code[..bar], Blind(domain, code[(bar + 1)..]))
            : Blind(domain, code);

    /// <summary>
    /// A searched value as the audit trail records it (<c>ProtectedQuery</c>): the blind index the search computes for
    /// it on this type (a token's system kept; a string parameter's value normalised as the index normalises it).
    /// </summary>
    public string BlindQueryValue(string? type, string param, string value)
    {
        var domain = IndexDomain(type, param);
        var isString = type is not null && _registry.For(type).Any(p => p.Code == param.Split(':')[0] && p.Type is SearchParamType.String);
        if (isString) return Blind(domain, TextNormalizer.Normalize(value));
        var bar = value.LastIndexOf('|');
        return bar < 0 ? Blind(domain, value) : value[..(bar + 1)] + Blind(domain, value[(bar + 1)..]);
    }
}

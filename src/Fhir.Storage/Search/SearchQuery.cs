using FhirArchive.Storage.Indexing;

namespace FhirArchive.Storage.Search;

public enum Prefix { Eq, Ne, Gt, Lt, Ge, Le, Sa, Eb, Ap }
public enum StringMatch { StartsWith, Exact, Contains }

/// <summary>One alternative of a search criterion (alternatives are OR-ed, criteria AND-ed).</summary>
public abstract record SearchPredicate(string Param);
public sealed record TokenPredicate(string Param, string? System, bool MatchSystem, string? Code, bool MatchCode) : SearchPredicate(Param);
public sealed record TokenTextPredicate(string Param, string Text) : SearchPredicate(Param);
public sealed record StringPredicate(string Param, string Value, StringMatch Match) : SearchPredicate(Param);
public sealed record DatePredicate(string Param, Prefix Prefix, long Start, long End) : SearchPredicate(Param);
public sealed record NumberPredicate(string Param, Prefix Prefix, double Low, double High) : SearchPredicate(Param);
public sealed record QuantityPredicate(string Param, Prefix Prefix, double Low, double High, string? System, string? Code) : SearchPredicate(Param);
public sealed record ReferencePredicate(string Param, string? TargetType, string? TargetId, string? Url) : SearchPredicate(Param);
public sealed record UriPredicate(string Param, string Value) : SearchPredicate(Param);
public sealed record MissingPredicate(string Param, SearchParamType Type, bool Missing) : SearchPredicate(Param);
public sealed record IdPredicate(string Id) : SearchPredicate("_id");
/// <summary>Matches resources whose id is in a set (reverse chaining, _has, resolves to this).</summary>
public sealed record IdInPredicate(IReadOnlyCollection<string> Ids) : SearchPredicate("_id");
public sealed record LastUpdatedPredicate(Prefix Prefix, long Start, long End) : SearchPredicate("_lastUpdated");
/// <summary>Matches resources whose row id is in a set (chained searches resolve to this).</summary>
public sealed record ReferenceToAnyPredicate(string Param, string TargetType, IReadOnlyCollection<string> TargetIds) : SearchPredicate(Param);

/// <summary>An AND-ed criterion: one or more OR-ed alternatives, optionally negated (:not).</summary>
public sealed record SearchCriterion(IReadOnlyList<SearchPredicate> AnyOf, bool Negated = false);

public sealed record SortKey(string Param, SearchParamType Type, bool Descending);

public sealed class SearchQuery
{
    /// <summary>Null searches all types.</summary>
    public string? ResourceType { get; init; }
    /// <summary>For system-level search: restricts to these types (_type); null means all.</summary>
    public List<string>? Types { get; set; }
    public List<SearchCriterion> Criteria { get; } = [];
    public List<SortKey> Sort { get; } = [];
    public int Count { get; set; } = 20;
    public int Offset { get; set; }
    public bool IncludeTotal { get; set; } = true;
    public bool CountOnly { get; set; }
}

public sealed record SearchResult(IReadOnlyList<StoredResource> Matches, int? Total);

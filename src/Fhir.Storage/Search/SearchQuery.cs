using FhirArchive.Storage.Indexing;

namespace FhirArchive.Storage.Search;

public enum Prefix { Eq, Ne, Gt, Lt, Ge, Le, Sa, Eb, Ap }
public enum StringMatch { StartsWith, Exact, Contains }
/// <summary>Uri and canonical matching: exact, or by path (and canonical version) prefix.</summary>
public enum UriMatch { Exact, Below, Above }

/// <summary>One alternative of a search criterion (alternatives are OR-ed, criteria AND-ed).</summary>
public abstract record SearchPredicate(string Param);
public sealed record TokenPredicate(string Param, string? System, bool MatchSystem, string? Code, bool MatchCode) : SearchPredicate(Param);
public sealed record TokenTextPredicate(string Param, string Text) : SearchPredicate(Param);
public sealed record StringPredicate(string Param, string Value, StringMatch Match) : SearchPredicate(Param);
public sealed record DatePredicate(string Param, Prefix Prefix, long Start, long End) : SearchPredicate(Param);
public sealed record NumberPredicate(string Param, Prefix Prefix, double Low, double High) : SearchPredicate(Param);
public sealed record QuantityPredicate(string Param, Prefix Prefix, double Low, double High, string? System, string? Code) : SearchPredicate(Param);
public sealed record ReferencePredicate(string Param, string? TargetType, string? TargetId, string? Url) : SearchPredicate(Param);
public sealed record UriPredicate(string Param, string Value, UriMatch Match = UriMatch.Exact) : SearchPredicate(Param);
/// <summary>:above/:below on a reference parameter holding canonicals (matched against the reference text).</summary>
public sealed record CanonicalPredicate(string Param, string Value, UriMatch Match) : SearchPredicate(Param);
/// <summary>A token matching any of a set of codes (:in, :not-in, :above, :below after asking the terminology service); a null system matches rows without one.</summary>
public sealed record TokenInPredicate(string Param, IReadOnlyList<(string? System, string Code)> Codes) : SearchPredicate(Param);
/// <summary>
/// Membership of a compartment (Patient/$everything): the compartment resource itself, or a resource whose type lists
/// parameters in the CompartmentDefinition and that refers to it through one of them. A null Id means any compartment
/// of the type (type-level Patient/$everything: every patient and what belongs to one).
/// </summary>
public sealed record CompartmentPredicate(string Compartment, string? Id, IReadOnlyDictionary<string, string[]> ParamsByType) : SearchPredicate("_compartment");
/// <summary>_text / _content: every word occurs in the parameter's normalised text rows.</summary>
public sealed record TextPredicate(string Param, IReadOnlyList<string> Words) : SearchPredicate(Param);
/// <summary>A composite value: every component must match within the same composite element.</summary>
public sealed record CompositePredicate(string Param, IReadOnlyList<SearchPredicate> Components) : SearchPredicate(Param);
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
    /// <summary>Stable paging: only rows up to this row id (the newest row when the first page was taken) are searched.</summary>
    public long? SnapshotRowId { get; set; }
    /// <summary>Keyset paging in the default (row id) order: the page starts after this row id.</summary>
    public long? AfterRowId { get; set; }
    public bool CountOnly { get; set; }
}

/// <summary><see cref="Snapshot"/> is the row-id bound the search ran under, to carry into the paging links.</summary>
public sealed record SearchResult(IReadOnlyList<StoredResource> Matches, int? Total, long Snapshot = 0);

using System.Globalization;
using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Outcomes;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;
using FhirArchive.Storage.Indexing;
using FhirArchive.Storage.Search;
using FhirArchive.Terminology;
using SortKey = FhirArchive.Storage.Search.SortKey;

namespace FhirArchive.Rest.Search;

/// <summary>
/// One _include/_revinclude: Type:param[:targetType], optionally :iterate (applied to included resources too).
/// A null <see cref="SourceType"/> or <see cref="Param"/> is the wildcard (_include=*, _include=Observation:*).
/// </summary>
public sealed record IncludeSpec(string? SourceType, string? Param, string? TargetType, bool Iterate);

/// <summary>A search feature that cannot be applied to this value: 400 under strict handling, a warning (and the criterion dropped) under lenient.</summary>
public sealed class UnsupportedSearchException(string message) : Exception(message);

/// <summary>The result-shaping parameters of a search (not criteria).</summary>
public sealed class SearchOptions
{
    public List<IncludeSpec> Includes { get; } = [];
    public List<IncludeSpec> RevIncludes { get; } = [];
    public string? Summary { get; set; }
    public string[]? Elements { get; set; }
    /// <summary>_total as asked: none, estimate, accurate (null: not asked).</summary>
    public string? Total { get; set; }
    public List<FhirIssue> Warnings { get; } = [];
    /// <summary>The parameters the search applied, in their order: what the self link shows (R4 search.html), ignored ones left out.</summary>
    public List<KeyValuePair<string, string>> Used { get; } = [];
}

/// <summary>The server's own paging parameters, carried in the links: the snapshot bound and the keyset position.</summary>
public static class PagingParams
{
    public const string Snapshot = "_snapshot";
    public const string After = "_after";

    public static long ParseRowId(string name, string value) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : throw FhirException.BadRequest($"{name} '{value}' is not a paging position.");
}

/// <summary>
/// Bounds on one search (section "Search"): each parameter and each comma-separated value becomes a condition of the
/// database query, whose depth the database bounds (SQLite: 1,000), so past them the search is a 400 saying the limit.
/// </summary>
public sealed class SearchLimits
{
    /// <summary>The most parameters (name=value pairs, repeats included) in one search.</summary>
    public int MaxParameters { get; set; } = 100;

    /// <summary>The most comma-separated values in one parameter.</summary>
    public int MaxValues { get; set; } = 100;

    /// <summary>The most matches a chained or _has parameter's inner search may have (more: 400 too-costly, never a cut answer).</summary>
    public int MaxChainedMatches { get; set; } = 10_000;
}

/// <summary>The resources of a set the caller may see (see <see cref="SearchParser.ParseAsync"/>).</summary>
public delegate Task<IReadOnlyList<StoredResource>> VisibleFilter(IReadOnlyList<StoredResource> resources);

/// <summary>Parses FHIR search parameters into a storage <see cref="SearchQuery"/>.</summary>
/// <param name="encryption">Field encryption: a partial match of a protected value is refused (400).</param>
public sealed partial class SearchParser(SearchParameterRegistry registry, IResourceStore store, StorageOptions storage, TerminologyService terminology, SearchLimits limits,
    Storage.Encryption.FieldEncryption? encryption = null)
{
    public const int DefaultCount = 20;
    public const int MaxCount = 500;
    /// <summary>The most codes a value set (:in) or a subsumption (:below) may stand for in one criterion.</summary>
    public const int MaxCodes = 5000;

    private static readonly HashSet<string> ResultParams =
        ["_type", "_count", "_offset", "_sort", "_include", "_revinclude", "_summary", "_elements", "_total", "_format", "_pretty", "_contained", "_containedType",
         PagingParams.Snapshot, PagingParams.After];

    /// <summary>
    /// Every match of a search the server makes for itself (strict, no access filter), read in pages of 200 so a
    /// job's memory does not grow with the database.
    /// </summary>
    public async IAsyncEnumerable<StoredResource> AllMatchesAsync(IResourceStore store, string type, IEnumerable<KeyValuePair<string, string>> parameters,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct = default)
    {
        var pairs = parameters.ToList();
        for (var offset = 0; ; )
        {
            var (query, _) = await ParseAsync(type, pairs, strict: true, ct);
            query.Count = 200;
            query.Offset = offset;
            query.IncludeTotal = false;
            var page = (await store.SearchAsync(query, ct)).Matches;
            foreach (var match in page) yield return match;
            if (page.Count < query.Count) yield break;
            offset += page.Count;
        }
    }

    /// <param name="visible">
    /// What the caller may see of a set of resources: chained and _has parameters match only through those, so a
    /// search cannot reveal hidden data by filtering on it. Null: everything (the server's own searches).
    /// </param>
    public async Task<(SearchQuery Query, SearchOptions Options)> ParseAsync(string? type, IEnumerable<KeyValuePair<string, string>> parameters,
        bool strict, CancellationToken ct, IWriteSession? session = null, VisibleFilter? visible = null)
    {
        var query = new SearchQuery { ResourceType = type, Count = DefaultCount };
        var options = new SearchOptions();
        var pairs = parameters.ToList();
        if (pairs.Count > limits.MaxParameters)
            throw FhirException.BadRequest($"The search has {pairs.Count} parameters; at most {limits.MaxParameters} are accepted.");
        foreach (var (rawName, value) in pairs)
        {
            var (name, modifier) = SplitModifier(rawName);
            if (ResultParams.Contains(name))
            {
                if (ApplyResultParam(type, name, modifier, value, query, options, strict) is { } applied) options.Used.Add(new(rawName, applied));
                continue;
            }
            SearchCriterion? criterion;
            try
            {
                criterion = await ParseCriterionAsync(type, name, modifier, value, strict, options.Warnings, ct, session, visible);
            }
            catch (UnsupportedSearchException e)
            {
                if (strict) throw FhirException.BadRequest(e.Message);
                options.Warnings.Add(new FhirIssue(IssueSeverity.Warning, "not-supported", e.Message + " The parameter was ignored."));
                continue;
            }
            if (criterion is null)
            {
                var msg = $"Unknown or unsupported search parameter '{rawName}'" + (type is null ? "" : $" for {type}");
                if (strict) throw FhirException.BadRequest(msg + ".");
                options.Warnings.Add(new FhirIssue(IssueSeverity.Warning, "not-supported", msg + "; it was ignored."));
                continue;
            }
            query.Criteria.Add(criterion);
            options.Used.Add(new(rawName, value));
        }
        return (query, options);
    }

    /// <summary>Applies a result parameter; returns the value applied (ignored sort keys left out), or null when it was ignored.</summary>
    private string? ApplyResultParam(string? type, string name, string? modifier, string value, SearchQuery query, SearchOptions options, bool strict)
    {
        switch (name)
        {
            case "_type":
                var types = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
                foreach (var t in types) Resources.ResourceWriter.CheckType(t);
                if (type is not null) return null; // a type-level search has its type
                query.Types = types;
                break;
            case "_count":
                if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var c)) throw FhirException.BadRequest($"_count '{value}' is not a number.");
                query.Count = Math.Min(c, MaxCount);
                if (c == 0) query.CountOnly = true;
                return query.Count.ToString(CultureInfo.InvariantCulture); // beyond MaxCount: the count used
            case "_offset":
                if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var o)) throw FhirException.BadRequest($"_offset '{value}' is not a number.");
                query.Offset = o;
                break;
            case PagingParams.Snapshot:
                query.SnapshotRowId = PagingParams.ParseRowId(name, value);
                break;
            case PagingParams.After:
                query.AfterRowId = PagingParams.ParseRowId(name, value);
                break;
            case "_total":
                query.IncludeTotal = value != "none";
                options.Total = value;
                break;
            case "_summary":
                options.Summary = value;
                if (value == "count") query.CountOnly = true;
                break;
            case "_elements":
                options.Elements = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                break;
            case "_sort":
                var sorted = new List<string>();
                foreach (var key in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    var desc = key.StartsWith('-');
                    var code = desc ? key[1..] : key;
                    if (code is "_id" or "_lastUpdated") query.Sort.Add(new SortKey(code, SearchParamType.Token, desc));
                    else if (type is not null && registry.Get(type, code) is { } p)
                    {
                        RefuseOnBlinded(type, code, $"_sort={code}");
                        query.Sort.Add(new SortKey(code, p.Type, desc));
                    }
                    else if (strict) throw FhirException.BadRequest($"Unknown sort parameter '{code}'.");
                    else
                    {
                        options.Warnings.Add(new FhirIssue(IssueSeverity.Warning, "not-supported", $"Unknown sort parameter '{code}' was ignored."));
                        continue;
                    }
                    sorted.Add(key);
                }
                return sorted.Count > 0 ? string.Join(',', sorted) : null;
            case "_include" or "_revinclude":
                // Type:param[:targetType]; "*" or "Type:*" for every reference parameter.
                var parts = value.Split(':');
                var list = name == "_include" ? options.Includes : options.RevIncludes;
                if (value == "*" || (parts.Length == 2 && parts[1] == "*" && Fhir.Definitions.FhirDefinitions.R4.IsResourceType(parts[0])))
                {
                    list.Add(new IncludeSpec(value == "*" ? null : parts[0], null, null, modifier == "iterate"));
                    break;
                }
                if (parts.Length < 2 || registry.Get(parts[0], parts[1]) is not { Type: SearchParamType.Reference })
                {
                    if (strict) throw FhirException.BadRequest($"Invalid {name} '{value}'.");
                    options.Warnings.Add(new FhirIssue(IssueSeverity.Warning, "not-supported", $"{name} '{value}' was ignored."));
                    return null;
                }
                (name == "_include" ? options.Includes : options.RevIncludes)
                    .Add(new IncludeSpec(parts[0], parts[1], parts.Length > 2 ? parts[2] : null, modifier == "iterate"));
                break;
            default:
                return null; // _format and _pretty shape the answer, not the search; _contained is not supported
        }
        return value;
    }

    private static (string, string?) SplitModifier(string raw)
    {
        var i = raw.IndexOf(':');
        return i < 0 ? (raw, null) : (raw[..i], raw[(i + 1)..]);
    }

    private async Task<SearchCriterion?> ParseCriterionAsync(string? type, string name, string? modifier, string value, bool strict, List<FhirIssue> warnings,
        CancellationToken ct, IWriteSession? session, VisibleFilter? visible)
    {
        if (name == "_id")
            return modifier is null ? new SearchCriterion(SplitValues(value).Select(v => (SearchPredicate)new IdPredicate(Unescape(v))).ToList()) : null;
        if (name == "_lastUpdated")
            return modifier is null ? new SearchCriterion(SplitValues(value).Select(Unescape).Select(v =>
            {
                var (prefix, rest) = SplitPrefix(v);
                var r = ParseDate(rest);
                return (SearchPredicate)new LastUpdatedPredicate(prefix, r.Start, r.End);
            }).ToList()) : null;

        // Reverse chaining: _has:Observation:patient:code=1234-5 (resources referred to by matching Observations).
        if (name == "_has" && type is not null) return await ParseHasAsync(type, modifier, value, ct, session, visible);

        // Chaining: subject.name=..., subject:Patient.name=...
        var dot = name.IndexOf('.');
        if (dot > 0 && type is not null) return await ParseChainAsync(type, name[..dot], modifier, name[(dot + 1)..], value, ct, session, visible);
        if (modifier is not null && modifier.Contains('.') && type is not null)
        {
            var md = modifier.IndexOf('.');
            return await ParseChainAsync(type, name, modifier[..md], modifier[(md + 1)..], value, ct, session, visible);
        }

        // _text (narrative) and _content (all text): every word of a value must occur; commas give alternatives.
        if (name is TextIndex.Text or TextIndex.Content && modifier is null)
            return new SearchCriterion(SplitValues(value).Select(Unescape).Select(v => (SearchPredicate)new TextPredicate(name, TextIndex.Words(v).ToList())).ToList());
        if (name == "_list" && modifier is null && type is not null) return await ParseListAsync(type, value, ct);

        if (type is null) return null; // system-level search supports only the common parameters above
        var p = registry.Get(type, name);
        if (p is null || p.Type is SearchParamType.Special) return null;
        if (p.Type is SearchParamType.Composite)
        {
            if (p.Components.Count == 0) return null;
            // :missing asks whether the first component has any value.
            if (modifier == "missing")
                return value is "true" or "false" ? new SearchCriterion([new MissingPredicate(p.ComponentParam(0), p.Components[0].Type, value == "true")])
                    : throw FhirException.BadRequest($"{name}:missing takes true or false.");
            return modifier is not null ? null : new SearchCriterion(SplitComposite(value).Select(v => (SearchPredicate)ParseComposite(p, v)).ToList());
        }

        if (modifier == "missing")
            return value is "true" or "false" ? new SearchCriterion([new MissingPredicate(name, p.Type, value == "true")])
                : throw FhirException.BadRequest($"{name}:missing takes true or false.");

        // Token and quantity values split on '|' first, by their escapes; every other value is read unescaped.
        var escaped = SplitValues(value);
        var values = escaped.Select(Unescape).ToList();
        switch (p.Type)
        {
            case SearchParamType.String:
                var match = modifier switch
                {
                    null => StringMatch.StartsWith,
                    "exact" => StringMatch.Exact,
                    "contains" => StringMatch.Contains,
                    _ => (StringMatch?)null,
                };
                if (match is StringMatch.Contains) RefuseOnBlinded(type, name, $"{name}:contains");
                return match is null ? null : new SearchCriterion(values.Select(v => (SearchPredicate)new StringPredicate(name, v, match.Value)).ToList());
            case SearchParamType.Token:
                switch (modifier)
                {
                    case "text": return new SearchCriterion(values.Select(v => (SearchPredicate)new TokenTextPredicate(name, v)).ToList());
                    case null or "not": return new SearchCriterion(escaped.Select(v => (SearchPredicate)ParseToken(name, v)).ToList(), Negated: modifier == "not");
                    case "of-type": return new SearchCriterion(escaped.Select(v => (SearchPredicate)ParseOfType(name, v)).ToList());
                    case "in" or "not-in": return new SearchCriterion(values.Select(v => (SearchPredicate)InValueSet(name, v)).ToList(), Negated: modifier == "not-in");
                    case "below" or "above":
                        RefuseOnBlinded(type, name, $"{name}:{modifier}");
                        return new SearchCriterion(escaped.Select(v => Subsumption(name, v, modifier == "below", strict, warnings)).ToList());
                    default: return null;
                }
            case SearchParamType.Date:
                if (modifier is not null) return null;
                return new SearchCriterion(values.Select(v =>
                {
                    var (prefix, rest) = SplitPrefix(v);
                    var r = ParseDate(rest);
                    return (SearchPredicate)new DatePredicate(name, prefix, r.Start, r.End);
                }).ToList());
            case SearchParamType.Number:
                if (modifier is not null) return null;
                return new SearchCriterion(values.Select(v =>
                {
                    var (prefix, rest) = SplitPrefix(v);
                    var (lo, hi) = NumberRange(rest);
                    return (SearchPredicate)new NumberPredicate(name, prefix, lo, hi);
                }).ToList());
            case SearchParamType.Quantity:
                if (modifier is not null) return null;
                return new SearchCriterion(escaped.Select(v =>
                {
                    var parts = SplitBars(v);
                    var (prefix, rest) = SplitPrefix(parts[0]);
                    var (lo, hi) = NumberRange(rest);
                    string? system = parts.Length > 1 && parts[1].Length > 0 ? parts[1] : null;
                    string? code = parts.Length > 2 && parts[2].Length > 0 ? parts[2] : null;
                    return (SearchPredicate)new QuantityPredicate(name, prefix, lo, hi, system, code);
                }).ToList());
            case SearchParamType.Reference:
                if (modifier == "identifier")
                    return new SearchCriterion(escaped.Select(v => (SearchPredicate)ParseToken(name + ":identifier", v)).ToList());
                if (modifier is "below" or "above")
                    return new SearchCriterion(values.Select(v => (SearchPredicate)new CanonicalPredicate(name, v, modifier == "below" ? UriMatch.Below : UriMatch.Above)).ToList());
                if (modifier is not null && !Fhir.Definitions.FhirDefinitions.R4.IsResourceType(modifier)) return null;
                if (modifier is not null && p.Targets.Count > 0 && !p.Targets.Contains(modifier))
                    throw new UnsupportedSearchException($"{modifier} is not a target type of {type}.{name} (targets: {string.Join(", ", p.Targets)}).");
                return new SearchCriterion(values.Select(v => (SearchPredicate)ParseReference(name, modifier, v)).ToList());
            case SearchParamType.Uri:
                var uriMatch = modifier switch { null => UriMatch.Exact, "below" => UriMatch.Below, "above" => UriMatch.Above, _ => (UriMatch?)null };
                if (uriMatch is UriMatch.Below or UriMatch.Above) RefuseOnBlinded(type, name, $"{name}:{modifier}");
                return uriMatch is null ? null : new SearchCriterion(values.Select(v => (SearchPredicate)new UriPredicate(name, v, uriMatch.Value)).ToList());
        }
        return null;
    }

    /// <summary>
    /// Field encryption: the values of a protected parameter (an identifier, a phone, an address line) are indexed by
    /// their blind index, which matches whole values only. A search that compares them by part, by hierarchy or by
    /// order (:contains, :above, :below, _sort) would silently miss them or order them by their tags: refused (400),
    /// here, for every path that parses a search (REST, POST _search, batch entries, conditional writes, chains,
    /// _has, Subscription criteria). What compares whole values works: the plain value, :exact, :not, :of-type, :in,
    /// :missing, :text (an identifier type's text is not protected), and a string's default prefix match on the parts
    /// stored in clear (an address's city and district; a protected line only whole).
    /// </summary>
    private void RefuseOnBlinded(string type, string name, string what)
    {
        if (encryption?.IsBlinded(type, name) == true)
            throw FhirException.BadRequest(
                $"{what} is not available: the {name} values that identify a person are stored encrypted and searchable only as whole values. " +
                $"该字段加密存储，仅支持完整值检索，不支持 {what}。");
    }

    private async Task<SearchCriterion?> ParseChainAsync(string type, string refParam, string? targetType, string chained, string value, CancellationToken ct, IWriteSession? session, VisibleFilter? visible)
    {
        var p = registry.Get(type, refParam);
        if (p is not { Type: SearchParamType.Reference }) return null;
        // Without a type modifier, every target type that knows the chained parameter is searched.
        var chainedName = chained.Split('.', ':')[0];
        var targets = targetType is not null ? [targetType] : p.Targets.Where(t => registry.Get(t, chainedName) is not null).ToList();
        if (targets.Count == 0) return null;
        var alternatives = new List<SearchPredicate>();
        foreach (var target in targets)
        {
            var (inner, _) = await ParseAsync(target, [new(chained, value)], strict: true, ct, session, visible);
            var matches = await InnerMatchesAsync(inner, $"{refParam}.{chained}", ct, session, visible);
            alternatives.Add(new ReferenceToAnyPredicate(refParam, target, matches.Select(m => m.Id).ToList()));
        }
        return new SearchCriterion(alternatives);
    }

    private async Task<SearchCriterion?> ParseHasAsync(string type, string? spec, string value, CancellationToken ct, IWriteSession? session, VisibleFilter? visible)
    {
        // spec = "Observation:patient:code" (the inner parameter may itself be another _has or a chain).
        var parts = spec?.Split(':', 3);
        if (parts is not { Length: 3 } || registry.Get(parts[0], parts[1]) is not { Type: SearchParamType.Reference }) return null;
        var (source, refParam, inner) = (parts[0], parts[1], parts[2]);
        Resources.ResourceWriter.CheckType(source);
        var (query, _) = await ParseAsync(source, [new(inner, value)], strict: true, ct, session, visible);
        var matches = await InnerMatchesAsync(query, $"_has:{spec}", ct, session, visible);
        var ids = await store.ReferencedIdsAsync(matches.Select(m => m.RowId).ToList(), refParam, type, ct);
        return new SearchCriterion([new IdInPredicate(ids)]);
    }

    /// <summary>
    /// Every match of a chained or _has parameter's inner search that the caller may see, read in batches by row id
    /// under one snapshot. More than <see cref="SearchLimits.MaxChainedMatches"/> is refused (400 too-costly): a cut
    /// inner result would answer the outer search wrongly, without saying so.
    /// </summary>
    private async Task<List<StoredResource>> InnerMatchesAsync(SearchQuery inner, string what, CancellationToken ct, IWriteSession? session, VisibleFilter? visible)
    {
        const int Batch = 1000;
        (inner.Count, inner.IncludeTotal) = (Batch, false);
        var result = new List<StoredResource>();
        for (var read = 0; ; )
        {
            var found = session is null ? await store.SearchAsync(inner, ct) : await session.SearchAsync(inner, ct);
            read += found.Matches.Count;
            if (read > limits.MaxChainedMatches)
                throw new FhirException(400, "too-costly",
                    $"{what} matches more than {limits.MaxChainedMatches:N0} resources; narrow it (Search:MaxChainedMatches). " +
                    $"{what} 匹配的资源超过 {limits.MaxChainedMatches:N0} 个，请缩小检索条件。");
            result.AddRange(visible is null ? found.Matches : await visible(found.Matches));
            if (found.Matches.Count < Batch) return result;
            (inner.SnapshotRowId, inner.AfterRowId) = (found.Snapshot, found.Matches[^1].RowId);
        }
    }

    /// <summary>identifier:of-type=type-system|type-code|value (indexed under "name:of-type").</summary>
    private static TokenPredicate ParseOfType(string name, string v)
    {
        var parts = SplitBars(v);
        if (parts.Length != 3 || parts[1].Length == 0 || parts[2].Length == 0)
            throw FhirException.BadRequest($"{name}:of-type takes type-system|type-code|value, not '{v}'.");
        return new TokenPredicate(name + ":of-type", parts[0].Length == 0 ? null : parts[0], true, IndexExtractor.OfTypeCode(parts[1], parts[2]), true);
    }

    /// <summary>_list=id: the resources of this type that List/id has as entries.</summary>
    private async Task<SearchCriterion> ParseListAsync(string type, string value, CancellationToken ct)
    {
        var ids = new List<string>();
        foreach (var listId in SplitValues(value).Select(Unescape))
            if (await store.ReadAsync("List", listId, ct) is { IsDeleted: false } list)
                ids.AddRange(await store.ReferencedIdsAsync([list.RowId], "item", type, ct));
        return new SearchCriterion([new IdInPredicate(ids)]);
    }

    /// <summary>A token value as written (escapes kept): system|code split at the first '|' not escaped, each part then unescaped.</summary>
    public static TokenPredicate ParseToken(string name, string v)
    {
        var bar = IndexOfUnescaped(v, '|');
        if (bar < 0) return new TokenPredicate(name, null, false, Unescape(v), true);
        var system = Unescape(v[..bar]);
        var code = Unescape(v[(bar + 1)..]);
        if (system.Length == 0) return new TokenPredicate(name, null, true, code, true);
        return code.Length == 0 ? new TokenPredicate(name, system, true, null, false) : new TokenPredicate(name, system, true, code, true);
    }

    private static ReferencePredicate ParseReference(string name, string? typeModifier, string v)
    {
        if (typeModifier is not null)
        {
            // subject:Patient=123 and subject:Patient=Patient/123 are the same; another type in the value matches nothing.
            var (t, id) = v.Contains('/') ? ReferenceParts.Split(v) : (typeModifier, v);
            if (t != typeModifier) throw FhirException.BadRequest($"'{v}' is not a {typeModifier} reference ({name}:{typeModifier}).");
            return new ReferencePredicate(name, typeModifier, id, null);
        }
        if (v.StartsWith("http://", StringComparison.Ordinal) || v.StartsWith("https://", StringComparison.Ordinal) || v.StartsWith("urn:", StringComparison.Ordinal))
        {
            var (t, id) = ReferenceParts.Split(v);
            return t is null ? new ReferencePredicate(name, null, null, v) : new ReferencePredicate(name, t, id, null);
        }
        var parts = v.Split('/');
        return parts.Length >= 2 ? new ReferencePredicate(name, parts[^2], parts[^1], null) : new ReferencePredicate(name, null, v, null);
    }

    /// <summary>Splits on commas not escaped with a backslash, the escapes kept (<see cref="Unescape"/>); at most <see cref="SearchLimits.MaxValues"/>.</summary>
    private List<string> SplitValues(string value)
    {
        var values = SplitAll(value);
        return values.Count <= limits.MaxValues ? values
            : throw FhirException.BadRequest($"A search parameter has {values.Count} comma-separated values; at most {limits.MaxValues} are accepted.");
    }

    /// <summary>A value as a search names it (search.html#escaping): \\ \, \| \$ for its backslashes and separators.</summary>
    public static string Escape(string value)
    {
        var sb = new System.Text.StringBuilder(value.Length + 4);
        foreach (var c in value)
        {
            if (c is '\\' or ',' or '|' or '$') sb.Append('\\');
            sb.Append(c);
        }
        return sb.ToString();
    }

    /// <summary>The value an escaped one stands for, read in one pass (\\ \, \| \$; any other backslash stays).</summary>
    public static string Unescape(string value)
    {
        var sb = new System.Text.StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
            sb.Append(value[i] == '\\' && i + 1 < value.Length && value[i + 1] is ',' or '$' or '|' or '\\' ? value[++i] : value[i]);
        return sb.ToString();
    }

    /// <summary>
    /// Splits on commas not escaped with a backslash, keeping the escapes: a token's or quantity's parts are split on
    /// their '|' first (<see cref="SplitBars"/>, <see cref="ParseToken"/>), then unescaped.
    /// </summary>
    public static List<string> SplitAll(string value) => SplitUnescaped(value, ',');

    /// <summary>The '|'-separated parts of a value as written, each unescaped (a quantity's number|system|code, of-type's three parts).</summary>
    private static string[] SplitBars(string value) => [.. SplitUnescaped(value, '|').Select(Unescape)];

    /// <summary>Where the first <paramref name="separator"/> not escaped with a backslash is; -1 when there is none.</summary>
    private static int IndexOfUnescaped(string value, char separator)
    {
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '\\') i++;
            else if (value[i] == separator) return i;
        }
        return -1;
    }

    private static readonly Dictionary<string, Prefix> Prefixes = new()
    {
        ["eq"] = Prefix.Eq, ["ne"] = Prefix.Ne, ["gt"] = Prefix.Gt, ["lt"] = Prefix.Lt, ["ge"] = Prefix.Ge,
        ["le"] = Prefix.Le, ["sa"] = Prefix.Sa, ["eb"] = Prefix.Eb, ["ap"] = Prefix.Ap,
    };

    private static (Prefix, string) SplitPrefix(string v) =>
        v.Length > 2 && Prefixes.TryGetValue(v[..2], out var p) ? (p, v[2..]) : (Prefix.Eq, v);

    private FhirDateRange ParseDate(string v) =>
        FhirDateRange.TryParse(v, storage.LocalTimeZone, out var r) ? r : throw FhirException.BadRequest($"'{v}' is not a valid FHIR date.");

    /// <summary>The implicit range of a number's precision: 100 → [99.5, 100.5), 1.50 → [1.495, 1.505).</summary>
    private static (double, double) NumberRange(string v)
    {
        if (!decimal.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d))
            throw FhirException.BadRequest($"'{v}' is not a number.");
        var dot = v.IndexOf('.');
        var decimals = dot < 0 || v.Contains('e', StringComparison.OrdinalIgnoreCase) ? 0 : v.Length - dot - 1;
        var half = 0.5 * Math.Pow(10, -decimals);
        return ((double)d - half, (double)d + half);
    }
}

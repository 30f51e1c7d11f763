using System.Linq.Expressions;
using Microsoft.EntityFrameworkCore;
using FhirArchive.Storage.Indexing;

namespace FhirArchive.Storage.Search;

/// <summary>
/// Turns a <see cref="SearchQuery"/> into one SQL query over current versions. The most selective criterion drives:
/// row ids IN its matching index rows (answered from the index leading with Param and the value); the others are
/// correlated EXISTS probes of the few candidate rows (the index on row id and Param).
/// </summary>
internal static class SearchQueryBuilder
{
    /// <param name="criteria">The query's criteria as the index holds them (field encryption's blind index), or null: as they are.</param>
    public static IQueryable<ResourceVersionRow> Build(FhirDbContext db, SearchQuery query, IReadOnlyList<SearchCriterion>? criteria = null)
    {
        criteria ??= query.Criteria;
        var q = db.Resources.Where(r => r.IsCurrent && !r.IsDeleted);
        if (query.ResourceType is { } type) q = q.Where(r => r.ResourceType == type);
        if (query.Types is { } types) q = q.Where(r => types.Contains(r.ResourceType));
        if (query.SnapshotRowId is { } snapshot) q = q.Where(r => r.Id <= snapshot);
        var driver = Driver(criteria);
        foreach (var c in criteria)
        {
            var any = c.AnyOf.Select(p => ToExpression(db, p, drives: ReferenceEquals(c, driver), query.ResourceType)).Aggregate(Or);
            q = q.Where(c.Negated ? Not(any) : any);
        }
        return q;
    }

    /// <summary>The criterion expected to match the fewest rows (by the kind of its predicates), or null.</summary>
    private static SearchCriterion? Driver(IEnumerable<SearchCriterion> criteria) =>
        criteria.Where(c => !c.Negated)
            .Select(c => (c, Rank: c.AnyOf.Max(Selectivity)))
            .Where(x => x.Rank < int.MaxValue)
            .OrderBy(x => x.Rank).Select(x => x.c).FirstOrDefault();

    /// <summary>Lower is more selective; MaxValue for predicates that are not index lookups.</summary>
    private static int Selectivity(SearchPredicate p) => p switch
    {
        TokenPredicate { MatchCode: true } or ReferencePredicate { TargetId: not null } or ReferencePredicate { Url: not null } or ReferenceToAnyPredicate
            or UriPredicate { Match: UriMatch.Exact } or StringPredicate { Match: StringMatch.Exact } => 1,
        StringPredicate { Match: StringMatch.StartsWith } or TokenInPredicate or CompositePredicate or UriPredicate or CanonicalPredicate => 2,
        DatePredicate or NumberPredicate or QuantityPredicate or TokenPredicate or ReferencePredicate => 3,
        TokenTextPredicate or StringPredicate => 4,
        _ => int.MaxValue,
    };

    public static IQueryable<ResourceVersionRow> Order(FhirDbContext db, IQueryable<ResourceVersionRow> q, IReadOnlyList<SortKey> keys)
    {
        IOrderedQueryable<ResourceVersionRow>? o = null;
        foreach (var k in keys)
        {
            var p = k.Param;
            o = k.Param switch
            {
                "_id" => Then(o, q, r => r.ResourceId, k.Descending),
                "_lastUpdated" => Then(o, q, r => r.LastUpdated, k.Descending),
                _ => k.Type switch
                {
                    SearchParamType.String => Then(o, q, r => db.Strings.Where(s => s.ResourceRowId == r.Id && s.Param == p).Min(s => s.Normalized), k.Descending),
                    SearchParamType.Token => Then(o, q, r => db.Tokens.Where(s => s.ResourceRowId == r.Id && s.Param == p).Min(s => s.Code), k.Descending),
                    SearchParamType.Date => k.Descending
                        ? Then(o, q, r => db.Dates.Where(s => s.ResourceRowId == r.Id && s.Param == p).Max(s => (long?)s.End), true)
                        : Then(o, q, r => db.Dates.Where(s => s.ResourceRowId == r.Id && s.Param == p).Min(s => (long?)s.Start), false),
                    SearchParamType.Number => Then(o, q, r => db.Numbers.Where(s => s.ResourceRowId == r.Id && s.Param == p).Min(s => (double?)s.Value), k.Descending),
                    SearchParamType.Quantity => Then(o, q, r => db.Quantities.Where(s => s.ResourceRowId == r.Id && s.Param == p).Min(s => (double?)s.Value), k.Descending),
                    SearchParamType.Reference => Then(o, q, r => db.References.Where(s => s.ResourceRowId == r.Id && s.Param == p).Min(s => s.Url), k.Descending),
                    SearchParamType.Uri => Then(o, q, r => db.Uris.Where(s => s.ResourceRowId == r.Id && s.Param == p).Min(s => s.Uri), k.Descending),
                    _ => o ?? q.OrderBy(r => 0),
                },
            };
        }
        // The row id breaks ties, so paging over an unchanged result set is stable.
        return o is null ? q.OrderBy(r => r.Id) : o.ThenBy(r => r.Id);
    }

    private static IOrderedQueryable<ResourceVersionRow> Then<TKey>(IOrderedQueryable<ResourceVersionRow>? o, IQueryable<ResourceVersionRow> q,
        Expression<Func<ResourceVersionRow, TKey>> key, bool desc)
    {
        // Resources without a value sort last in both directions and on both providers (SQLite and PostgreSQL differ by default).
        if (default(TKey) is null)
        {
            var isNull = Expression.Lambda<Func<ResourceVersionRow, bool>>(Expression.Equal(key.Body, Expression.Constant(null, typeof(TKey))), key.Parameters);
            o = o is null ? q.OrderBy(isNull) : o.ThenBy(isNull);
        }
        return o is null ? (desc ? q.OrderByDescending(key) : q.OrderBy(key)) : (desc ? o.ThenByDescending(key) : o.ThenBy(key));
    }

    /// <param name="sourceType">The searched type, when one: reference index rows are narrowed to it (they carry it).</param>
    private static Expression<Func<ResourceVersionRow, bool>> ToExpression(FhirDbContext db, SearchPredicate p, bool drives, string? sourceType)
    {
        var param = p.Param;
        switch (p)
        {
            case IdPredicate id:
                return r => r.ResourceId == id.Id;
            case IdInPredicate inSet:
            {
                var ids = inSet.Ids.ToList();
                return r => ids.Contains(r.ResourceId);
            }
            case LastUpdatedPredicate lu:
                return RangeMatch<ResourceVersionRow>(lu.Prefix, lu.Start, lu.End, r => r.LastUpdated, r => r.LastUpdated);
            case MissingPredicate m:
            {
                Expression<Func<ResourceVersionRow, bool>> exists = m.Type switch
                {
                    SearchParamType.String => r => db.Strings.Any(x => x.ResourceRowId == r.Id && x.Param == param),
                    SearchParamType.Token => r => db.Tokens.Any(x => x.ResourceRowId == r.Id && x.Param == param),
                    SearchParamType.Date => r => db.Dates.Any(x => x.ResourceRowId == r.Id && x.Param == param),
                    SearchParamType.Number => r => db.Numbers.Any(x => x.ResourceRowId == r.Id && x.Param == param),
                    SearchParamType.Quantity => r => db.Quantities.Any(x => x.ResourceRowId == r.Id && x.Param == param),
                    SearchParamType.Reference => r => db.References.Any(x => x.ResourceRowId == r.Id && x.Param == param),
                    SearchParamType.Uri => r => db.Uris.Any(x => x.ResourceRowId == r.Id && x.Param == param),
                    _ => r => true,
                };
                return m.Missing ? Not(exists) : exists;
            }
            case CompartmentPredicate cp:
            {
                // One row-id set: the compartment resource's own row UNION ALL, per group of types sharing their linking
                // parameters, the rows referring to it through one of them. An OR of one IN per group instead makes
                // PostgreSQL scan every version row; one IN over the union is a probe of each index.
                var (ctype, cid) = (cp.Compartment, cp.Id);
                var own = db.Resources.Where(x => x.ResourceType == ctype && x.IsCurrent);
                var rowIds = (cid is null ? own : own.Where(x => x.ResourceId == cid)).Select(x => x.Id);
                foreach (var g in cp.ParamsByType.Where(kv => kv.Value.Length > 0).GroupBy(kv => string.Join(",", kv.Value.Order(StringComparer.Ordinal))))
                {
                    var types = g.Select(kv => kv.Key).ToList();
                    var ps = g.First().Value.ToList();
                    var refs = db.References.Where(x => ps.Contains(x.Param) && x.TargetType == ctype && types.Contains(x.SourceType!));
                    rowIds = rowIds.Concat((cid is null ? refs : refs.Where(x => x.TargetId == cid)).Select(x => x.ResourceRowId));
                }
                return r => rowIds.Contains(r.Id);
            }
            case TextPredicate text:
                return text.Words.Select(w =>
                {
                    var rowIds = db.Strings.Where(x => x.Param == param && x.Normalized.Contains(w)).Select(x => x.ResourceRowId);
                    return (Expression<Func<ResourceVersionRow, bool>>)(r => rowIds.Contains(r.Id));
                }).DefaultIfEmpty(r => true).Aggregate(And);
            default:
            {
                var keys = Matching(db, p, sourceType);
                if (!drives) return r => keys.Any(k => k.RowId == r.Id);
                var rowIds = keys.Select(k => k.RowId);
                return r => rowIds.Contains(r.Id);
            }
        }
    }

    /// <summary>
    /// Prefix match. SQLite's LIKE is case-insensitive, so it cannot use the (binary) index on Normalized; the
    /// equivalent range [prefix, next prefix) can. PostgreSQL's index on it is built with text_pattern_ops for LIKE.
    /// </summary>
    private static IQueryable<StringIndexRow> StartsWith(FhirDbContext db, IQueryable<StringIndexRow> rows, string prefix)
    {
        rows = rows.Where(x => x.Normalized.StartsWith(prefix));
        if (prefix.Length == 0 || !db.Database.IsSqlite() || char.IsSurrogate(prefix[^1]) || prefix[^1] == char.MaxValue) return rows;
        var next = prefix[..^1] + (char)(prefix[^1] + 1);
        return rows.Where(x => string.Compare(x.Normalized, prefix) >= 0 && string.Compare(x.Normalized, next) < 0);
    }

    /// <summary>The row id and composite group of an index row.</summary>
    private sealed class IndexKey
    {
        public long RowId { get; init; }
        public int? Group { get; init; }
    }

    private static IQueryable<IndexKey> Keys<T>(IQueryable<T> rows) where T : IndexRow =>
        rows.Select(x => new IndexKey { RowId = x.ResourceRowId, Group = x.CompositeGroup });

    /// <summary>The index rows a value predicate matches, in whichever typed table holds its parameter.</summary>
    private static IQueryable<IndexKey> Matching(FhirDbContext db, SearchPredicate p, string? sourceType = null)
    {
        var param = p.Param;
        switch (p)
        {
            case TokenPredicate t:
            {
                var (sys, code) = (t.System, t.Code);
                var rows = db.Tokens.Where(x => x.Param == param);
                if (t.MatchCode) rows = rows.Where(x => x.Code == code);
                if (t.MatchSystem) rows = sys is null ? rows.Where(x => x.System == null) : rows.Where(x => x.System == sys);
                return Keys(rows);
            }
            case TokenInPredicate tin:
            {
                // One IN list per code system.
                var any = tin.Codes.GroupBy(c => c.System).Select(g =>
                {
                    var sys = g.Key;
                    var codes = g.Select(c => c.Code).Distinct().ToList();
                    return sys is null
                        ? (Expression<Func<TokenIndexRow, bool>>)(x => x.System == null && codes.Contains(x.Code!))
                        : x => x.System == sys && codes.Contains(x.Code!);
                }).DefaultIfEmpty(x => false).Aggregate(Or);
                return Keys(db.Tokens.Where(x => x.Param == param).Where(any));
            }
            case TokenTextPredicate tt:
            {
                var text = TextNormalizer.Normalize(tt.Text);
                return Keys(db.Tokens.Where(x => x.Param == param && x.Text != null && x.Text.StartsWith(text)));
            }
            case StringPredicate s:
            {
                var v = s.Value;
                var norm = TextNormalizer.Normalize(v);
                var rows = db.Strings.Where(x => x.Param == param);
                return Keys(s.Match switch
                {
                    StringMatch.Exact => rows.Where(x => x.Value == v),
                    StringMatch.Contains => rows.Where(x => x.Normalized.Contains(norm)),
                    _ => StartsWith(db, rows, norm),
                });
            }
            case DatePredicate d:
                return Keys(db.Dates.Where(x => x.Param == param).Where(RangeMatch<DateIndexRow>(d.Prefix, d.Start, d.End, x => x.Start, x => x.End)));
            case NumberPredicate n:
                return Keys(db.Numbers.Where(x => x.Param == param).Where(NumberMatch<NumberIndexRow>(n.Prefix, n.Low, n.High, x => x.Value)));
            case QuantityPredicate qp:
            {
                var rows = db.Quantities.Where(x => x.Param == param).Where(NumberMatch<QuantityIndexRow>(qp.Prefix, qp.Low, qp.High, x => x.Value));
                if (qp.System is { } qs) rows = rows.Where(x => x.System == qs);
                if (qp.Code is { } qc) rows = rows.Where(x => x.Code == qc);
                return Keys(rows);
            }
            case ReferencePredicate rp:
            {
                var rows = db.References.Where(x => x.Param == param);
                if (rp.TargetId is { } tid) rows = rows.Where(x => x.TargetId == tid);
                if (rp.TargetType is { } tt) rows = rows.Where(x => x.TargetType == tt);
                if (sourceType is not null) rows = rows.Where(x => x.SourceType == sourceType);
                if (rp.Url is { } url) rows = rows.Where(x => x.Url == url);
                return Keys(rows);
            }
            case ReferenceToAnyPredicate ra:
            {
                var ids = ra.TargetIds.ToList();
                var tt = ra.TargetType;
                var rows = db.References.Where(x => x.Param == param && x.TargetType == tt && ids.Contains(x.TargetId!));
                return Keys(sourceType is null ? rows : rows.Where(x => x.SourceType == sourceType));
            }
            case UriPredicate u:
                return Keys(db.Uris.Where(x => x.Param == param).Where(UriMatches<UriIndexRow>(x => x.Uri, u.Value, u.Match)));
            case CanonicalPredicate c:
                return Keys(db.References.Where(x => x.Param == param && x.Url != null).Where(UriMatches<ReferenceIndexRow>(x => x.Url!, c.Value, c.Match)));
            case CompositePredicate cp:
            {
                // The first component's rows, kept when every other component matches a row of the same element (row id and group).
                var first = Matching(db, cp.Components[0]).Where(a => a.Group != null);
                foreach (var other in cp.Components.Skip(1))
                {
                    var rest = Matching(db, other);
                    first = first.Where(a => rest.Any(b => b.RowId == a.RowId && b.Group == a.Group));
                }
                return first;
            }
            default:
                throw new NotSupportedException(p.GetType().Name);
        }
    }

    /// <summary>
    /// Exact, :below (the value, or it followed by a path segment or a "|version") and :above (any path or version
    /// prefix of the value, listed here so the index answers by equality).
    /// </summary>
    private static Expression<Func<T, bool>> UriMatches<T>(Expression<Func<T, string>> column, string value, UriMatch match)
    {
        switch (match)
        {
            case UriMatch.Below:
            {
                var bar = value.IndexOf('|');
                // With a version, :below means that version or a later dotted part of it (1.2 → 1.2, 1.2.3).
                string[] starts = bar >= 0 ? [value + "."] : [value + "/", value + "|"];
                return starts.Aggregate(Cmp(column, ExpressionType.Equal, value), (e, s) => Or(e, StartsWith(column, s)));
            }
            case UriMatch.Above:
            {
                var holder = new ValueHolder<List<string>>(AboveCandidates(value));
                var contains = Expression.Call(typeof(Enumerable), nameof(Enumerable.Contains), [typeof(string)],
                    Expression.Property(Expression.Constant(holder), nameof(ValueHolder<List<string>>.Value)), column.Body);
                return Expression.Lambda<Func<T, bool>>(contains, column.Parameters);
            }
            default:
                return Cmp(column, ExpressionType.Equal, value);
        }
    }

    /// <summary>"http://a.org/fhir/ValueSet/x|1.2" → the url's path prefixes, the url, "url|1", "url|1.2".</summary>
    internal static List<string> AboveCandidates(string value)
    {
        var bar = value.IndexOf('|');
        var url = bar >= 0 ? value[..bar] : value;
        var result = new List<string>();
        var scheme = url.IndexOf("://", StringComparison.Ordinal);
        for (var i = url.IndexOf('/', scheme >= 0 ? scheme + 3 : 0); i > 0; i = url.IndexOf('/', i + 1)) result.Add(url[..i]);
        result.Add(url);
        if (bar >= 0)
        {
            var version = value[(bar + 1)..];
            for (var i = version.IndexOf('.'); i > 0; i = version.IndexOf('.', i + 1)) result.Add(url + "|" + version[..i]);
            result.Add(value);
        }
        return result.Distinct().ToList();
    }

    private static Expression<Func<T, bool>> StartsWith<T>(Expression<Func<T, string>> column, string prefix)
    {
        var holder = new ValueHolder<string>(prefix);
        var call = Expression.Call(column.Body, typeof(string).GetMethod(nameof(string.StartsWith), [typeof(string)])!,
            Expression.Property(Expression.Constant(holder), nameof(ValueHolder<string>.Value)));
        return Expression.Lambda<Func<T, bool>>(call, column.Parameters);
    }

    /// <summary>Date-range semantics of the FHIR prefixes: the search range [s,e] against the indexed range [start,end].</summary>
    private static Expression<Func<T, bool>> RangeMatch<T>(Prefix prefix, long s, long e,
        Expression<Func<T, long>> start, Expression<Func<T, long>> end)
    {
        return prefix switch
        {
            Prefix.Eq => And(Cmp(start, ExpressionType.GreaterThanOrEqual, s), Cmp(end, ExpressionType.LessThanOrEqual, e)),
            Prefix.Ne => Or(Cmp(start, ExpressionType.LessThan, s), Cmp(end, ExpressionType.GreaterThan, e)),
            Prefix.Gt => Cmp(end, ExpressionType.GreaterThan, e),
            Prefix.Lt => Cmp(start, ExpressionType.LessThan, s),
            Prefix.Ge => Or(Cmp(end, ExpressionType.GreaterThan, e), And(Cmp(start, ExpressionType.GreaterThanOrEqual, s), Cmp(end, ExpressionType.LessThanOrEqual, e))),
            Prefix.Le => Or(Cmp(start, ExpressionType.LessThan, s), And(Cmp(start, ExpressionType.GreaterThanOrEqual, s), Cmp(end, ExpressionType.LessThanOrEqual, e))),
            Prefix.Sa => Cmp(start, ExpressionType.GreaterThan, e),
            Prefix.Eb => Cmp(end, ExpressionType.LessThan, s),
            // ap: overlaps the search range widened by 10% of its distance from now (at least a day).
            Prefix.Ap => ApproxRange(start, end, s, e),
            _ => throw new NotSupportedException(prefix.ToString()),
        };
    }

    private static Expression<Func<T, bool>> ApproxRange<T>(Expression<Func<T, long>> start, Expression<Func<T, long>> end, long s, long e)
    {
        var now = DateTime.UtcNow.Ticks;
        var margin = Math.Max(TimeSpan.TicksPerDay, Math.Abs(now - s) / 10);
        return And(Cmp(end, ExpressionType.GreaterThanOrEqual, s - margin), Cmp(start, ExpressionType.LessThanOrEqual, e + margin));
    }

    /// <summary>Number semantics: [low,high) is the implicit range of the search value's precision.</summary>
    private static Expression<Func<T, bool>> NumberMatch<T>(Prefix prefix, double low, double high, Expression<Func<T, double>> value) => prefix switch
    {
        Prefix.Eq => And(Cmp(value, ExpressionType.GreaterThanOrEqual, low), Cmp(value, ExpressionType.LessThan, high)),
        Prefix.Ne => Or(Cmp(value, ExpressionType.LessThan, low), Cmp(value, ExpressionType.GreaterThanOrEqual, high)),
        Prefix.Gt or Prefix.Sa => Cmp(value, ExpressionType.GreaterThan, (low + high) / 2),
        Prefix.Lt or Prefix.Eb => Cmp(value, ExpressionType.LessThan, (low + high) / 2),
        Prefix.Ge => Cmp(value, ExpressionType.GreaterThanOrEqual, (low + high) / 2),
        Prefix.Le => Cmp(value, ExpressionType.LessThanOrEqual, (low + high) / 2),
        Prefix.Ap => And(Cmp(value, ExpressionType.GreaterThanOrEqual, (low + high) / 2 * 0.9), Cmp(value, ExpressionType.LessThanOrEqual, (low + high) / 2 * 1.1)),
        _ => throw new NotSupportedException(prefix.ToString()),
    };

    private static Expression<Func<T, bool>> Cmp<T, TV>(Expression<Func<T, TV>> member, ExpressionType op, TV constant)
    {
        // A closure-held value becomes a SQL parameter rather than a literal, so plans are reused.
        var holder = new ValueHolder<TV>(constant);
        var body = Expression.MakeBinary(op, member.Body, Expression.Property(Expression.Constant(holder), nameof(ValueHolder<TV>.Value)));
        return Expression.Lambda<Func<T, bool>>(body, member.Parameters);
    }

    private sealed class ValueHolder<TV>(TV value)
    {
        public TV Value { get; } = value;
    }

    private static Expression<Func<T, bool>> Or<T>(Expression<Func<T, bool>> a, Expression<Func<T, bool>> b) =>
        Combine(a, b, Expression.OrElse);

    private static Expression<Func<T, bool>> And<T>(Expression<Func<T, bool>> a, Expression<Func<T, bool>> b) =>
        Combine(a, b, Expression.AndAlso);

    private static Expression<Func<T, bool>> Not<T>(Expression<Func<T, bool>> a) =>
        Expression.Lambda<Func<T, bool>>(Expression.Not(a.Body), a.Parameters);

    private static Expression<Func<T, bool>> Combine<T>(Expression<Func<T, bool>> a, Expression<Func<T, bool>> b,
        Func<Expression, Expression, BinaryExpression> op)
    {
        var p = a.Parameters[0];
        var bBody = new Rebind(b.Parameters[0], p).Visit(b.Body);
        return Expression.Lambda<Func<T, bool>>(op(a.Body, bBody), p);
    }

    private sealed class Rebind(ParameterExpression from, Expression to) : ExpressionVisitor
    {
        protected override Expression VisitParameter(ParameterExpression node) => node == from ? to : node;
    }
}

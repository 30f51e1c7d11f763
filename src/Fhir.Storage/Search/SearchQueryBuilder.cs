using System.Linq.Expressions;
using FhirArchive.Storage.Indexing;

namespace FhirArchive.Storage.Search;

/// <summary>
/// Turns a <see cref="SearchQuery"/> into one SQL query over current versions: every predicate becomes an EXISTS
/// over its typed index table, so both providers run it without loading index rows.
/// </summary>
internal static class SearchQueryBuilder
{
    public static IQueryable<ResourceVersionRow> Build(FhirDbContext db, SearchQuery query)
    {
        var q = db.Resources.Where(r => r.IsCurrent && !r.IsDeleted);
        if (query.ResourceType is { } type) q = q.Where(r => r.ResourceType == type);
        if (query.Types is { } types) q = q.Where(r => types.Contains(r.ResourceType));
        foreach (var c in query.Criteria)
        {
            var any = c.AnyOf.Select(p => ToExpression(db, p)).Aggregate(Or);
            q = q.Where(c.Negated ? Not(any) : any);
        }
        return q;
    }

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

    private static Expression<Func<ResourceVersionRow, bool>> ToExpression(FhirDbContext db, SearchPredicate p)
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
            case TokenPredicate t:
            {
                var (sys, code) = (t.System, t.Code);
                if (t.MatchSystem && t.MatchCode)
                    return sys is null
                        ? r => db.Tokens.Any(x => x.ResourceRowId == r.Id && x.Param == param && x.System == null && x.Code == code)
                        : r => db.Tokens.Any(x => x.ResourceRowId == r.Id && x.Param == param && x.System == sys && x.Code == code);
                if (t.MatchSystem) return r => db.Tokens.Any(x => x.ResourceRowId == r.Id && x.Param == param && x.System == sys);
                return r => db.Tokens.Any(x => x.ResourceRowId == r.Id && x.Param == param && x.Code == code);
            }
            case TokenTextPredicate tt:
            {
                var text = TextNormalizer.Normalize(tt.Text);
                return r => db.Tokens.Any(x => x.ResourceRowId == r.Id && x.Param == param && x.Text != null && x.Text.StartsWith(text));
            }
            case StringPredicate s:
            {
                var v = s.Value;
                var norm = TextNormalizer.Normalize(v);
                return s.Match switch
                {
                    StringMatch.Exact => r => db.Strings.Any(x => x.ResourceRowId == r.Id && x.Param == param && x.Value == v),
                    StringMatch.Contains => r => db.Strings.Any(x => x.ResourceRowId == r.Id && x.Param == param && x.Normalized.Contains(norm)),
                    _ => r => db.Strings.Any(x => x.ResourceRowId == r.Id && x.Param == param && x.Normalized.StartsWith(norm)),
                };
            }
            case DatePredicate d:
            {
                var inner = RangeMatch<DateIndexRow>(d.Prefix, d.Start, d.End, x => x.Start, x => x.End);
                var rows = db.Dates.Where(x => x.Param == param).Where(inner);
                return r => rows.Any(x => x.ResourceRowId == r.Id);
            }
            case NumberPredicate n:
            {
                var inner = NumberMatch<NumberIndexRow>(n.Prefix, n.Low, n.High, x => x.Value);
                var rows = db.Numbers.Where(x => x.Param == param).Where(inner);
                return r => rows.Any(x => x.ResourceRowId == r.Id);
            }
            case QuantityPredicate qp:
            {
                var inner = NumberMatch<QuantityIndexRow>(qp.Prefix, qp.Low, qp.High, x => x.Value);
                var rows = db.Quantities.Where(x => x.Param == param).Where(inner);
                if (qp.System is { } qs) rows = rows.Where(x => x.System == qs);
                if (qp.Code is { } qc) rows = rows.Where(x => x.Code == qc);
                return r => rows.Any(x => x.ResourceRowId == r.Id);
            }
            case ReferencePredicate rp:
            {
                var rows = db.References.Where(x => x.Param == param);
                if (rp.TargetId is { } tid) rows = rows.Where(x => x.TargetId == tid);
                if (rp.TargetType is { } tt) rows = rows.Where(x => x.TargetType == tt);
                if (rp.Url is { } url) rows = rows.Where(x => x.Url == url);
                return r => rows.Any(x => x.ResourceRowId == r.Id);
            }
            case ReferenceToAnyPredicate ra:
            {
                var ids = ra.TargetIds.ToList();
                var tt = ra.TargetType;
                return r => db.References.Any(x => x.ResourceRowId == r.Id && x.Param == param && x.TargetType == tt && ids.Contains(x.TargetId!));
            }
            case UriPredicate u:
            {
                var v = u.Value;
                return r => db.Uris.Any(x => x.ResourceRowId == r.Id && x.Param == param && x.Uri == v);
            }
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
            default:
                throw new NotSupportedException(p.GetType().Name);
        }
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

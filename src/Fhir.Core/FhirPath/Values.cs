using System.Text;
using FhirArchive.Fhir.Model;

namespace FhirArchive.Fhir.FhirPath;

/// <summary>Singleton evaluation, equality and equivalence of items.</summary>
internal static class Values
{
    /// <summary>The System value of a collection that must hold at most one item (null when empty).</summary>
    public static object? SingleValue(IReadOnlyList<FhirPathItem> c, string what)
    {
        if (c.Count == 0) return null;
        if (c.Count > 1) throw new FhirPathEvaluationException($"{what}: expected a single item, got {c.Count}");
        return c[0].Value;
    }

    public static FhirPathItem? Single(IReadOnlyList<FhirPathItem> c, string what)
    {
        if (c.Count == 0) return null;
        if (c.Count > 1) throw new FhirPathEvaluationException($"{what}: expected a single item, got {c.Count}");
        return c[0];
    }

    /// <summary>Singleton evaluation as a Boolean: empty → null, one non-Boolean item → true (spec 4.5).</summary>
    public static bool? SingleBool(IReadOnlyList<FhirPathItem> c, string what)
    {
        if (c.Count == 0) return null;
        if (c.Count > 1) throw new FhirPathEvaluationException($"{what}: expected a single Boolean, got {c.Count} items");
        return c[0].Value is bool b ? b : true;
    }

    public static string? SingleString(IReadOnlyList<FhirPathItem> c, string what)
    {
        var v = SingleValue(c, what);
        return v switch
        {
            null => null,
            string s => s,
            _ => throw new FhirPathEvaluationException($"{what}: expected a String"),
        };
    }

    public static long? SingleInteger(IReadOnlyList<FhirPathItem> c, string what)
    {
        var v = SingleValue(c, what);
        return v switch
        {
            null => null,
            long l => l,
            _ => throw new FhirPathEvaluationException($"{what}: expected an Integer"),
        };
    }

    /// <summary>Spec equality: null when unknown (partial dates of different precision, incomparable quantities).</summary>
    public static bool? ItemEquals(FhirPathItem a, FhirPathItem b)
    {
        if (ReferenceEquals(a, b)) return true;
        var va = a.Value;
        var vb = b.Value;
        if (va is null || vb is null)
        {
            if (a.Node is { } na && b.Node is { } nb && va is null && vb is null) return DeepEquals(na, nb, false);
            if (va is null && vb is null) return a.Node is null && b.Node is null;
            return false;
        }
        return ValueEquals(va, vb);
    }

    public static bool? ValueEquals(object va, object vb)
    {
        switch (va)
        {
            case long la when vb is long lb: return la == lb;
            case long la when vb is decimal db: return la == db;
            case decimal da when vb is long lb: return da == lb;
            case decimal da when vb is decimal db: return da == db;
            case string sa when vb is string sb: return sa == sb;
            case bool ba when vb is bool bb: return ba == bb;
            case PartialDateTime pa when vb is PartialDateTime pb:
                if (pa.IsTime != pb.IsTime) return false;
                var c = PartialDateTime.Compare(pa, pb);
                return c is null ? null : c == 0;
            case Quantity qa when vb is Quantity qb:
                var q = Quantity.Compare(qa, qb);
                return q is null ? null : q == 0;
            case Quantity qa when vb is long or decimal:
                return qa.Unit == "1" && qa.Value == Convert.ToDecimal(vb);
            case TypeInfo ta when vb is TypeInfo tb: return ta == tb;
            default: return false;
        }
    }

    public static bool ItemEquivalent(FhirPathItem a, FhirPathItem b)
    {
        var va = a.Value;
        var vb = b.Value;
        if (va is null || vb is null)
        {
            if (a.Node is { } na && b.Node is { } nb && va is null && vb is null) return DeepEquals(na, nb, true) == true;
            return va is null && vb is null && a.Node is null && b.Node is null;
        }
        switch (va)
        {
            case string sa when vb is string sb: return NormalizeString(sa) == NormalizeString(sb);
            case long or decimal when vb is long or decimal:
            {
                decimal x = Convert.ToDecimal(va), y = Convert.ToDecimal(vb);
                var scale = Math.Min(x.Scale, y.Scale);
                return Math.Round(x, scale, MidpointRounding.AwayFromZero) == Math.Round(y, scale, MidpointRounding.AwayFromZero);
            }
            case PartialDateTime pa when vb is PartialDateTime pb: return PartialDateTime.Equivalent(pa, pb);
            case Quantity qa when vb is Quantity qb:
            {
                if (Quantity.Compare(qa, qb, equivalence: true) is 0 || EquivalentRounded(qa, qb)) return true;
                // Compare at the precision of the less precise side, in either unit.
                var scale = Math.Min(qa.Value.Scale, qb.Value.Scale);
                return qa.ConvertTo(qb.Unit) is { } ab && Math.Round(ab.Value, scale) == Math.Round(qb.Value, scale)
                       || qb.ConvertTo(qa.Unit) is { } ba && Math.Round(ba.Value, scale) == Math.Round(qa.Value, scale);
            }
            default: return ValueEquals(va, vb) == true;
        }
    }

    private static bool EquivalentRounded(Quantity a, Quantity b)
    {
        if (a.Unit != b.Unit) return false;
        var scale = Math.Min(a.Value.Scale, b.Value.Scale);
        return Math.Round(a.Value, scale) == Math.Round(b.Value, scale);
    }

    private static string NormalizeString(string s)
    {
        var sb = new StringBuilder(s.Length);
        var space = false;
        foreach (var ch in s.Trim())
        {
            if (char.IsWhiteSpace(ch))
            {
                space = true;
                continue;
            }
            if (space) sb.Append(' ');
            space = false;
            sb.Append(char.ToLowerInvariant(ch));
        }
        return sb.ToString();
    }

    /// <summary>Structural comparison of complex elements: the same children with equal (or equivalent) values.</summary>
    private static bool? DeepEquals(ElementNode a, ElementNode b, bool equivalence)
    {
        if (a.Type != b.Type) return false;
        if (a.HasValue || b.HasValue)
        {
            if (a.Value != b.Value) return false;
        }
        var ca = a.Children;
        var cb = b.Children;
        if (equivalence)
        {
            // Equivalence ignores ids.
            var la = ca.Where(c => c.Name != "id").ToList();
            var lb = cb.Where(c => c.Name != "id").ToList();
            if (la.Count != lb.Count) return false;
            for (var i = 0; i < la.Count; i++)
                if (la[i].Name != lb[i].Name || !ItemEquivalent(FhirPathItem.FromNode(la[i]), FhirPathItem.FromNode(lb[i]))) return false;
            return true;
        }
        if (ca.Count != cb.Count) return false;
        for (var i = 0; i < ca.Count; i++)
        {
            if (ca[i].Name != cb[i].Name) return false;
            if (ItemEquals(FhirPathItem.FromNode(ca[i]), FhirPathItem.FromNode(cb[i])) != true) return false;
        }
        return true;
    }

    /// <summary>Ordering for comparison operators; throws when the types cannot be compared.</summary>
    public static int? Compare(object a, object b)
    {
        switch (a)
        {
            case long la when b is long lb: return la.CompareTo(lb);
            case long or decimal when b is long or decimal: return Convert.ToDecimal(a).CompareTo(Convert.ToDecimal(b));
            case string sa when b is string sb: return string.CompareOrdinal(sa, sb) switch { < 0 => -1, > 0 => 1, _ => 0 };
            case PartialDateTime pa when b is PartialDateTime pb:
                if (pa.IsTime != pb.IsTime) throw new FhirPathEvaluationException("cannot compare a time with a date");
                return PartialDateTime.Compare(pa, pb);
            case Quantity qa when b is Quantity qb: return Quantity.Compare(qa, qb);
            default:
                throw new FhirPathEvaluationException($"cannot compare {FhirPathItem.SystemTypeName(a)} with {FhirPathItem.SystemTypeName(b)}");
        }
    }

    /// <summary>Distinct by equality, keeping first occurrences. Items are bucketed by a coarse hash that equal
    /// items always share (1 and 1.0 included), so large unions stay near linear.</summary>
    public static List<FhirPathItem> Distinct(IEnumerable<FhirPathItem> items)
    {
        var result = new List<FhirPathItem>();
        Dictionary<int, List<FhirPathItem>>? buckets = null;
        foreach (var it in items)
        {
            if (buckets is null && result.Count < 16)
            {
                var dup = false;
                foreach (var r in result)
                    if (SameItem(r, it)) { dup = true; break; }
                if (!dup) result.Add(it);
                continue;
            }
            if (buckets is null)
            {
                buckets = [];
                foreach (var r in result) Bucket(buckets, r).Add(r);
            }
            var bucket = Bucket(buckets, it);
            var seen = false;
            foreach (var r in bucket)
                if (SameItem(r, it)) { seen = true; break; }
            if (seen) continue;
            bucket.Add(it);
            result.Add(it);
        }
        return result;
    }

    private static List<FhirPathItem> Bucket(Dictionary<int, List<FhirPathItem>> buckets, FhirPathItem it)
    {
        var h = it.Value switch
        {
            long l => ((decimal)l).GetHashCode(),
            decimal d => d.GetHashCode(),
            string s => s.GetHashCode(),
            bool b => b ? 1 : 2,
            PartialDateTime p => p.Year,
            Quantity => 3,
            _ => it.Node?.Type?.GetHashCode() ?? 4,
        };
        if (!buckets.TryGetValue(h, out var list)) buckets[h] = list = [];
        return list;
    }

    /// <summary>Identity for union/distinct: the same node, or equal values.</summary>
    public static bool SameItem(FhirPathItem a, FhirPathItem b)
    {
        if (a.Node is not null && ReferenceEquals(a.Node, b.Node)) return true;
        return ItemEquals(a, b) == true;
    }

    public static bool Contains(IReadOnlyList<FhirPathItem> list, FhirPathItem item)
    {
        foreach (var x in list)
            if (ItemEquals(x, item) == true) return true;
        return false;
    }
}

using FhirArchive.Fhir.Outcomes;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage.Indexing;
using FhirArchive.Storage.Search;

namespace FhirArchive.Rest.Search;

/// <summary>Composite values ("code$value"): each part parsed as its component's type, under the component's index name.</summary>
public sealed partial class SearchParser
{
    /// <summary>One composite value "a$b[$c]": each part is parsed as its component's type, under the component's index name.</summary>
    private CompositePredicate ParseComposite(SearchParamDef p, string value)
    {
        var parts = SplitUnescaped(value, '$');
        if (parts.Count != p.Components.Count)
            throw FhirException.BadRequest($"{p.Code} takes {p.Components.Count} parts separated by '$', not '{value}'.");
        return new CompositePredicate(p.Code, parts.Select((v, i) => ParseValue(p.ComponentParam(i), p.Components[i].Type, v)).ToList());
    }

    /// <summary>A plain value of a parameter type (no modifier), as written (escapes kept): used for composite components.</summary>
    private SearchPredicate ParseValue(string param, SearchParamType type, string escaped)
    {
        var v = type is SearchParamType.Token or SearchParamType.Quantity ? escaped : Unescape(escaped);
        switch (type)
        {
            case SearchParamType.Token: return ParseToken(param, v);
            case SearchParamType.String: return new StringPredicate(param, v, StringMatch.StartsWith);
            case SearchParamType.Reference: return ParseReference(param, null, v);
            case SearchParamType.Uri: return new UriPredicate(param, v);
            case SearchParamType.Date:
            {
                var (prefix, rest) = SplitPrefix(v);
                var r = ParseDate(rest);
                return new DatePredicate(param, prefix, r.Start, r.End);
            }
            case SearchParamType.Number:
            {
                var (prefix, rest) = SplitPrefix(v);
                var (lo, hi) = NumberRange(rest);
                return new NumberPredicate(param, prefix, lo, hi);
            }
            case SearchParamType.Quantity:
            {
                var parts = SplitBars(v);
                var (prefix, rest) = SplitPrefix(parts[0]);
                var (lo, hi) = NumberRange(rest);
                return new QuantityPredicate(param, prefix, lo, hi, parts.Length > 1 && parts[1].Length > 0 ? parts[1] : null, parts.Length > 2 && parts[2].Length > 0 ? parts[2] : null);
            }
            default: throw new UnsupportedSearchException($"A {type} component cannot be searched.");
        }
    }

    /// <summary>Splits on a separator not escaped with a backslash, keeping the escapes (for <see cref="Unescape"/> later).</summary>
    private static List<string> SplitUnescaped(string value, char separator)
    {
        var result = new List<string>();
        var start = 0;
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '\\') i++;
            else if (value[i] == separator)
            {
                result.Add(value[start..i]);
                start = i + 1;
            }
        }
        result.Add(value[start..]);
        return result;
    }

    /// <summary>Composite alternatives: commas outside escapes; the '$' parts keep their escapes until split.</summary>
    private static List<string> SplitComposite(string value) => SplitUnescaped(value, ',');
}

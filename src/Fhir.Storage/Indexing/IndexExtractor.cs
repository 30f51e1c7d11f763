using System.Globalization;
using FhirArchive.Fhir.Model;

namespace FhirArchive.Storage.Indexing;

/// <summary>The search-index rows of one resource version, written with it in one transaction.</summary>
public sealed class IndexSet
{
    public List<TokenIndexRow> Tokens { get; } = [];
    public List<StringIndexRow> Strings { get; } = [];
    public List<DateIndexRow> Dates { get; } = [];
    public List<NumberIndexRow> Numbers { get; } = [];
    public List<QuantityIndexRow> Quantities { get; } = [];
    public List<ReferenceIndexRow> References { get; } = [];
    public List<UriIndexRow> Uris { get; } = [];

    public IEnumerable<IndexRow> All =>
        Tokens.Cast<IndexRow>().Concat(Strings).Concat(Dates).Concat(Numbers).Concat(Quantities).Concat(References).Concat(Uris);

    private IReadOnlyList<IndexRow>[] Lists => [Tokens, Strings, Dates, Numbers, Quantities, References, Uris];

    /// <summary>Row counts per table, to tell the rows added since (composite components).</summary>
    internal int[] Counts() => Lists.Select(l => l.Count).ToArray();

    internal void MarkGroupSince(int[] counts, int group)
    {
        var lists = Lists;
        for (var t = 0; t < lists.Length; t++)
            for (var i = counts[t]; i < lists[t].Count; i++) lists[t][i].CompositeGroup = group;
    }
}

/// <summary>Turns a resource into typed index rows for every search parameter of its type.</summary>
/// <param name="encryption">Field encryption: the protected values' rows hold their blind index (off when null).</param>
public sealed class IndexExtractor(SearchParameterRegistry registry, ISearchExpressionEvaluator evaluator, TimeSpan localOffset = default,
    Encryption.FieldEncryption? encryption = null)
{
    public IndexSet Extract(ElementNode resource)
    {
        var set = new IndexSet();
        var group = 0;
        foreach (var p in registry.For(resource.Type ?? resource.Name))
        {
            // _id and _lastUpdated are columns of the version row; special parameters are not indexed.
            if (p.Expression is null || p.Code is "_id" or "_lastUpdated" || p.Type is SearchParamType.Special) continue;
            if (p.Type is SearchParamType.Composite && p.Components.Count == 0) continue;
            var nodes = Select(resource, p.Expression);
            if (p.Type is SearchParamType.Composite)
                foreach (var n in nodes) AddComposite(set, p, n, group++);
            else
                foreach (var n in nodes) Add(set, p, n);
        }
        var protectedValues = encryption?.ProtectedValues(resource);
        TextIndex.Add(set, resource, protectedValues);
        if (protectedValues is { Count: > 0 }) encryption!.BlindRows(set, protectedValues, resource.Type ?? resource.Name);
        foreach (var r in set.References) r.SourceType = resource.Type ?? resource.Name;
        return set;
    }

    private List<ElementNode> Select(ElementNode focus, string expression)
    {
        try { return evaluator.Select(focus, expression).ToList(); }
        catch (Exception) { return []; } // an expression the evaluator cannot handle indexes nothing rather than failing the write
    }

    /// <summary>
    /// One composite element (e.g. one Observation.component): each component's values are indexed as ordinary typed
    /// rows under "code$i", all tagged with the element's group, so a search can require them in the same element.
    /// </summary>
    private void AddComposite(IndexSet set, SearchParamDef p, ElementNode element, int group)
    {
        // A composite value exists only where every component has one (code-value-date needs a dateTime value).
        var values = p.Components.Select(c => Select(element, c.Expression)).ToList();
        if (values.Any(v => v.Count == 0)) return;
        var before = set.Counts();
        for (var i = 0; i < p.Components.Count; i++)
        {
            var component = new SearchParamDef(p.ComponentParam(i), p.Components[i].Type, null, [], p.Url);
            foreach (var n in values[i]) Add(set, component, n);
        }
        set.MarkGroupSince(before, group);
    }

    private void Add(IndexSet set, SearchParamDef p, ElementNode n)
    {
        switch (p.Type)
        {
            case SearchParamType.String: AddStrings(set, p.Code, n); break;
            case SearchParamType.Token: AddTokens(set, p.Code, n); break;
            case SearchParamType.Date: AddDate(set, p.Code, n); break;
            case SearchParamType.Number:
                if (TryDouble(n.Value, out var d)) set.Numbers.Add(new NumberIndexRow { Param = p.Code, Value = d });
                break;
            case SearchParamType.Quantity: AddQuantity(set, p.Code, n); break;
            case SearchParamType.Reference: AddReference(set, p.Code, n); break;
            case SearchParamType.Uri:
                if (n.Value is { } u) set.Uris.Add(new UriIndexRow { Param = p.Code, Uri = u });
                break;
        }
    }

    private static void AddStrings(IndexSet set, string code, ElementNode n)
    {
        if (n.IsPrimitive)
        {
            if (n.Value is { } v) set.Strings.Add(new StringIndexRow { Param = code, Value = v, Normalized = TextNormalizer.Normalize(v) });
            return;
        }
        // HumanName, Address and other complex values: every string part is searchable.
        foreach (var c in n.Children)
            if (c.IsPrimitive && c.Name is not ("use" or "id") && c.Value is { } v && c.Type is "string" or "markdown")
                set.Strings.Add(new StringIndexRow { Param = code, Value = v, Normalized = TextNormalizer.Normalize(v) });
    }

    private static void AddTokens(IndexSet set, string code, ElementNode n)
    {
        switch (n.Type)
        {
            case "Coding":
                set.Tokens.Add(Token(code, n.Child("system")?.Value, n.Child("code")?.Value, n.Child("display")?.Value));
                break;
            case "CodeableConcept":
                var text = n.Child("text")?.Value;
                foreach (var c in n.ChildrenNamed("coding"))
                    set.Tokens.Add(Token(code, c.Child("system")?.Value, c.Child("code")?.Value, c.Child("display")?.Value));
                // The concept's own text is searchable with :text even when codings carry displays.
                if (text is not null) set.Tokens.Add(Token(code, null, null, text));
                break;
            case "Identifier":
                set.Tokens.Add(Token(code, n.Child("system")?.Value, n.Child("value")?.Value, n.Child("type")?.Child("text")?.Value));
                // :of-type (type-system|type-code|value) is indexed under "code:of-type" with the code "type-code|value".
                if (n.Child("value")?.Value is { } identValue)
                    foreach (var t in n.Child("type")?.ChildrenNamed("coding") ?? [])
                        if (t.Child("code")?.Value is { } typeCode)
                            set.Tokens.Add(Token(code + ":of-type", t.Child("system")?.Value, OfTypeCode(typeCode, identValue), null));
                break;
            case "ContactPoint":
                set.Tokens.Add(Token(code, n.Child("system")?.Value, n.Child("value")?.Value, null));
                break;
            case "Quantity" or "Age" or "Duration" or "Distance" or "Count" or "SimpleQuantity":
                set.Tokens.Add(Token(code, n.Child("system")?.Value, n.Child("code")?.Value, n.Child("unit")?.Value));
                break;
            default:
                if (n.IsPrimitive && n.Value is { } v)
                    set.Tokens.Add(Token(code, n.Type == "boolean" ? null : null, v, null));
                break;
        }
    }

    /// <summary>The stored code of an :of-type row.</summary>
    public static string OfTypeCode(string typeCode, string value) => typeCode + "|" + value;

    private static TokenIndexRow Token(string param, string? system, string? code, string? text) =>
        new() { Param = param, System = system, Code = code, Text = text is null ? null : TextNormalizer.Normalize(text) };

    private void AddDate(IndexSet set, string code, ElementNode n)
    {
        if (n.IsPrimitive)
        {
            if (FhirDateRange.TryParse(n.Value, localOffset, out var r)) set.Dates.Add(new DateIndexRow { Param = code, Start = r.Start, End = r.End });
            return;
        }
        if (n.Type == "Period")
        {
            var hasStart = FhirDateRange.TryParse(n.Child("start")?.Value, localOffset, out var s);
            var hasEnd = FhirDateRange.TryParse(n.Child("end")?.Value, localOffset, out var e);
            if (hasStart || hasEnd)
                set.Dates.Add(new DateIndexRow { Param = code, Start = hasStart ? s.Start : FhirDateRange.Min, End = hasEnd ? e.End : FhirDateRange.Max });
            return;
        }
        if (n.Type == "Timing")
            foreach (var ev in n.ChildrenNamed("event"))
                if (FhirDateRange.TryParse(ev.Value, localOffset, out var r)) set.Dates.Add(new DateIndexRow { Param = code, Start = r.Start, End = r.End });
    }

    private static void AddQuantity(IndexSet set, string code, ElementNode n)
    {
        if (n.Type == "Money")
        {
            if (TryDouble(n.Child("value")?.Value, out var m))
                set.Quantities.Add(new QuantityIndexRow { Param = code, Value = m, System = "urn:iso:std:iso:4217", Code = n.Child("currency")?.Value });
            return;
        }
        if (TryDouble(n.Child("value")?.Value, out var v))
            set.Quantities.Add(new QuantityIndexRow
            {
                Param = code, Value = v, System = n.Child("system")?.Value, Code = n.Child("code")?.Value ?? n.Child("unit")?.Value,
            });
    }

    private static void AddReference(IndexSet set, string code, ElementNode n)
    {
        var reference = n.Type == "Reference" ? n.Child("reference")?.Value : n.Value;
        // Reference.identifier serves the :identifier modifier, indexed as a token under "code:identifier".
        if (n.Type == "Reference" && n.Child("identifier") is { } ident)
            set.Tokens.Add(Token(code + ":identifier", ident.Child("system")?.Value, ident.Child("value")?.Value, null));
        if (reference is null) return;
        var (type, id) = ReferenceParts.Split(reference);
        set.References.Add(new ReferenceIndexRow { Param = code, TargetType = type, TargetId = id, Url = reference });
    }

    private static bool TryDouble(string? s, out double d) =>
        double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out d);
}

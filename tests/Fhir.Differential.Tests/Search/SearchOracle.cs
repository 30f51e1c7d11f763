using System.Collections.Concurrent;
using System.Globalization;
using Hl7.Fhir.FhirPath;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using FirelyCompiler = Hl7.FhirPath.FhirPathCompiler;
using FirelyExpression = Hl7.FhirPath.CompiledExpression;
using SearchParamType = Hl7.Fhir.Model.SearchParamType;

namespace FhirArchive.Differential.Tests.Search;

/// <summary>One loaded resource as the oracle holds it: Firely's POCO and its node.</summary>
public sealed class OracleResource(Resource poco)
{
    public Resource Poco { get; } = poco;
    public PocoNode Node { get; } = poco.ToPocoNode(ModelInfo.ModelInspector);
    public string Type => Poco.TypeName;
    public string Id => Poco.Id!;
    public string Key => Type + "/" + Id;
}

/// <summary>
/// The expected answer of a search, computed in memory: each SearchParameter's expression (Firely's own R4
/// definitions, ModelInfo.SearchParameters) evaluated by Firely's FHIRPath on every loaded resource, then the R4 search
/// rules (search.html) applied to the values as <see cref="OracleValues"/> reads them. Knows nothing of the server.
/// </summary>
public sealed class SearchOracle
{
    private static readonly FirelyCompiler Compiler = CreateCompiler();
    private static readonly ConcurrentDictionary<string, FirelyExpression> Compiled = new();
    private static readonly Dictionary<(string Type, string Name), SearchParamDefinition> Definitions =
        ModelInfo.SearchParameters.Where(d => d.Resource is not null && d.Expression is not null)
            .GroupBy(d => (d.Resource!, d.Name!)).ToDictionary(g => g.Key, g => g.First());
    private static readonly Dictionary<string, SearchParamDefinition> ByUrl =
        ModelInfo.SearchParameters.Where(d => d.Url is not null).GroupBy(d => d.Url!).ToDictionary(g => g.Key, g => g.First());

    private readonly Dictionary<string, List<OracleResource>> _byType;
    private readonly Dictionary<string, OracleResource> _byKey;
    private readonly ConcurrentDictionary<(string Key, string Param), IReadOnlyList<Base>> _values = new();

    public SearchOracle(IEnumerable<string> storedJson)
    {
        var parser = FhirSerializationEngineFactory.Ostrich(ModelInfo.ModelInspector);
        var all = storedJson.Select(j => new OracleResource((Resource)parser.DeserializeFromJson(j)!)).ToList();
        _byType = all.GroupBy(r => r.Type).ToDictionary(g => g.Key, g => g.ToList());
        _byKey = all.ToDictionary(r => r.Key);
    }

    private static FirelyCompiler CreateCompiler()
    {
        ElementNavFhirExtensions.PrepareFhirSymbolTableFunctions();
        return new FirelyCompiler();
    }

    public IReadOnlyList<OracleResource> All(string type) => _byType.GetValueOrDefault(type) ?? [];
    public IEnumerable<string> Types => _byType.Keys;
    public OracleResource? Get(string key) => _byKey.GetValueOrDefault(key);

    /// <summary>The parameters of every resource (search.html#all) that Firely's list leaves out.</summary>
    private static readonly Dictionary<string, SearchParamDefinition> Common = new()
    {
        ["_profile"] = new() { Resource = "Resource", Name = "_profile", Type = SearchParamType.Uri, Expression = "Resource.meta.profile" },
        ["_source"] = new() { Resource = "Resource", Name = "_source", Type = SearchParamType.Uri, Expression = "Resource.meta.source" },
        ["_tag"] = new() { Resource = "Resource", Name = "_tag", Type = SearchParamType.Token, Expression = "Resource.meta.tag" },
        ["_security"] = new() { Resource = "Resource", Name = "_security", Type = SearchParamType.Token, Expression = "Resource.meta.security" },
    };

    public static SearchParamDefinition? Definition(string type, string name) =>
        Definitions.GetValueOrDefault((type, name)) ?? Definitions.GetValueOrDefault(("Resource", name)) ?? Common.GetValueOrDefault(name);

    /// <summary>The parameter's FHIRPath result on a resource (cached).</summary>
    public IReadOnlyList<Base> Values(OracleResource r, string param) =>
        _values.GetOrAdd((r.Key, param), k => Definition(r.Type, param) is { } d ? Evaluate(r, r.Node, d.Expression!)
            : throw new InvalidOperationException($"no SearchParameter {r.Type}.{param}"));

    private IReadOnlyList<Base> Evaluate(OracleResource r, PocoNode focus, string expression)
    {
        var compiled = Compiled.GetOrAdd(expression, e => Compiler.Compile(e));
        // resolve() answers a stub of the referenced type (what "resolve() is Patient" needs).
        var ctx = new FhirEvaluationContext { ElementResolver = Resolve };
        (ctx.Resource, ctx.RootResource) = (r.Node, r.Node);
        return compiled(focus, ctx).Select(n => n.Poco).ToList();
    }

    private PocoNode? Resolve(string url)
    {
        var parts = url.Split('/');
        if (parts.Length < 2 || ModelInfo.GetTypeForFhirType(parts[^2]) is not { } t || !typeof(Resource).IsAssignableFrom(t)) return null;
        var stub = (Resource)Activator.CreateInstance(t)!;
        stub.Id = parts[^1];
        return stub.ToPocoNode(ModelInfo.ModelInspector);
    }

    /// <summary>The resources of <paramref name="type"/> that meet every criterion (name[:modifier], value).</summary>
    public List<OracleResource> Match(string type, IReadOnlyList<(string Name, string Value)> criteria) =>
        All(type).Where(r => criteria.All(c => Meets(r, c.Name, c.Value))).ToList();

    private bool Meets(OracleResource r, string rawName, string value)
    {
        if (rawName.StartsWith("_has:", StringComparison.Ordinal))
        {
            var parts = rawName.Split(':', 4); // _has:Observation:patient:code
            var referring = Match(parts[1], [(parts[3], value)]);
            return referring.Any(x => ReferencedKeys(x, parts[2]).Contains(r.Key));
        }
        var colon = rawName.IndexOf(':');
        var dot = rawName.IndexOf('.');
        if (dot > 0)
        {
            // Chained: subject:Patient.name or patient.gender.
            var head = rawName[..dot];
            var (refParam, targetType) = head.Contains(':') ? (head[..head.IndexOf(':')], head[(head.IndexOf(':') + 1)..]) : (head, null);
            var keys = ReferencedKeys(r, refParam).Where(k => targetType is null || k.StartsWith(targetType + "/", StringComparison.Ordinal));
            return keys.Select(Get).OfType<OracleResource>().Any(t => Meets(t, rawName[(dot + 1)..], value));
        }
        var (name, modifier) = colon < 0 ? (rawName, null) : (rawName[..colon], rawName[(colon + 1)..]);
        var alternatives = SplitCommas(value);
        switch (name)
        {
            case "_id": return alternatives.Contains(r.Id);
            case "_lastUpdated":
                var updated = OracleValues.DateRange(r.Poco.Meta?.LastUpdatedElement is { } lu ? OracleValues.PrimitiveText(lu) : null);
                return updated is { } u && alternatives.Any(a => DateMatches(a, [u]));
        }
        var d = Definition(r.Type, name) ?? throw new InvalidOperationException($"no SearchParameter {r.Type}.{name}");
        var values = Values(r, name);
        if (modifier == "missing") return (value == "true") == (d.Type == SearchParamType.Composite ? !values.Any() : !Present(d.Type, values));
        return d.Type switch
        {
            SearchParamType.Token when modifier == "not" => !alternatives.Any(a => TokenMatches(a, values)),
            SearchParamType.Token => alternatives.Any(a => TokenMatches(a, values)),
            SearchParamType.String => alternatives.Any(a => StringMatches(a, modifier, values)),
            SearchParamType.Date => alternatives.Any(a => DateMatches(a, values.SelectMany(OracleValues.Dates))),
            SearchParamType.Number => alternatives.Any(a => NumberMatches(a, values.SelectMany(OracleValues.Numbers))),
            SearchParamType.Quantity => alternatives.Any(a => QuantityMatches(a, values.SelectMany(OracleValues.Quantities))),
            SearchParamType.Reference => alternatives.Any(a => ReferenceMatches(a, modifier, values.SelectMany(OracleValues.References))),
            SearchParamType.Uri => alternatives.Any(a => values.SelectMany(OracleValues.Uris).Contains(a)),
            SearchParamType.Composite => alternatives.Any(a => CompositeMatches(r, d, a, values)),
            _ => throw new NotSupportedException($"{d.Type} {name}"),
        };
    }

    private static bool Present(SearchParamType type, IReadOnlyList<Base> values) => type switch
    {
        SearchParamType.Token => values.Any(v => OracleValues.Tokens(v).Any() || v is CodeableConcept { Text: not null }),
        SearchParamType.String => values.SelectMany(OracleValues.Strings).Any(),
        SearchParamType.Date => values.SelectMany(OracleValues.Dates).Any(),
        SearchParamType.Number => values.SelectMany(OracleValues.Numbers).Any(),
        SearchParamType.Quantity => values.SelectMany(OracleValues.Quantities).Any(),
        SearchParamType.Reference => values.SelectMany(OracleValues.References).Any(),
        _ => values.Count > 0,
    };

    /// <summary>The "Type/id" keys a resource's reference parameter points at.</summary>
    public IEnumerable<string> ReferencedKeys(OracleResource r, string param) =>
        Values(r, param).SelectMany(OracleValues.References).Select(Relative).OfType<string>();

    private static string? Relative(string reference)
    {
        var parts = reference.Split('/');
        return parts.Length >= 2 && ModelInfo.IsKnownResource(parts[^2]) ? parts[^2] + "/" + parts[^1] : null;
    }

    /// <summary>Splits on commas not escaped with a backslash (search.html#escaping).</summary>
    public static List<string> SplitCommas(string value)
    {
        var result = new List<string>();
        var current = new System.Text.StringBuilder();
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '\\' && i + 1 < value.Length) current.Append(value[++i]);
            else if (value[i] == ',') { result.Add(current.ToString()); current.Clear(); }
            else current.Append(value[i]);
        }
        result.Add(current.ToString());
        return result;
    }

    private static bool TokenMatches(string search, IEnumerable<Base> values)
    {
        var tokens = values.SelectMany(OracleValues.Tokens);
        var bar = search.IndexOf('|');
        if (bar < 0) return tokens.Any(t => t.Code == search);
        var (system, code) = (search[..bar], search[(bar + 1)..]);
        if (system.Length == 0) return tokens.Any(t => t.System is null && t.Code == code);
        return code.Length == 0 ? tokens.Any(t => t.System == system) : tokens.Any(t => t.System == system && t.Code == code);
    }

    private static bool StringMatches(string search, string? modifier, IEnumerable<Base> values)
    {
        var strings = values.SelectMany(OracleValues.Strings);
        var folded = OracleValues.Fold(search);
        return modifier switch
        {
            "exact" => strings.Any(s => s == search),
            "contains" => strings.Any(s => OracleValues.Fold(s).Contains(folded, StringComparison.Ordinal)),
            null => strings.Any(s => OracleValues.Fold(s).StartsWith(folded, StringComparison.Ordinal)),
            _ => throw new NotSupportedException(modifier),
        };
    }

    private static readonly string[] Prefixes = ["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"];

    public static (string Prefix, string Value) SplitPrefix(string v) =>
        v.Length > 2 && Prefixes.Contains(v[..2]) ? (v[..2], v[2..]) : ("eq", v);

    /// <summary>search.html#prefix for ranges: the search range [s, e] against a target range [ts, te]; any target value may match.</summary>
    private static bool DateMatches(string search, IEnumerable<TickRange> targets)
    {
        var (prefix, rest) = SplitPrefix(search);
        var r = OracleValues.DateRange(rest) ?? throw new FormatException(rest);
        var (s, e) = (r.Start, r.End);
        return targets.Any(t => prefix switch
        {
            "eq" => t.Start >= s && t.End <= e,
            "ne" => !(t.Start >= s && t.End <= e),
            "gt" => t.End > e,
            "lt" => t.Start < s,
            "ge" => t.End > e || (t.Start >= s && t.End <= e),
            "le" => t.Start < s || (t.Start >= s && t.End <= e),
            "sa" => t.Start > e,
            "eb" => t.End < s,
            // ap: the ranges overlap once the search range is widened by 10% of its distance from now (at least a day).
            "ap" => Approximately(t, s, e),
            _ => throw new NotSupportedException(prefix),
        });
    }

    private static bool Approximately(TickRange t, long s, long e)
    {
        var margin = Math.Max(TimeSpan.TicksPerDay, Math.Abs(DateTime.UtcNow.Ticks - s) / 10);
        return t.End >= s - margin && t.Start <= e + margin;
    }

    /// <summary>The implicit range of a decimal's precision (search.html#number): 100 → [99.5, 100.5), 1.50 → [1.495, 1.505).</summary>
    private static (decimal Value, decimal Low, decimal High) Implicit(string text)
    {
        var v = decimal.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
        var dot = text.IndexOf('.');
        var decimals = dot < 0 ? 0 : text.Length - dot - 1;
        var half = 0.5m / (decimal)Math.Pow(10, decimals);
        return (v, v - half, v + half);
    }

    private static bool NumberMatches(string search, IEnumerable<decimal> targets)
    {
        var (prefix, rest) = SplitPrefix(search);
        var (v, low, high) = Implicit(rest);
        return targets.Any(t => prefix switch
        {
            "eq" => t >= low && t < high,
            "ne" => t < low || t >= high,
            "gt" or "sa" => t > v,
            "lt" or "eb" => t < v,
            "ge" => t >= v,
            "le" => t <= v,
            "ap" => t >= v * 0.9m && t <= v * 1.1m,
            _ => throw new NotSupportedException(prefix),
        });
    }

    /// <summary>search.html#quantity: [prefix]number|system|code; without a system the code matches the code or the unit.</summary>
    private static bool QuantityMatches(string search, IEnumerable<OracleQuantity> targets)
    {
        var parts = search.Split('|');
        var system = parts.Length > 1 && parts[1].Length > 0 ? parts[1] : null;
        var code = parts.Length > 2 && parts[2].Length > 0 ? parts[2] : null;
        return targets.Where(q => (system is null || q.System == system) && (code is null || q.Code == code || (system is null && q.Unit == code)))
            .Any(q => NumberMatches(parts[0], [q.Value]));
    }

    private static bool ReferenceMatches(string search, string? typeModifier, IEnumerable<string> references)
    {
        foreach (var reference in references)
        {
            var key = Relative(reference);
            if (key is null) { if (reference == search) return true; continue; }
            var (type, id) = (key[..key.IndexOf('/')], key[(key.IndexOf('/') + 1)..]);
            if (typeModifier is not null && type != typeModifier) continue;
            if (search.Contains('/') ? Relative(search) == key : id == search) return true;
        }
        return false;
    }

    /// <summary>Every component matches within one element the composite's expression selects (search.html#composite).</summary>
    private bool CompositeMatches(OracleResource r, SearchParamDefinition d, string search, IReadOnlyList<Base> elements)
    {
        var parts = search.Split('$');
        var components = d.Component ?? [];
        if (parts.Length != components.Length) throw new FormatException($"{d.Name}: {search}");
        return elements.Any(element => components.Select((c, i) =>
        {
            var componentType = ByUrl[c.Definition].Type;
            var values = Evaluate(r, element.ToPocoNode(ModelInfo.ModelInspector), c.Expression);
            return componentType switch
            {
                SearchParamType.Token => TokenMatches(parts[i], values),
                SearchParamType.Quantity => QuantityMatches(parts[i], values.SelectMany(OracleValues.Quantities)),
                SearchParamType.Date => DateMatches(parts[i], values.SelectMany(OracleValues.Dates)),
                SearchParamType.String => StringMatches(parts[i], null, values),
                _ => throw new NotSupportedException(componentType.ToString()),
            };
        }).All(m => m));
    }

    /// <summary>
    /// The sort key of a resource for one _sort parameter (search.html#_sort): the lowest value ascending, the
    /// highest descending (a date's range: its start ascending, its end descending); null when it has none.
    /// </summary>
    public IComparable? SortKey(OracleResource r, string param, bool descending)
    {
        switch (param)
        {
            case "_id": return new OrdinalString(r.Id);
            case "_lastUpdated": return OracleValues.DateRange(OracleValues.PrimitiveText(r.Poco.Meta!.LastUpdatedElement!))!.Value.Start;
        }
        var d = Definition(r.Type, param)!;
        var values = Values(r, param);
        IEnumerable<IComparable> keys = d.Type switch
        {
            SearchParamType.Date => values.SelectMany(OracleValues.Dates).Select(t => (IComparable)(descending ? t.End : t.Start)),
            SearchParamType.Token => values.SelectMany(OracleValues.Tokens).Select(t => (IComparable)new OrdinalString(t.Code)),
            SearchParamType.String => values.SelectMany(OracleValues.Strings).Select(s => (IComparable)new OrdinalString(OracleValues.Fold(s))),
            SearchParamType.Quantity => values.SelectMany(OracleValues.Quantities).Select(q => (IComparable)q.Value),
            _ => throw new NotSupportedException(d.Type.ToString()),
        };
        var list = keys.ToList();
        return list.Count == 0 ? null : descending ? list.Max() : list.Min();
    }

    /// <summary>A string compared ordinally (as the databases' binary collation does).</summary>
    public sealed record OrdinalString(string Value) : IComparable
    {
        public int CompareTo(object? obj) => string.CompareOrdinal(Value, ((OrdinalString)obj!).Value);
        public override string ToString() => Value;
    }
}

using System.Text.RegularExpressions;
using FhirArchive.Terminology.Model;
using FhirArchive.Terminology.Sources;

namespace FhirArchive.Terminology;

public sealed record LookupResult(CodeSystemInfo System, Concept Concept)
{
    /// <summary>The display in the requested language ("en" gives the English one where the standard has it).</summary>
    public string DisplayFor(string? language) => TerminologyService.Display(Concept, language);
}

/// <summary>
/// The answer of $validate-code: <see cref="Result"/> is null when the server cannot decide (a code system it
/// does not hold, e.g. SNOMED CT), so callers can report a warning instead of an error.
/// </summary>
public sealed record ValidateCodeResult(bool? Result, string Message, string? Display = null);

public sealed record ExpansionItem(string System, string Code, string Display, bool Inactive = false);

public sealed record ExpansionResult(IReadOnlyList<ExpansionItem> Items, int Total, string? Error = null);

public enum SubsumptionOutcome
{
    Equivalent,
    Subsumes,
    SubsumedBy,
    NotSubsumed,
}

/// <summary>
/// An in-memory terminology server over the Chinese national/local code systems and the FHIR R4 base ones:
/// $lookup, $validate-code, $expand (filter, paging, zh-CN/en displays), $subsumes and $translate.
/// Thread-safe after construction; <see cref="Default"/> is built once, lazily.
/// </summary>
public sealed class TerminologyService
{
    private const int MaxExpansion = 100_000;
    private static readonly Lazy<TerminologyService> LazyDefault = new(() => new TerminologyService(includeFhirBase: true));

    private readonly Dictionary<string, CodeSystemInfo> _systems = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ValueSetInfo> _valueSets = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ConceptMapInfo> _maps = new(StringComparer.Ordinal);

    public TerminologyService(bool includeFhirBase)
    {
        var cn = ChineseTerminology.Load();
        foreach (var cs in cn.CodeSystems) AddCodeSystem(cs);
        foreach (var vs in cn.ValueSets) _valueSets[vs.Url] = vs;
        foreach (var m in cn.ConceptMaps) _maps[m.Url] = m;
        ChineseCodeSystems = cn.CodeSystems;
        ChineseValueSets = cn.ValueSets;
        ChineseConceptMaps = cn.ConceptMaps;
        if (!includeFhirBase) return;
        var (systems, valueSets) = FhirBaseTerminology.Load();
        foreach (var cs in systems) _systems.TryAdd(cs.Url, cs);
        foreach (var vs in valueSets) _valueSets.TryAdd(vs.Url, vs);
    }

    /// <summary>Chinese and FHIR base terminology.</summary>
    public static TerminologyService Default => LazyDefault.Value;

    /// <summary>The code systems, value sets and maps FhirArchive itself publishes.</summary>
    public IReadOnlyList<CodeSystemInfo> ChineseCodeSystems { get; }

    public IReadOnlyList<ValueSetInfo> ChineseValueSets { get; }

    public IReadOnlyList<ConceptMapInfo> ChineseConceptMaps { get; }

    private void AddCodeSystem(CodeSystemInfo cs)
    {
        _systems[cs.Url] = cs;
        if (cs.Oid is not null) _systems.TryAdd("urn:oid:" + cs.Oid, cs);
    }

    public CodeSystemInfo? GetCodeSystem(string url) => _systems.GetValueOrDefault(StripVersion(url));

    public ValueSetInfo? GetValueSet(string url) => _valueSets.GetValueOrDefault(StripVersion(url));

    public ConceptMapInfo? GetConceptMap(string url) => _maps.GetValueOrDefault(StripVersion(url));

    /// <summary>The code system's canonical URL, so an OID alias and the URL compare equal.</summary>
    private string Canon(string system) => GetCodeSystem(system)?.Url ?? StripVersion(system);

    private static string StripVersion(string url) => url.IndexOf('|') is var bar and >= 0 ? url[..bar] : url;

    public LookupResult? Lookup(string system, string code) =>
        GetCodeSystem(system) is { } cs && cs.Find(code) is { } c ? new LookupResult(cs, c) : null;

    internal static string Display(Concept c, string? language) =>
        language is not null && language.StartsWith("en", StringComparison.OrdinalIgnoreCase) && c.DisplayEn is not null ? c.DisplayEn : c.Display;

    /// <summary>$validate-code against a value set (or, when <paramref name="valueSetUrl"/> is null, the code system).</summary>
    public ValidateCodeResult ValidateCode(string? valueSetUrl, string system, string code, string? display = null)
    {
        var cs = GetCodeSystem(system);
        if (cs is { Content: not "complete" }) cs = null; // a stub (SNOMED CT, LOINC...): no verdict on its codes
        var concept = cs?.Find(code);
        if (cs is not null && concept is null)
            return new ValidateCodeResult(false, $"代码 '{code}' 不在代码系统 {system} 中 / Unknown code '{code}' in {system}");

        if (valueSetUrl is not null)
        {
            var vs = GetValueSet(valueSetUrl);
            if (vs is null) return new ValidateCodeResult(null, $"Value set {valueSetUrl} is not known to this server");
            var member = Contains(vs, system, code, new HashSet<string>());
            if (member is null)
                return new ValidateCodeResult(null, $"Cannot check membership of {system} codes in {valueSetUrl} (code system not held)");
            if (member == false)
                return new ValidateCodeResult(false, $"代码 '{code}' ({system}) 不在值集 {valueSetUrl} 中 / Code '{code}' is not in value set {valueSetUrl}");
        }
        else if (cs is null)
        {
            return new ValidateCodeResult(null, $"Code system {system} is not known to this server");
        }

        if (concept is not null && display is not null && display != concept.Display && display != concept.DisplayEn)
            return new ValidateCodeResult(false, $"显示名称 '{display}' 与代码 '{code}' 不符，应为 '{concept.Display}' / Wrong display '{display}' for '{code}'", concept.Display);
        return new ValidateCodeResult(true, "OK", concept?.Display);
    }

    /// <summary>Membership of a code: true/false, or null when a needed code system is not held.</summary>
    private bool? Contains(ValueSetInfo vs, string system, string code, HashSet<string> visiting)
    {
        if (!visiting.Add(vs.Url)) return false; // a cycle of value-set imports
        try
        {
            bool? included = false;
            foreach (var inc in vs.Includes)
            {
                var r = IncludeContains(inc, system, code, visiting);
                if (r == true) { included = true; break; }
                if (r is null) included = null;
            }
            if (included != true) return included;
            foreach (var exc in vs.Excludes)
                if (IncludeContains(exc, system, code, visiting) == true) return false;
            return true;
        }
        finally
        {
            visiting.Remove(vs.Url);
        }
    }

    private bool? IncludeContains(ValueSetInclude inc, string system, string code, HashSet<string> visiting)
    {
        bool? result = true;
        if (inc.System is not null)
        {
            if (Canon(inc.System) != Canon(system)) return false;
            if (inc.Codes is not null)
                result = inc.Codes.Contains(code);
            else
            {
                var cs = GetCodeSystem(system);
                if (cs is not { Content: "complete" }) return null;
                var concept = cs.Find(code);
                result = concept is not null && inc.Filters.All(f => Matches(cs, concept, f));
            }
        }
        foreach (var other in inc.ValueSets)
        {
            if (result == false) break;
            var vs = GetValueSet(other);
            var r = vs is null ? null : Contains(vs, system, code, visiting);
            result = r == false ? false : result is null || r is null ? null : true;
        }
        return result;
    }

    private static bool Matches(CodeSystemInfo cs, Concept c, ValueSetFilter f)
    {
        var target = cs.Find(f.Value);
        switch (f.Op)
        {
            case "is-a" when f.Property == "concept": return target is not null && cs.Subsumes(target, c);
            case "descendent-of" when f.Property == "concept": return target is not null && !ReferenceEquals(target, c) && cs.Subsumes(target, c);
            case "is-not-a" when f.Property == "concept": return target is null || !cs.Subsumes(target, c);
            case "generalizes" when f.Property == "concept": return target is not null && cs.Subsumes(c, target);
            case "regex" when f.Property == "code":
                return Regex.IsMatch(c.Code, "^(?:" + f.Value + ")$", RegexOptions.NonBacktracking, TimeSpan.FromSeconds(1));
            case "in" when f.Property == "concept": return f.Value.Split(',').Contains(c.Code);
            case "=" when f.Property == "parent": return c.Parent?.Code == f.Value;
            case "=": return c.Properties.TryGetValue(f.Property, out var v) && v == f.Value;
            case "exists": return c.Properties.ContainsKey(f.Property) == (f.Value == "true");
            default: return false;
        }
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, HashSet<string>?> _codesByValueSet = new(StringComparer.Ordinal);

    /// <summary>
    /// Membership for the validator: true, false, or null when it cannot be told. A bare code (a FHIR
    /// <c>code</c> element has no system) is looked up among the codes of the value set's expansion.
    /// </summary>
    public bool? CodeInValueSet(string valueSetUrl, string? system, string code)
    {
        if (system is not null) return ValidateCode(valueSetUrl, system, code).Result;
        var codes = _codesByValueSet.GetOrAdd(StripVersion(valueSetUrl), url =>
            Expand(url, count: int.MaxValue) is { Error: null } e ? e.Items.Select(i => i.Code).ToHashSet(StringComparer.Ordinal) : null);
        return codes?.Contains(code);
    }

    /// <summary>$expand: the active codes of a value set, filtered by text (code or display), paged.</summary>
    public ExpansionResult Expand(string valueSetUrl, string? filter = null, int offset = 0, int count = 1000, string? language = null)
    {
        var vs = GetValueSet(valueSetUrl);
        if (vs is null) return new ExpansionResult([], 0, $"Value set {valueSetUrl} is not known to this server");
        var all = new List<ExpansionItem>();
        var error = Collect(vs, all, new HashSet<string>(), language);
        if (error is not null) return new ExpansionResult([], 0, error);
        IEnumerable<ExpansionItem> items = all.DistinctBy(i => (i.System, i.Code)).Where(i => !i.Inactive);
        if (!string.IsNullOrWhiteSpace(filter))
            items = items.Where(i => i.Code.Contains(filter, StringComparison.OrdinalIgnoreCase) || i.Display.Contains(filter, StringComparison.OrdinalIgnoreCase));
        var list = items.ToList();
        return new ExpansionResult(list.Skip(Math.Max(0, offset)).Take(Math.Max(0, count)).ToList(), list.Count);
    }

    private string? Collect(ValueSetInfo vs, List<ExpansionItem> into, HashSet<string> visiting, string? language)
    {
        if (!visiting.Add(vs.Url)) return null;
        foreach (var inc in vs.Includes)
        {
            var part = new List<ExpansionItem>();
            if (inc.System is not null)
            {
                var cs = GetCodeSystem(inc.System);
                if (inc.Codes is not null)
                    part.AddRange(inc.Codes.Select(code => cs?.Find(code) is { } c
                        ? new ExpansionItem(cs.Url, c.Code, Display(c, language), c.Inactive)
                        : new ExpansionItem(inc.System, code, code)));
                else if (cs is null || cs.Content != "complete")
                    return $"Cannot expand {vs.Url}: code system {inc.System} is not held completely by this server";
                else
                    part.AddRange(cs.Concepts.Where(c => inc.Filters.All(f => Matches(cs, c, f)))
                        .Select(c => new ExpansionItem(cs.Url, c.Code, Display(c, language), c.Inactive)));
            }
            foreach (var other in inc.ValueSets)
            {
                var nested = GetValueSet(other);
                if (nested is null) return $"Cannot expand {vs.Url}: value set {other} is not known";
                var imported = new List<ExpansionItem>();
                if (Collect(nested, imported, visiting, language) is { } e) return e;
                part = inc.System is null && part.Count == 0 ? imported : part.IntersectBy(imported.Select(i => (i.System, i.Code)), i => (i.System, i.Code)).ToList();
            }
            into.AddRange(part);
            if (into.Count > MaxExpansion) return $"Expansion of {vs.Url} is larger than {MaxExpansion:N0} codes";
        }
        foreach (var exc in vs.Excludes)
        {
            if (exc.System is null) continue;
            var cs = GetCodeSystem(exc.System);
            var system = Canon(exc.System);
            into.RemoveAll(i => Canon(i.System) == system
                                && (exc.Codes?.Contains(i.Code) ?? (cs?.Find(i.Code) is { } c && exc.Filters.All(f => Matches(cs, c, f)))));
        }
        visiting.Remove(vs.Url);
        return null;
    }

    /// <summary>$subsumes: how code A relates to code B in a hierarchical code system.</summary>
    public SubsumptionOutcome? Subsumes(string system, string codeA, string codeB)
    {
        var cs = GetCodeSystem(system);
        var a = cs?.Find(codeA);
        var b = cs?.Find(codeB);
        if (cs is null || a is null || b is null) return null;
        if (ReferenceEquals(a, b)) return SubsumptionOutcome.Equivalent;
        if (cs.Subsumes(a, b)) return SubsumptionOutcome.Subsumes;
        if (cs.Subsumes(b, a)) return SubsumptionOutcome.SubsumedBy;
        return SubsumptionOutcome.NotSubsumed;
    }

    /// <summary>$translate: the targets of a code in one concept map, or in every map that covers its system.</summary>
    public IReadOnlyList<ConceptMapping> Translate(string system, string code, string? conceptMapUrl = null, string? targetSystem = null)
    {
        IEnumerable<ConceptMapInfo> maps = conceptMapUrl is null ? _maps.Values : GetConceptMap(conceptMapUrl) is { } m ? [m] : [];
        var canonical = GetCodeSystem(system)?.Url ?? system;
        return maps.SelectMany(m => m.Mappings)
            .Where(x => (x.SourceSystem == system || x.SourceSystem == canonical) && x.SourceCode == code
                        && (targetSystem is null || x.TargetSystem == targetSystem))
            .ToList();
    }
}

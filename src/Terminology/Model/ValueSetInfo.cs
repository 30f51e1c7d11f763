namespace FhirArchive.Terminology.Model;

/// <summary>A filter of a value-set include (ValueSet.compose.include.filter).</summary>
public sealed record ValueSetFilter(string Property, string Op, string Value);

/// <summary>One include/exclude of a value set: whole systems, listed codes, filters or other value sets.</summary>
public sealed record ValueSetInclude(
    string? System,
    IReadOnlyList<string>? Codes,
    IReadOnlyList<ValueSetFilter> Filters,
    IReadOnlyList<string> ValueSets);

public sealed class ValueSetInfo(string url, string name, string title)
{
    public string Url { get; } = url;

    public string Name { get; } = name;

    public string Title { get; } = title;

    public string? Oid { get; init; }

    public string? Description { get; init; }

    public List<ValueSetInclude> Includes { get; } = [];

    public List<ValueSetInclude> Excludes { get; } = [];

    public override string ToString() => Url;
}

/// <summary>A mapping of one source code to one target code (ConceptMap.group.element.target).</summary>
public sealed record ConceptMapping(string SourceSystem, string SourceCode, string TargetSystem, string TargetCode, string? TargetDisplay, string Equivalence);

public sealed class ConceptMapInfo(string url, string name, string title, string? sourceValueSet, string? targetValueSet)
{
    public string Url { get; } = url;

    public string Name { get; } = name;

    public string Title { get; } = title;

    public string? SourceValueSet { get; } = sourceValueSet;

    public string? TargetValueSet { get; } = targetValueSet;

    public List<ConceptMapping> Mappings { get; } = [];
}

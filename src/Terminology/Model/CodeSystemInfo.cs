namespace FhirArchive.Terminology.Model;

/// <summary>A concept of a code system, with its Chinese display and, where the standard has one, English.</summary>
public sealed class Concept(string code, string display)
{
    public string Code { get; } = code;

    /// <summary>The display in the code system's own language (Chinese for national standards).</summary>
    public string Display { get; } = display;

    public string? DisplayEn { get; init; }

    public string? Definition { get; init; }

    /// <summary>Retired codes stay (e.g. old county codes still printed on ID cards) but are not offered in expansions.</summary>
    public bool Inactive { get; init; }

    public Concept? Parent { get; internal set; }

    public List<Concept> Children { get; } = [];

    public Dictionary<string, string> Properties { get; } = new(StringComparer.Ordinal);
}

/// <summary>A code system held in memory: national standards, local codes and the FHIR base systems alike.</summary>
public sealed class CodeSystemInfo
{
    private readonly Dictionary<string, Concept> _byCode;

    public CodeSystemInfo(string url, string name, string title, bool caseSensitive = true)
    {
        Url = url;
        Name = name;
        Title = title;
        CaseSensitive = caseSensitive;
        _byCode = new Dictionary<string, Concept>(caseSensitive ? StringComparer.Ordinal : StringComparer.OrdinalIgnoreCase);
    }

    public string Url { get; }

    public string Name { get; }

    public string Title { get; }

    public string? TitleEn { get; init; }

    public string? Oid { get; init; }

    public string? Version { get; init; }

    public string Language { get; init; } = "zh-CN";

    public string? Description { get; init; }

    public bool CaseSensitive { get; }

    /// <summary>"complete", or "fragment"/"not-present" for systems the server knows only in part.</summary>
    public string Content { get; init; } = "complete";

    public IEnumerable<Concept> Concepts => _byCode.Values;

    public IEnumerable<Concept> Roots => _byCode.Values.Where(c => c.Parent is null);

    public int Count => _byCode.Count;

    public bool IsHierarchical => _byCode.Values.Any(c => c.Parent is not null);

    public Concept? Find(string code) => _byCode.GetValueOrDefault(code);

    public Concept Add(Concept concept, string? parentCode = null)
    {
        if (!_byCode.TryAdd(concept.Code, concept))
            throw new InvalidDataException($"{Url}: duplicate code '{concept.Code}'");
        if (parentCode is not null) Link(concept, parentCode);
        return concept;
    }

    /// <summary>Makes <paramref name="concept"/> a child of the concept with <paramref name="parentCode"/>.</summary>
    public void Link(Concept concept, string parentCode)
    {
        var parent = Find(parentCode) ?? throw new InvalidDataException($"{Url}: unknown parent '{parentCode}' of '{concept.Code}'");
        concept.Parent = parent;
        parent.Children.Add(concept);
    }

    /// <summary>True when <paramref name="descendant"/> is <paramref name="ancestor"/> or below it.</summary>
    public bool Subsumes(Concept ancestor, Concept descendant)
    {
        for (var c = descendant; c != null; c = c.Parent)
            if (ReferenceEquals(c, ancestor)) return true;
        return false;
    }

    public IEnumerable<Concept> DescendantsOf(Concept concept)
    {
        var stack = new Stack<Concept>(concept.Children);
        while (stack.Count > 0)
        {
            var c = stack.Pop();
            yield return c;
            foreach (var child in c.Children) stack.Push(child);
        }
    }

    public override string ToString() => Url;
}

namespace FhirArchive.Fhir.Definitions;

/// <summary>A type an element may take, as an ElementDefinition.type entry lists it.</summary>
public sealed record TypeRef(string Code, IReadOnlyList<string> Profiles, IReadOnlyList<string> TargetProfiles);

/// <summary>An invariant (ElementDefinition.constraint).</summary>
public sealed record Constraint(string Key, string Severity, string Human, string? Expression, string? Source);

/// <summary>A terminology binding (ElementDefinition.binding).</summary>
public sealed record Binding(string Strength, string? ValueSet, string? Description);

/// <summary>
/// One element of a type, read from the snapshot of its StructureDefinition. Names are the FHIR names
/// without the choice suffix ("value" for "value[x]"); JSON/XML names are derived from them.
/// </summary>
public sealed class ElementDef
{
    internal ElementDef(string name, string path, int order)
    {
        Name = name;
        Path = path;
        Order = order;
    }

    /// <summary>The element name without "[x]".</summary>
    public string Name { get; }

    /// <summary>The full path in the definition ("Patient.contact.name").</summary>
    public string Path { get; }

    /// <summary>Position among the siblings, used for canonical element order.</summary>
    public int Order { get; }

    public int Min { get; internal set; }

    /// <summary>Maximum cardinality; -1 for "*".</summary>
    public int Max { get; internal set; }

    /// <summary>True when the base definition allows more than one (serialised as an array).</summary>
    public bool IsCollection { get; internal set; }

    public bool IsChoice { get; internal set; }

    public IReadOnlyList<TypeRef> Types { get; internal set; } = [];

    /// <summary>Represented as an XML attribute (Element.id, Extension.url, primitive values).</summary>
    public bool IsXmlAttribute { get; internal set; }

    public bool IsSummary { get; internal set; }

    public bool IsModifier { get; internal set; }

    /// <summary>"#Questionnaire.item" style reference whose children this element reuses.</summary>
    public string? ContentReference { get; internal set; }

    public Binding? Binding { get; internal set; }

    public IReadOnlyList<Constraint> Constraints { get; internal set; } = [];

    /// <summary>For backbone elements and content references: the inline type holding the children.</summary>
    public TypeDefinition? Backbone { get; internal set; }

    /// <summary>The single type code when the element is not a choice (or the backbone kind).</summary>
    public string? SingleType => Types.Count == 1 ? Types[0].Code : null;

    public bool AllowsType(string code)
    {
        foreach (var t in Types)
            if (t.Code == code) return true;
        return false;
    }

    public override string ToString() => Path;
}

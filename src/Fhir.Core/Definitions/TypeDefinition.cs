namespace FhirArchive.Fhir.Definitions;

/// <summary>How a primitive is written in JSON.</summary>
public enum JsonPrimitiveKind
{
    String,
    Number,
    Boolean,
}

public enum TypeKind
{
    Primitive,
    Complex,
    Resource,
    /// <summary>An inline BackboneElement/Element declared inside another type.</summary>
    Backbone,
    Logical,
}

/// <summary>
/// A FHIR type (data type, resource or inline backbone) with its child elements in definition order and
/// fast look-ups by element name and by serialised (JSON/XML) name, where a choice element "value[x]"
/// answers to "valueString", "valueQuantity" and so on.
/// </summary>
public sealed class TypeDefinition
{
    private readonly Dictionary<string, ElementDef> _byName = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (ElementDef Def, string? Type)> _bySerialName = new(StringComparer.Ordinal);
    private Dictionary<string, (ElementDef Def, string? Type)>.AlternateLookup<ReadOnlySpan<char>> _serialLookup;
    private readonly List<ElementDef> _elements = [];

    internal TypeDefinition(string name, string? url, TypeKind kind)
    {
        Name = name;
        Url = url;
        Kind = kind;
        _serialLookup = _bySerialName.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Type name ("Patient", "Quantity", "string"); for a backbone its path ("Patient.contact").</summary>
    public string Name { get; }

    public string? Url { get; }

    public TypeKind Kind { get; }

    public bool IsAbstract { get; internal set; }

    /// <summary>The type this one specialises ("DomainResource" for "Patient"; "string" for "code").</summary>
    public string? BaseName { get; internal set; }

    /// <summary>The root element of the definition (its invariants apply to the whole instance).</summary>
    public ElementDef? Root { get; internal set; }

    /// <summary>For primitives: the System type of the value ("System.String", "System.Decimal"...).</summary>
    public string? SystemType { get; internal set; }

    /// <summary>For primitives: the lexical regex from the definition (unanchored, as the spec gives it).</summary>
    public string? Regex { get; internal set; }

    /// <summary>For primitives: JSON string, number or boolean (from the base chain: integer, decimal, boolean).</summary>
    public JsonPrimitiveKind JsonKind { get; internal set; }

    public IReadOnlyList<ElementDef> Elements => _elements;

    public bool IsPrimitive => Kind == TypeKind.Primitive;

    public bool IsResource => Kind == TypeKind.Resource;

    public ElementDef? GetElement(string name) => _byName.GetValueOrDefault(name);

    /// <summary>Resolves a serialised name: "birthDate", or "valueQuantity" for "value[x]" (type "Quantity").</summary>
    public bool TryGetBySerialName(ReadOnlySpan<char> name, out ElementDef def, out string? choiceType)
    {
        if (_serialLookup.TryGetValue(name, out var hit))
        {
            def = hit.Def;
            choiceType = hit.Type;
            return true;
        }
        def = null!;
        choiceType = null;
        return false;
    }

    public bool TryGetBySerialName(string name, out ElementDef def, out string? choiceType) =>
        TryGetBySerialName(name.AsSpan(), out def, out choiceType);

    internal void Add(ElementDef def)
    {
        _elements.Add(def);
        _byName[def.Name] = def;
        if (def.IsChoice)
        {
            foreach (var t in def.Types)
                _bySerialName[SerialName(def.Name, t.Code)] = (def, t.Code);
        }
        else
        {
            _bySerialName[def.Name] = (def, null);
        }
    }

    /// <summary>The serialised name of a choice element for a type: ("value", "dateTime") → "valueDateTime".</summary>
    public static string SerialName(string elementName, string typeCode) =>
        string.Concat(elementName, char.ToUpperInvariant(typeCode[0]).ToString(), typeCode.AsSpan(1));

    public override string ToString() => Name;
}

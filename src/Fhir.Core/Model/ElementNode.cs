using System.Text;
using FhirArchive.Fhir.Definitions;

namespace FhirArchive.Fhir.Model;

/// <summary>
/// One element of a FHIR instance: a resource, a complex value, a backbone element or a primitive.
/// The tree is typed by the definitions: every known node carries the <see cref="ElementDef"/> it
/// instantiates and the <see cref="TypeDefinition"/> that describes its children.
/// <para>
/// A primitive keeps its lexical form in <see cref="Value"/> exactly as it was written (a JSON number's text,
/// so "1.50" stays "1.50"); its id and extensions are ordinary children named "id" and "extension".
/// A resource (root, contained, or inside a Bundle entry) is a node whose <see cref="TypeDef"/> is a resource type.
/// </para>
/// </summary>
public sealed class ElementNode
{
    // Children live in a plain array (no List object per node): large documents build millions of nodes.
    private ElementNode[]? _children;
    private int _count;

    private ElementNode(string name, ElementDef? definition, TypeDefinition? typeDef)
    {
        Name = name;
        Definition = definition;
        TypeDef = typeDef;
    }

    /// <summary>The element name as the definitions give it ("value" for "value[x]"); a root resource's type name.</summary>
    public string Name { get; }

    /// <summary>The instance's FHIR type ("string", "Quantity", "Patient", "BackboneElement"); null if unknown.</summary>
    public string? Type => TypeDef is null ? null : TypeDef.Kind == TypeKind.Backbone ? TypeDef.BaseName : TypeDef.Name;

    /// <summary>The definition this node instantiates; null for a root resource or an unknown element.</summary>
    public ElementDef? Definition { get; }

    /// <summary>The type whose elements are this node's children (the backbone for inline elements).</summary>
    public TypeDefinition? TypeDef { get; }

    // The value is a string, or (straight from the JSON parser) UTF-8 bytes in a buffer decoded on first read:
    // most values of a parsed resource are never looked at, only written out again.
    private object? _value;
    private int _utf8Start;
    private int _utf8Length;

    /// <summary>The lexical value of a primitive (null when only id/extensions are present).</summary>
    public string? Value
    {
        get
        {
            if (_value is byte[] utf8)
            {
                var decoded = System.Text.Encoding.UTF8.GetString(utf8, _utf8Start, _utf8Length);
                _value = decoded; // a racing reader decodes the same text again: harmless
                return decoded;
            }
            return (string?)_value;
        }
        set => _value = value;
    }

    /// <summary>True when the node has a primitive value (without decoding it).</summary>
    public bool HasValue => _value is not null;

    /// <summary>Is the value longer than this many characters? Decodes only a value whose UTF-8 form is longer.</summary>
    internal bool ValueLongerThan(int characters) =>
        _value is byte[] ? _utf8Length > characters && Value!.Length > characters : _value is string s && s.Length > characters;

    /// <summary>Sets the value as UTF-8 bytes owned by the caller and never changed afterwards.</summary>
    internal void SetUtf8Value(byte[] buffer, int start, int length)
    {
        _value = buffer;
        _utf8Start = start;
        _utf8Length = length;
    }

    /// <summary>The value's UTF-8 bytes when it has not been decoded yet (the serializer copies them as they are).</summary>
    internal bool TryGetUtf8Value(out ReadOnlySpan<byte> utf8)
    {
        if (_value is byte[] b)
        {
            utf8 = b.AsSpan(_utf8Start, _utf8Length);
            return true;
        }
        utf8 = default;
        return false;
    }

    /// <summary>
    /// Unknown content kept verbatim as JSON text (lenient parsing keeps what it cannot type, so nothing is lost).
    /// Held in <see cref="Value"/>: an unknown node has no type, so it has no primitive value of its own.
    /// </summary>
    public string? RawJson
    {
        get => TypeDef is null ? Value : null;
        set
        {
            if (TypeDef is not null) throw new InvalidOperationException("Only unknown elements hold raw JSON.");
            Value = value;
        }
    }

    public ElementNode? Parent { get; private set; }

    public ChildList Children => new(_children, _count);

    public bool HasChildren => _count > 0;

    public bool IsPrimitive => TypeDef?.Kind == TypeKind.Primitive;

    public bool IsResource => TypeDef?.Kind == TypeKind.Resource;

    /// <summary>The serialised name: "valueQuantity" for a choice, else the name.</summary>
    public string SerialName =>
        Definition is { IsChoice: true } && Type is not null ? TypeDefinition.SerialName(Name, Type) : Name;

    /// <summary>The resource's id (for resource nodes).</summary>
    public string? ResourceId => IsResource ? Child("id")?.Value : null;

    /// <summary>Creates an empty root resource of the given type.</summary>
    public static ElementNode CreateResource(string resourceType, FhirDefinitions? definitions = null)
    {
        var defs = definitions ?? FhirDefinitions.R4;
        var t = defs.GetType(resourceType);
        if (t is not { Kind: TypeKind.Resource })
            throw new ArgumentException($"'{resourceType}' is not a FHIR resource type", nameof(resourceType));
        return new ElementNode(resourceType, null, t);
    }

    /// <summary>A node for a known element. <paramref name="type"/> is required for choices and resources.</summary>
    public static ElementNode Create(ElementDef def, string? type = null, FhirDefinitions? definitions = null)
    {
        type ??= def.SingleType;
        var typeDef = def.Backbone ?? (type is null ? null : (definitions ?? FhirDefinitions.R4).GetType(type))
                      ?? throw new ArgumentException($"{def.Path}: unknown type '{type}'", nameof(type));
        return new ElementNode(def.Name, def, typeDef);
    }

    /// <summary>A node for a known element whose type the caller has already resolved (the parsers).</summary>
    internal static ElementNode CreateTyped(ElementDef def, TypeDefinition typeDef) => new(def.Name, def, typeDef);

    /// <summary>A node for a resource held in an element of type Resource (contained, Bundle.entry.resource).</summary>
    public static ElementNode CreateResourceIn(ElementDef def, TypeDefinition resourceType) =>
        new(def.Name, def, resourceType);

    /// <summary>A node for an element the definitions do not know (kept in lenient mode).</summary>
    public static ElementNode CreateUnknown(string name, string rawJson) =>
        new(name, null, null) { Value = rawJson };

    public ElementNode? Child(string name)
    {
        for (var i = 0; i < _count; i++)
            if (_children![i].Name == name) return _children[i];
        return null;
    }

    public IEnumerable<ElementNode> ChildrenNamed(string name)
    {
        for (var i = 0; i < _count; i++)
            if (_children![i].Name == name) yield return _children[i];
    }

    /// <summary>Appends a child (callers keep definition order; see <see cref="SortChildren"/>).</summary>
    public ElementNode Add(ElementNode child)
    {
        if (child.Parent is not null) throw new InvalidOperationException("The node already has a parent.");
        child.Parent = this;
        InsertAt(_count, child);
        return child;
    }

    private void InsertAt(int index, ElementNode child)
    {
        if (_children is null) _children = new ElementNode[4];
        else if (_count == _children.Length) Array.Resize(ref _children, _count * 2);
        if (index < _count) Array.Copy(_children, index, _children, index + 1, _count - index);
        _children[index] = child;
        _count++;
    }

    /// <summary>Adds a child for a known element by name, with an optional primitive value.</summary>
    public ElementNode Add(string name, string? value = null, string? type = null)
    {
        var def = TypeDef?.GetElement(name) ?? throw new ArgumentException($"{Type} has no element '{name}'");
        var child = Create(def, type);
        child.Value = value;
        InsertInOrder(child);
        return child;
    }

    /// <summary>Inserts a child at its place in definition order.</summary>
    public ElementNode InsertInOrder(ElementNode child)
    {
        if (child.Parent is not null) throw new InvalidOperationException("The node already has a parent.");
        child.Parent = this;
        var order = OrderOf(child);
        var i = _count;
        while (i > 0 && OrderOf(_children![i - 1]) > order) i--;
        InsertAt(i, child);
        return child;
    }

    /// <summary>The child's position among all children; -1 when it is not a child of this node.</summary>
    public int IndexOf(ElementNode child) => _children is null ? -1 : Array.IndexOf(_children, child, 0, _count);

    /// <summary>Inserts a child at an exact position among all children (the caller keeps definition order).</summary>
    public ElementNode InsertChild(int index, ElementNode child)
    {
        if (child.Parent is not null) throw new InvalidOperationException("The node already has a parent.");
        if ((uint)index > (uint)_count) throw new ArgumentOutOfRangeException(nameof(index));
        child.Parent = this;
        InsertAt(index, child);
        return child;
    }

    public bool Remove(ElementNode child)
    {
        var i = _children is null ? -1 : Array.IndexOf(_children, child, 0, _count);
        if (i < 0) return false;
        Array.Copy(_children!, i + 1, _children!, i, _count - i - 1);
        _children![--_count] = null!;
        child.Parent = null;
        return true;
    }

    public void RemoveAll(string name)
    {
        var kept = 0;
        for (var i = 0; i < _count; i++)
        {
            var c = _children![i];
            if (c.Name == name) c.Parent = null;
            else _children[kept++] = c;
        }
        for (var i = kept; i < _count; i++) _children![i] = null!;
        _count = kept;
    }

    /// <summary>Stable-sorts the children into definition order (unknown elements last).</summary>
    public void SortChildren()
    {
        if (_count < 2 || _children is not { } children) return;
        var sorted = true;
        for (var i = 1; i < _count && sorted; i++)
            sorted = OrderOf(children[i - 1]) <= OrderOf(children[i]);
        if (sorted) return;
        var copy = children.Take(_count).Select((c, i) => (c, i)).OrderBy(x => OrderOf(x.c)).ThenBy(x => x.i).Select(x => x.c).ToArray();
        copy.CopyTo(children, 0);
    }

    private static int OrderOf(ElementNode n) => n.Definition?.Order ?? int.MaxValue;

    /// <summary>
    /// Where the node sits, as a FHIRPath expression: "Patient.name[0].given[1]", "Bundle.entry[2].resource".
    /// Repeating elements carry their index; choice elements their type ("Observation.value.ofType(Quantity)").
    /// </summary>
    public string Location
    {
        get
        {
            var parts = new List<string>();
            for (var n = this; n != null; n = n.Parent)
            {
                if (n.Parent is null)
                {
                    parts.Add(n.Name);
                    break;
                }
                var repeats = n.Definition?.IsCollection ?? false;
                // A choice element names its type the way FHIRPath selects it: value.ofType(Quantity).
                var name = n.Definition is { IsChoice: true } && n.Type is { } t ? $"{n.Name}.ofType({t})" : n.Name;
                parts.Add(repeats ? $"{name}[{n.Parent.IndexAmongSiblings(n)}]" : name);
            }
            parts.Reverse();
            return string.Join('.', parts);
        }
    }

    /// <summary>The location of a child not built yet (for issues found while reading it).</summary>
    public static string ChildLocation(ElementNode parent, ElementDef def, string? type) =>
        def.IsChoice && type is not null ? $"{parent.Location}.{def.Name}.ofType({type})" : $"{parent.Location}.{def.Name}";

    private int IndexAmongSiblings(ElementNode child)
    {
        var i = 0;
        for (var k = 0; k < _count; k++)
        {
            var c = _children![k];
            if (ReferenceEquals(c, child)) return i;
            if (c.Name == child.Name) i++;
        }
        return -1;
    }

    /// <summary>The resource that holds this node (the nearest resource node, itself included).</summary>
    public ElementNode? ContainingResource
    {
        get
        {
            for (var n = this; n != null; n = n.Parent)
                if (n.IsResource) return n;
            return null;
        }
    }

    /// <summary>All nodes below this one, depth first.</summary>
    public IEnumerable<ElementNode> Descendants()
    {
        if (_count == 0) yield break;
        var stack = new Stack<ElementNode>();
        for (var i = _count - 1; i >= 0; i--) stack.Push(_children![i]);
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            yield return n;
            for (var i = n._count - 1; i >= 0; i--) stack.Push(n._children![i]);
        }
    }

    /// <summary>A deep copy, detached from any parent.</summary>
    public ElementNode DeepCopy()
    {
        var copy = new ElementNode(Name, Definition, TypeDef) { _value = _value, _utf8Start = _utf8Start, _utf8Length = _utf8Length };
        if (_count > 0)
        {
            copy._children = new ElementNode[_count];
            copy._count = _count;
            for (var i = 0; i < _count; i++)
            {
                var cc = _children![i].DeepCopy();
                cc.Parent = copy;
                copy._children[i] = cc;
            }
        }
        return copy;
    }

    public override string ToString()
    {
        var sb = new StringBuilder(Name);
        if (Type is not null) sb.Append(" : ").Append(Type);
        if (HasValue) sb.Append(" = ").Append(Value);
        return sb.ToString();
    }
}

using System.Runtime.CompilerServices;
using System.Text;
using FhirArchive.Fhir.Definitions;

namespace FhirArchive.Fhir.Serialization.Json;

/// <summary>
/// A type's JSON property names as UTF-8 (the names <see cref="TypeDefinition.TryGetBySerialName(string, out ElementDef, out string?)"/>
/// answers to: "birthDate", "valueQuantity"), each with its element, its choice type and its value's type resolved
/// once, so the parser looks a property up on the document's bytes: no decoding, no type look-up per value. Built
/// on first use per type and shared by every parser of the same definitions.
/// </summary>
internal sealed class JsonPropertyTable
{
    /// <summary>One property: its element, the choice type its name selects, and the type of its value (null if unknown).</summary>
    public readonly record struct Property(ElementDef Def, string? Choice, TypeDefinition? ValueType);

    private static readonly ConditionalWeakTable<TypeDefinition, JsonPropertyTable> Tables = new();

    private readonly byte[]?[] _names;
    private readonly Property[] _properties;
    private readonly int _mask;

    private JsonPropertyTable(List<(byte[] Name, Property Property)> entries)
    {
        var size = 4;
        while (size < entries.Count * 2) size *= 2;
        _names = new byte[size][];
        _properties = new Property[size];
        _mask = size - 1;
        foreach (var (name, property) in entries)
        {
            var slot = (int)Hash(name) & _mask;
            // A later entry of the same name replaces the earlier one, as in the definitions' own look-up.
            while (_names[slot] is { } taken && !taken.AsSpan().SequenceEqual(name)) slot = (slot + 1) & _mask;
            _names[slot] = name;
            _properties[slot] = property;
        }
    }

    public static JsonPropertyTable For(TypeDefinition type, FhirDefinitions definitions)
    {
        if (Tables.TryGetValue(type, out var table)) return table;
        table = Build(type, definitions);
        Tables.AddOrUpdate(type, table); // a racing parser builds the same table: harmless
        return table;
    }

    public bool TryGet(ReadOnlySpan<byte> name, out Property property)
    {
        var slot = (int)Hash(name) & _mask;
        while (_names[slot] is { } candidate)
        {
            if (candidate.AsSpan().SequenceEqual(name))
            {
                property = _properties[slot];
                return true;
            }
            slot = (slot + 1) & _mask;
        }
        property = default;
        return false;
    }

    private static JsonPropertyTable Build(TypeDefinition type, FhirDefinitions definitions)
    {
        var entries = new List<(byte[], Property)>();
        foreach (var def in type.Elements)
        {
            if (def.IsChoice)
            {
                foreach (var t in def.Types)
                    entries.Add((Encoding.UTF8.GetBytes(TypeDefinition.SerialName(def.Name, t.Code)), new Property(def, t.Code, definitions.GetType(t.Code))));
            }
            else
            {
                entries.Add((Encoding.UTF8.GetBytes(def.Name), new Property(def, null, definitions.GetType(def.SingleType ?? ""))));
            }
        }
        return new JsonPropertyTable(entries);
    }

    /// <summary>FNV-1a over the bytes (names are short ASCII).</summary>
    private static uint Hash(ReadOnlySpan<byte> name)
    {
        var h = 2166136261u;
        foreach (var b in name) h = (h ^ b) * 16777619u;
        return h;
    }
}

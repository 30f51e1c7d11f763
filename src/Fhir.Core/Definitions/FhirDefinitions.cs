using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO.Compression;
using System.Text.Json;

namespace FhirArchive.Fhir.Definitions;

/// <summary>
/// The FHIR R4 (4.0.1) type system, built from the official StructureDefinitions embedded in this assembly.
/// Loaded once, lazily, on first use; thread-safe. Nothing here is hand-written per resource.
/// </summary>
public sealed class FhirDefinitions
{
    private const string Ext = "http://hl7.org/fhir/StructureDefinition/";
    private const string FhirTypeExt = Ext + "structuredefinition-fhir-type";
    private const string RegexExt = Ext + "regex";
    private const string SystemPrefix = "http://hl7.org/fhirpath/";

    private static readonly Lazy<FhirDefinitions> LazyR4 = new(() => Load(), LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly ConcurrentDictionary<string, JsonDocument> Bundles = new();
    private static readonly Lazy<IReadOnlyDictionary<string, string>> LazyOperationDefinitions = new(LoadOperationDefinitions, LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly Dictionary<string, TypeDefinition> _types = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TypeDefinition>.AlternateLookup<ReadOnlySpan<char>> _typeLookup;
    private readonly List<string> _resourceTypes = [];

    private FhirDefinitions()
    {
        _typeLookup = _types.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>The R4 4.0.1 definitions.</summary>
    public static FhirDefinitions R4 => LazyR4.Value;

    /// <summary>How long building the type system took (decompression, parsing and indexing).</summary>
    public TimeSpan LoadTime { get; private set; }

    /// <summary>The concrete resource type names (145 in R4), sorted.</summary>
    public IReadOnlyList<string> ResourceTypes => _resourceTypes;

    /// <summary>All data types and resources by name (specialisations only, not constraint profiles).</summary>
    public IReadOnlyCollection<TypeDefinition> Types => _types.Values;

    public TypeDefinition? GetType(string name) => _types.GetValueOrDefault(name);

    public TypeDefinition? GetType(ReadOnlySpan<char> name) => _typeLookup.TryGetValue(name, out var t) ? t : null;

    /// <summary>True for a concrete (non-abstract) resource type name.</summary>
    public bool IsResourceType(ReadOnlySpan<char> name) =>
        _typeLookup.TryGetValue(name, out var t) && t.Kind == TypeKind.Resource && !t.IsAbstract;

    public bool IsPrimitive(string typeName) => GetType(typeName)?.Kind == TypeKind.Primitive;

    /// <summary>True when <paramref name="type"/> is <paramref name="ancestor"/> or specialises it.</summary>
    public bool IsSubtypeOf(string type, string ancestor)
    {
        for (var t = GetType(type); t != null; t = t.BaseName is null ? null : GetType(t.BaseName))
            if (t.Name == ancestor) return true;
        return false;
    }

    /// <summary>
    /// One of the embedded official definition files (e.g. "Bundle-searchParams.json"), parsed once and cached.
    /// </summary>
    public static JsonDocument OpenDefinitionFile(string fileName) => Bundles.GetOrAdd(fileName, static f =>
    {
        using var s = OpenResource(f);
        return JsonDocument.Parse(s, new JsonDocumentOptions { MaxDepth = 256 });
    });

    /// <summary>The resources held in the entries of an embedded definition Bundle.</summary>
    public static IEnumerable<JsonElement> DefinitionResources(string bundleFileName)
    {
        var root = OpenDefinitionFile(bundleFileName).RootElement;
        if (!root.TryGetProperty("entry", out var entries)) yield break;
        foreach (var e in entries.EnumerateArray())
            if (e.TryGetProperty("resource", out var r)) yield return r;
    }

    /// <summary>
    /// The R4 core OperationDefinitions (in the resources Bundle) as JSON text by id ("Patient-everything"): read
    /// entry by entry, so the 35 MB Bundle is not kept as a document for a few small resources.
    /// </summary>
    public static IReadOnlyDictionary<string, string> OperationDefinitions => LazyOperationDefinitions.Value;

    private static Dictionary<string, string> LoadOperationDefinitions()
    {
        var found = new Dictionary<string, string>(StringComparer.Ordinal);
        ForEachEntryResource("Bundle-resources.json", r =>
        {
            if (r.GetProperty("resourceType").GetString() == "OperationDefinition") found[r.GetProperty("id").GetString()!] = r.GetRawText();
        });
        return found;
    }

    /// <summary>The names of the embedded definition files.</summary>
    public static IEnumerable<string> DefinitionFileNames =>
        typeof(FhirDefinitions).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith("R4/", StringComparison.Ordinal))
            .Select(n => n[3..^3]);

    private static Stream OpenResource(string fileName)
    {
        var s = typeof(FhirDefinitions).Assembly.GetManifestResourceStream("R4/" + fileName + ".gz")
                ?? throw new FileNotFoundException($"Embedded FHIR definition file '{fileName}' is missing.");
        return new GZipStream(s, CompressionMode.Decompress);
    }

    /// <summary>
    /// Streams a definition Bundle entry by entry: one small JsonDocument at a time, so that loading the
    /// 35 MB resources Bundle leaves no large pooled buffers behind.
    /// </summary>
    private static void ForEachEntryResource(string fileName, Action<JsonElement> action)
    {
        using var ms = new MemoryStream();
        using (var s = OpenResource(fileName)) s.CopyTo(ms);
        var reader = new Utf8JsonReader(ms.GetBuffer().AsSpan(0, (int)ms.Length), new JsonReaderOptions { MaxDepth = 256 });
        reader.Read(); // the Bundle object
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isEntry = reader.ValueTextEquals("entry"u8);
            reader.Read();
            if (!isEntry)
            {
                reader.Skip();
                continue;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
            {
                using var entry = JsonDocument.ParseValue(ref reader);
                if (entry.RootElement.TryGetProperty("resource", out var resource)) action(resource);
            }
        }
    }

    private static FhirDefinitions Load()
    {
        var sw = Stopwatch.StartNew();
        var defs = new FhirDefinitions();
        // The definitions are read once into the type system; the big Bundle documents are not kept.
        foreach (var file in new[] { "Bundle-types.json", "Bundle-resources.json" })
            ForEachEntryResource(file, sd =>
            {
                if (sd.GetProperty("resourceType").GetString() == "StructureDefinition")
                    defs.AddStructureDefinition(sd);
            });
        defs.ResolveContentReferences();
        foreach (var t in defs._types.Values.Where(t => t.IsPrimitive))
            t.JsonKind = defs.IsSubtypeOf(t.Name, "boolean") ? JsonPrimitiveKind.Boolean
                : defs.IsSubtypeOf(t.Name, "integer") || defs.IsSubtypeOf(t.Name, "decimal") ? JsonPrimitiveKind.Number
                : JsonPrimitiveKind.String;
        defs._resourceTypes.Sort(StringComparer.Ordinal);
        defs.LoadTime = sw.Elapsed;
        return defs;
    }

    private readonly List<(ElementDef Def, string Owner, string Reference)> _pendingContentRefs = [];
    private readonly Dictionary<string, TypeDefinition> _backbonesByPath = new(StringComparer.Ordinal);

    private void AddStructureDefinition(JsonElement sd)
    {
        var kind = Str(sd, "kind") switch
        {
            "primitive-type" => TypeKind.Primitive,
            "complex-type" => TypeKind.Complex,
            "resource" => TypeKind.Resource,
            _ => TypeKind.Logical,
        };
        // Only specialisations define types; constraints (SimpleQuantity, vitalsigns...) are profiles.
        if (kind == TypeKind.Logical || Str(sd, "derivation") == "constraint") return;

        var name = Str(sd, "type")!;
        var type = new TypeDefinition(name, Str(sd, "url"), kind)
        {
            IsAbstract = sd.TryGetProperty("abstract", out var a) && a.GetBoolean(),
            BaseName = Str(sd, "baseDefinition") is { } b ? b[(b.LastIndexOf('/') + 1)..] : null,
        };

        var containers = new Dictionary<string, TypeDefinition>(StringComparer.Ordinal) { [name] = type };
        var elementsByPath = new Dictionary<string, ElementDef>(StringComparer.Ordinal);

        foreach (var el in sd.GetProperty("snapshot").GetProperty("element").EnumerateArray())
        {
            var id = Str(el, "id") ?? Str(el, "path")!;
            if (id.Contains(':')) continue; // slices belong to profiles, not to the type
            var path = Str(el, "path")!;
            var dot = path.LastIndexOf('.');
            if (dot < 0)
            {
                type.Root = ReadElement(el, name, path, 0, kind, isResourceRoot: false);
                continue;
            }
            var parentPath = path[..dot];
            var localName = path[(dot + 1)..];

            if (kind == TypeKind.Primitive && parentPath == name && localName == "value")
            {
                // A primitive's value is the node's value, not a child element.
                var t = el.GetProperty("type")[0];
                type.SystemType = t.GetProperty("code").GetString()!.Replace(SystemPrefix, "");
                type.Regex = ExtensionValue(t, RegexExt, "valueString");
                continue;
            }

            if (!containers.TryGetValue(parentPath, out var container))
            {
                if (!elementsByPath.TryGetValue(parentPath, out var parentDef)) continue;
                container = new TypeDefinition(parentPath, null, TypeKind.Backbone)
                {
                    BaseName = parentDef.SingleType,
                };
                parentDef.Backbone = container;
                containers[parentPath] = container;
                _backbonesByPath[parentPath] = container;
            }

            var isResourceRootId = kind == TypeKind.Resource && parentPath == name && localName == "id";
            var def = ReadElement(el, name, path, container.Elements.Count, kind, isResourceRootId);
            container.Add(def);
            elementsByPath[path] = def;
        }

        _types[name] = type;
        if (kind == TypeKind.Resource && !type.IsAbstract) _resourceTypes.Add(name);
    }

    private ElementDef ReadElement(JsonElement el, string owner, string path, int order, TypeKind kind, bool isResourceRoot)
    {
        var lastDot = path.LastIndexOf('.');
        var rawName = lastDot < 0 ? path : path[(lastDot + 1)..];
        var isChoice = rawName.EndsWith("[x]", StringComparison.Ordinal);
        var def = new ElementDef(isChoice ? rawName[..^3] : rawName, path, order)
        {
            IsChoice = isChoice,
            Min = el.TryGetProperty("min", out var min) ? min.GetInt32() : 0,
            Max = ParseMax(Str(el, "max")),
            IsSummary = el.TryGetProperty("isSummary", out var s) && s.GetBoolean(),
            IsModifier = el.TryGetProperty("isModifier", out var m) && m.GetBoolean(),
        };
        var baseMax = el.TryGetProperty("base", out var b) ? ParseMax(Str(b, "max")) : def.Max;
        def.IsCollection = baseMax != 1 && baseMax != 0 || def.Max is not (1 or 0);

        if (el.TryGetProperty("representation", out var rep))
            foreach (var r in rep.EnumerateArray())
                if (r.GetString() == "xmlAttr") def.IsXmlAttribute = true;

        if (el.TryGetProperty("type", out var types))
        {
            var list = new List<TypeRef>();
            foreach (var t in types.EnumerateArray())
            {
                var code = t.GetProperty("code").GetString()!;
                if (code.StartsWith(SystemPrefix, StringComparison.Ordinal))
                    code = ExtensionValue(t, FhirTypeExt, "valueUrl") ?? code[SystemPrefix.Length..];
                if (isResourceRoot) code = "id"; // Resource.id is documented as type id; the snapshot says string
                list.Add(new TypeRef(code, Strings(t, "profile"), Strings(t, "targetProfile")));
            }
            def.Types = list;
        }

        if (Str(el, "contentReference") is { } cref)
        {
            def.ContentReference = cref;
            _pendingContentRefs.Add((def, owner, cref));
        }

        if (el.TryGetProperty("binding", out var binding))
            def.Binding = new Binding(Str(binding, "strength") ?? "example", Str(binding, "valueSet"), Str(binding, "description"));

        if (el.TryGetProperty("constraint", out var cons))
        {
            var list = new List<Constraint>();
            foreach (var c in cons.EnumerateArray())
                list.Add(new Constraint(Str(c, "key")!, Str(c, "severity") ?? "error", Str(c, "human") ?? "",
                    Str(c, "expression"), Str(c, "source")));
            def.Constraints = list;
        }
        return def;
    }

    private void ResolveContentReferences()
    {
        foreach (var (def, owner, reference) in _pendingContentRefs)
        {
            var target = reference[(reference.IndexOf('#') + 1)..];
            if (_backbonesByPath.TryGetValue(target, out var bb))
            {
                def.Backbone = bb;
                if (def.Types.Count == 0) def.Types = [new TypeRef(bb.BaseName ?? "BackboneElement", [], [])];
            }
            else
            {
                throw new InvalidDataException($"{def.Path}: content reference {reference} of {owner} not found");
            }
        }
        _pendingContentRefs.Clear();
    }

    private static int ParseMax(string? max) => max is null or "*" ? -1 : int.Parse(max);

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static IReadOnlyList<string> Strings(JsonElement e, string name)
    {
        if (!e.TryGetProperty(name, out var v) || v.ValueKind != JsonValueKind.Array) return [];
        var list = new List<string>(v.GetArrayLength());
        foreach (var x in v.EnumerateArray()) list.Add(x.GetString()!);
        return list;
    }

    private static string? ExtensionValue(JsonElement e, string url, string valueName)
    {
        if (!e.TryGetProperty("extension", out var exts)) return null;
        foreach (var x in exts.EnumerateArray())
            if (Str(x, "url") == url) return Str(x, valueName);
        return null;
    }
}

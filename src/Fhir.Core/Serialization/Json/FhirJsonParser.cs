using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using FhirArchive.Fhir.Definitions;
using FhirArchive.Fhir.Model;

namespace FhirArchive.Fhir.Serialization.Json;

/// <summary>
/// Parses FHIR JSON into the typed element model in one forward pass over the UTF-8 bytes, driven by the
/// definitions. It keeps the lexical form of every primitive (a number's digits as written), merges
/// primitive values with their "_name" extension objects, and reports every deviation from the JSON
/// format rules with a FHIRPath location. Safe on hostile input: size and depth are bounded, UTF-8 is
/// checked up front, duplicate keys are rejected and nothing recurses beyond <see cref="ParserOptions.MaxDepth"/>.
/// </summary>
public sealed class FhirJsonParser
{
    private readonly FhirDefinitions _defs;
    private readonly ParserOptions _options;
    private readonly TypeDefinition _resourceBase;

    public FhirJsonParser(ParserOptions? options = null, FhirDefinitions? definitions = null)
    {
        _options = options ?? ParserOptions.Strict;
        _defs = definitions ?? FhirDefinitions.R4;
        _resourceBase = _defs.GetType("Resource")!;
    }

    public ParseResult Parse(string json) => ParseOwned(Encoding.UTF8.GetBytes(json));

    /// <summary>Reads at most <see cref="ParserOptions.MaxBytes"/> from the stream, then parses.</summary>
    public ParseResult Parse(Stream stream)
    {
        var sink = new IssueSink(_options);
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        var length = 0;
        try
        {
            // One byte past the limit is enough to know the document is too large: never read further.
            var limit = (int)Math.Min(_options.MaxBytes + 1, Array.MaxLength);
            while (length < limit)
            {
                if (length == buffer.Length)
                {
                    var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min((long)buffer.Length * 2, limit));
                    buffer.AsSpan(0, length).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }
                var n = stream.Read(buffer, length, Math.Min(buffer.Length, limit) - length);
                if (n == 0) break;
                length += n;
            }
            if (length > _options.MaxBytes)
            {
                sink.Fatal("too-costly", $"The document is larger than the limit of {_options.MaxBytes:N0} bytes");
                return new ParseResult(null, sink.Issues);
            }
            return Parse(buffer.AsSpan(0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Parses UTF-8 JSON. The bytes are copied once: the model keeps primitive values as slices of that copy
    /// and decodes them only when read.
    /// </summary>
    public ParseResult Parse(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length > _options.MaxBytes) return TooLarge();
        if (utf8.StartsWith("\uFEFF"u8)) utf8 = utf8[3..];
        return ParseOwned(utf8.ToArray());
    }

    private ParseResult TooLarge()
    {
        var sink = new IssueSink(_options);
        sink.Fatal("too-costly", $"The document is larger than the limit of {_options.MaxBytes:N0} bytes");
        return new ParseResult(null, sink.Issues);
    }

    /// <summary>Parses a buffer this parser now owns (nobody may change it afterwards).</summary>
    private ParseResult ParseOwned(byte[] document)
    {
        var sink = new IssueSink(_options);
        if (document.Length > _options.MaxBytes) return TooLarge();
        ReadOnlySpan<byte> utf8 = document;
        var offset = utf8.StartsWith("\uFEFF"u8) ? 3 : 0;
        utf8 = utf8[offset..];
        if (!Utf8.IsValid(utf8))
        {
            sink.Fatal("structure", "The document is not valid UTF-8");
            return new ParseResult(null, sink.Issues);
        }

        if (utf8.Trim(" \t\r\n"u8).IsEmpty)
        {
            sink.Fatal("structure", "The document is empty");
            return new ParseResult(null, sink.Issues);
        }

        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions
        {
            MaxDepth = _options.MaxDepth,
            CommentHandling = _options.AllowComments ? JsonCommentHandling.Skip : JsonCommentHandling.Disallow,
        });
        ElementNode? root = null;
        try
        {
            reader.Read();
            if (reader.TokenType != JsonTokenType.StartObject)
                sink.Fatal("structure", "A FHIR resource must be a JSON object");
            else
            {
                root = new Run(this, sink, document, offset).ParseResource(ref reader, null, null);
                while (reader.Read()) { } // throws on anything but trailing white space
            }
        }
        catch (JsonException e)
        {
            sink.Fatal("structure", "Invalid JSON: " + JsonErrorText(e));
            root = null;
        }
        catch (InvalidOperationException e)
        {
            // e.g. an escaped lone surrogate that cannot become text
            sink.Fatal("structure", "Invalid JSON string: " + e.Message);
            root = null;
        }
        return new ParseResult(root, sink.Issues);
    }

    /// <summary>Owned buffers for unescaped strings, in chunks that grow from 1 KB to 64 KB.</summary>
    private sealed class Utf8Arena
    {
        private const int MaxChunk = 64 * 1024;
        private int _nextChunk = 1024;
        private byte[]? _chunk;
        private int _used;
        private byte[]? _reserved;
        private int _reservedStart;

        public Span<byte> Reserve(int maxLength, out byte[] chunk, out int start)
        {
            if (maxLength > MaxChunk / 4)
            {
                chunk = new byte[maxLength]; // big strings get their own buffer
                start = 0;
            }
            else
            {
                if (_chunk is null || _used + maxLength > _chunk.Length)
                {
                    _chunk = new byte[Math.Max(_nextChunk, maxLength)];
                    _nextChunk = Math.Min(_nextChunk * 2, MaxChunk);
                    _used = 0;
                }
                chunk = _chunk;
                start = _used;
            }
            _reserved = chunk;
            _reservedStart = start;
            return chunk.AsSpan(start, maxLength);
        }

        public void Commit(int length)
        {
            if (ReferenceEquals(_reserved, _chunk) && _reservedStart == _used) _used += length;
        }
    }

    private static string JsonErrorText(JsonException e)
    {
        var msg = e.Message;
        var cut = msg.IndexOf(" Path:", StringComparison.Ordinal);
        if (cut > 0) msg = msg[..cut];
        return e.LineNumber is { } line ? $"{msg} (line {line + 1}, byte {e.BytePositionInLine + 1})" : msg;
    }

    /// <summary>The state of one parse (the issue sink); the parser itself stays immutable and shareable.</summary>
    private readonly struct Run(FhirJsonParser p, IssueSink sink, byte[] document, int offset)
    {
        private readonly Utf8Arena _arena = new();

        private bool Lenient => p._options.IsLenient;

        /// <summary>Parses a resource object; the reader is on its StartObject and ends on its EndObject.</summary>
        public ElementNode? ParseResource(ref Utf8JsonReader reader, ElementDef? def, ElementNode? parent)
        {
            var typeName = FindResourceType(reader, out var problem);
            string Location() => parent is null ? typeName ?? "Resource" : $"{parent.Location}.{def!.Name}";
            if (typeName is null)
            {
                Fail(parent, "structure", problem!, Location());
                reader.Skip();
                return null;
            }
            var type = p._defs.GetType(typeName);
            if (type is not { Kind: TypeKind.Resource } || type.IsAbstract)
            {
                Fail(parent, "structure", $"Unknown resource type '{typeName}'", Location());
                reader.Skip();
                return null;
            }
            var node = def is null ? ElementNode.CreateResource(typeName, p._defs) : ElementNode.CreateResourceIn(def, type);
            parent?.Add(node);
            ParseObjectBody(ref reader, node, type, isResource: true);
            return node;
        }

        // At the root a missing/unknown resource type is fatal; inside a resource it is an error on that element.
        private void Fail(ElementNode? parent, string code, string message, string location)
        {
            if (parent is null) sink.Fatal(code, message, location);
            else sink.Error(code, message, location);
        }

        private static string? FindResourceType(Utf8JsonReader reader, out string? problem)
        {
            // A copy of the reader looks ahead; "resourceType" normally comes first, so this is cheap.
            problem = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("resourceType"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String) return reader.GetString();
                    problem = "resourceType must be a string";
                    return null;
                }
                reader.Read();
                reader.Skip();
            }
            problem = "The resource has no resourceType";
            return null;
        }

        private void ParseObjectBody(ref Utf8JsonReader reader, ElementNode node, TypeDefinition type, bool isResource)
        {
            var count = type.Elements.Count;
            Span<ulong> seen = stackalloc ulong[(2 * count + 63) / 64];
            HashSet<string>? unknownSeen = null;
            var table = JsonPropertyTable.For(type, p._defs);

            while (true)
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.EndObject) break;

                // The name as UTF-8: straight from the document, or unescaped (rare) through a string.
                string? nameString = null;
                var name = reader.ValueIsEscaped ? Encoding.UTF8.GetBytes(nameString = reader.GetString()!) : reader.ValueSpan;

                if (isResource && name.SequenceEqual("resourceType"u8))
                {
                    if (!MarkUnknown(ref unknownSeen, "resourceType"))
                        sink.Error("structure", "Duplicate JSON property 'resourceType'", node.Location);
                    reader.Read();
                    continue;
                }

                var underscore = name.Length > 1 && name[0] == '_';
                var lookup = underscore ? name[1..] : name;
                if (!table.TryGet(lookup, out var property) || (underscore && property.Def.Name == "id" && property.Def.IsXmlAttribute))
                {
                    nameString ??= Encoding.UTF8.GetString(name);
                    if (!MarkUnknown(ref unknownSeen, nameString))
                        sink.Error("structure", $"Duplicate JSON property '{nameString}'", node.Location);
                    Unknown(ref reader, node, nameString);
                    continue;
                }

                var def = property.Def;
                var choice = property.Choice;
                var bit = 2 * def.Order + (underscore ? 1 : 0);
                if (IsSet(seen, bit))
                {
                    var previous = def.IsChoice ? FirstChild(node, def)?.Type : choice;
                    sink.Error("structure", previous == choice
                        ? $"Duplicate JSON property '{Encoding.UTF8.GetString(name)}'"
                        : $"Only one type is allowed for {def.Name}[x]: found {def.Name}{Cap(previous)} and {Encoding.UTF8.GetString(name)}",
                        node.Location);
                    reader.Read();
                    reader.Skip();
                    continue;
                }
                seen[bit / 64] |= 1UL << (bit % 64);
                // Nodes of this element exist only when its other form ("name" for "_name", or the reverse) came first.
                var counterpartSeen = IsSet(seen, bit ^ 1);
                if (def.IsChoice && underscore == false && counterpartSeen && HasOtherChoice(node, def, choice))
                {
                    sink.Error("structure", $"Only one type is allowed for {def.Name}[x]", node.Location);
                    reader.Read();
                    reader.Skip();
                    continue;
                }

                reader.Read();
                if (underscore) ParsePrimitiveExtras(ref reader, node, def, property.ValueType, counterpartSeen);
                else ParseProperty(ref reader, node, def, property.ValueType, counterpartSeen);
            }

            node.SortChildren();
            CheckPrimitivesHaveContent(node);
        }

        private static bool IsSet(ReadOnlySpan<ulong> bits, int bit) => (bits[bit / 64] & (1UL << (bit % 64))) != 0;

        private static string Cap(string? s) => string.IsNullOrEmpty(s) ? "" : char.ToUpperInvariant(s[0]) + s[1..];

        private static bool MarkUnknown(ref HashSet<string>? set, string name) => (set ??= new HashSet<string>(StringComparer.Ordinal)).Add(name);

        private static ElementNode? FirstChild(ElementNode node, ElementDef def)
        {
            foreach (var c in node.Children)
                if (ReferenceEquals(c.Definition, def)) return c;
            return null;
        }

        private static bool HasOtherChoice(ElementNode node, ElementDef def, string? choice)
        {
            foreach (var c in node.Children)
                if (ReferenceEquals(c.Definition, def) && c.Type != choice) return true;
            return false;
        }

        private void CheckPrimitivesHaveContent(ElementNode node)
        {
            List<ElementNode>? empty = null;
            foreach (var c in node.Children)
                if (c.IsPrimitive && !c.HasValue && !c.HasChildren)
                    (empty ??= []).Add(c);
            if (empty is null) return;
            foreach (var c in empty)
            {
                sink.Recoverable("structure", $"'{c.SerialName}' has a null with neither a value nor an extension", c.Location);
                node.Remove(c);
            }
        }

        private void Unknown(ref Utf8JsonReader reader, ElementNode node, string name)
        {
            sink.Recoverable("structure", $"Unknown element '{name}'", $"{node.Location}.{name}");
            reader.Read();
            if (Lenient)
            {
                using var doc = JsonDocument.ParseValue(ref reader);
                node.Add(ElementNode.CreateUnknown(name, doc.RootElement.GetRawText()));
            }
            else
            {
                reader.Skip();
            }
        }

        /// <summary>The value of a known element (array or single), reader on its first token.</summary>
        private void ParseProperty(ref Utf8JsonReader reader, ElementNode node, ElementDef def, TypeDefinition? valueType, bool counterpartSeen)
        {
            var existing = counterpartSeen ? CollectExisting(node, def) : null;
            if (reader.TokenType == JsonTokenType.StartArray)
            {
                if (!def.IsCollection)
                    sink.Recoverable("structure", $"'{def.Name}' is a single value, not an array: only the first item is kept", $"{node.Location}.{def.Name}");
                var index = 0;
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (index > 0 && !def.IsCollection)
                    {
                        reader.Skip();
                        continue;
                    }
                    ParseSingle(ref reader, node, def, valueType, existing is not null && index < existing.Count ? existing[index] : null, inArray: true);
                    index++;
                }
                if (index == 0)
                    sink.Recoverable("structure", $"'{def.Name}' is an empty array (leave it out instead)", $"{node.Location}.{def.Name}");
                if (existing is not null && existing.Count != index)
                    sink.Recoverable("structure", $"'{def.Name}' and '_{def.Name}' have different lengths ({index} and {existing.Count})", $"{node.Location}.{def.Name}");
            }
            else
            {
                if (def.IsCollection)
                    sink.Recoverable("structure", $"'{def.Name}' repeats and must be a JSON array", $"{node.Location}.{def.Name}");
                ParseSingle(ref reader, node, def, valueType, existing?[0], inArray: false);
            }
        }

        /// <summary>The "_name" object(s) holding a primitive's id and extensions.</summary>
        private void ParsePrimitiveExtras(ref Utf8JsonReader reader, ElementNode node, ElementDef def, TypeDefinition? type, bool counterpartSeen)
        {
            if (type is not { Kind: TypeKind.Primitive })
            {
                sink.Recoverable("structure", $"'_{def.Name}' is only allowed for primitive elements", Where(node, def));
                reader.Skip();
                return;
            }
            var existing = counterpartSeen ? CollectExisting(node, def) : null;
            if (reader.TokenType == JsonTokenType.StartArray)
            {
                if (!def.IsCollection) sink.Recoverable("structure", $"'_{def.Name}' must not be an array", Where(node, def));
                var index = 0;
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    var target = existing is not null && index < existing.Count ? existing[index] : null;
                    if (reader.TokenType == JsonTokenType.Null)
                    {
                        if (target is null) AddPrimitive(node, def, type);
                    }
                    else
                    {
                        ExtrasObject(ref reader, node, def, type, target);
                    }
                    index++;
                }
                if (index == 0) sink.Recoverable("structure", $"'_{def.Name}' is an empty array", Where(node, def));
                if (existing is not null && existing.Count != index)
                    sink.Recoverable("structure", $"'{def.Name}' and '_{def.Name}' have different lengths ({existing.Count} and {index})", Where(node, def));
            }
            else
            {
                if (def.IsCollection) sink.Recoverable("structure", $"'_{def.Name}' repeats and must be a JSON array", Where(node, def));
                ExtrasObject(ref reader, node, def, type, existing?[0]);
            }
        }

        /// <summary>The FHIRPath of a "_name" element (messages name "_x"); built only for an issue.</summary>
        private static string Where(ElementNode node, ElementDef def) => $"{node.Location}.{def.Name}";

        private void ExtrasObject(ref Utf8JsonReader reader, ElementNode node, ElementDef def, TypeDefinition type, ElementNode? target)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                sink.Recoverable("structure", $"'_{def.Name}' must hold objects with id/extension", Where(node, def));
                reader.Skip();
                return;
            }
            target ??= AddPrimitive(node, def, type);
            var before = target.Children.Count;
            ParseObjectBody(ref reader, target, type, isResource: false);
            if (target.Children.Count == before)
                sink.Recoverable("structure", $"'_{def.Name}' is an empty object", Where(node, def));
        }

        private static ElementNode AddPrimitive(ElementNode parent, ElementDef def, TypeDefinition type) =>
            parent.Add(ElementNode.CreateTyped(def, type));

        /// <summary>Nodes already made for this element (by a "_name" seen before "name", or the reverse).</summary>
        private static List<ElementNode>? CollectExisting(ElementNode node, ElementDef def)
        {
            List<ElementNode>? list = null;
            foreach (var c in node.Children)
                if (ReferenceEquals(c.Definition, def)) (list ??= []).Add(c);
            return list;
        }

        private void ParseSingle(ref Utf8JsonReader reader, ElementNode parent, ElementDef def, TypeDefinition? type, ElementNode? existing, bool inArray)
        {
            if (def.Backbone is not null)
            {
                ParseComplex(ref reader, parent, def, def.Backbone);
                return;
            }
            if (type is null)
            {
                reader.Skip();
                return;
            }
            switch (type.Kind)
            {
                case TypeKind.Primitive:
                    ParsePrimitive(ref reader, parent, def, type, existing, inArray);
                    break;
                case TypeKind.Resource:
                    if (reader.TokenType != JsonTokenType.StartObject)
                    {
                        sink.Recoverable("structure", $"'{def.Name}' must be a resource (a JSON object)", $"{parent.Location}.{def.Name}");
                        reader.Skip();
                        return;
                    }
                    ParseResource(ref reader, def, parent);
                    break;
                default:
                    ParseComplex(ref reader, parent, def, type);
                    break;
            }
        }

        private void ParseComplex(ref Utf8JsonReader reader, ElementNode parent, ElementDef def, TypeDefinition type)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                sink.Recoverable("structure", $"'{def.Name}' must be a JSON object, not {Describe(reader.TokenType)}", $"{parent.Location}.{def.Name}");
                reader.Skip();
                return;
            }
            var child = parent.Add(ElementNode.CreateTyped(def, type));
            ParseObjectBody(ref reader, child, child.TypeDef!, isResource: false);
            if (!child.HasChildren)
            {
                sink.Recoverable("structure", $"'{child.SerialName}' is an empty object (leave it out instead)", child.Location);
                parent.Remove(child);
            }
        }

        private void ParsePrimitive(ref Utf8JsonReader reader, ElementNode parent, ElementDef def, TypeDefinition type, ElementNode? existing, bool inArray)
        {
            var kind = type.JsonKind;
            string? wrongKind = null;
            switch (reader.TokenType)
            {
                case JsonTokenType.Null:
                    if (!inArray)
                        sink.Recoverable("structure", $"'{def.Name}' is null (leave it out instead)", ElementNode.ChildLocation(parent, def, type.Name));
                    if (existing is null && inArray) AddPrimitive(parent, def, type);
                    return;
                case JsonTokenType.String:
                    if (kind != JsonPrimitiveKind.String) wrongKind = "a string";
                    break;
                case JsonTokenType.Number:
                    if (kind != JsonPrimitiveKind.Number) wrongKind = "a number";
                    break;
                case JsonTokenType.True or JsonTokenType.False:
                    if (kind != JsonPrimitiveKind.Boolean) wrongKind = "a boolean";
                    break;
                default:
                    sink.Recoverable("structure", $"'{def.Name}' is a primitive ({type.Name}) and cannot be {Describe(reader.TokenType)}", ElementNode.ChildLocation(parent, def, type.Name));
                    reader.Skip();
                    return;
            }
            if (wrongKind is not null)
                sink.Recoverable("structure", $"'{def.Name}' ({type.Name}) must be a JSON {KindName(kind)}, not {wrongKind}", ElementNode.ChildLocation(parent, def, type.Name));

            var node = existing ?? AddPrimitive(parent, def, type);
            ReadOnlySpan<byte> value;
            if (reader.TokenType is JsonTokenType.True or JsonTokenType.False)
            {
                node.Value = reader.TokenType == JsonTokenType.True ? "true" : "false";
                value = reader.TokenType == JsonTokenType.True ? "true"u8 : "false"u8;
            }
            else if (!reader.ValueIsEscaped)
            {
                // The value's bytes stay where they are in the document; a string's start is after its quote.
                var start = offset + (int)reader.TokenStartIndex + (reader.TokenType == JsonTokenType.String ? 1 : 0);
                node.SetUtf8Value(document, start, reader.ValueSpan.Length);
                value = reader.ValueSpan;
            }
            else
            {
                var target = _arena.Reserve(reader.ValueSpan.Length, out var chunk, out var start);
                var length = reader.CopyString(target);
                _arena.Commit(length);
                node.SetUtf8Value(chunk, start, length);
                value = chunk.AsSpan(start, length);
            }
            if (p._options.ValidatePrimitives && PrimitiveValidator.Check(type, value) is { } problem)
                sink.Recoverable("value", problem, node.Location);
        }

        private static string KindName(JsonPrimitiveKind kind) => kind switch
        {
            JsonPrimitiveKind.Number => "number",
            JsonPrimitiveKind.Boolean => "boolean",
            _ => "string",
        };

        private static string Describe(JsonTokenType t) => t switch
        {
            JsonTokenType.StartArray => "an array",
            JsonTokenType.StartObject => "an object",
            JsonTokenType.String => "a string",
            JsonTokenType.Number => "a number",
            JsonTokenType.True or JsonTokenType.False => "a boolean",
            JsonTokenType.Null => "null",
            _ => t.ToString(),
        };
    }
}

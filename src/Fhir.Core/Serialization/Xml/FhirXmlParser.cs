using System.Text;
using System.Xml;
using FhirArchive.Fhir.Definitions;
using FhirArchive.Fhir.Model;

namespace FhirArchive.Fhir.Serialization.Xml;

/// <summary>
/// Parses FHIR XML into the same element model as JSON, driven by the definitions: value/id/url attributes,
/// typed choice names, resources wrapped in their element, elements in definition order (strict mode reports
/// anything out of order), and the narrative div kept as the exact XHTML text of the source. Safe on hostile
/// input: no DTDs or entities, bounded size and depth, UTF-8 checked.
/// </summary>
public sealed class FhirXmlParser
{
    private const string XmlnsNamespace = "http://www.w3.org/2000/xmlns/";
    private const string XsiNamespace = "http://www.w3.org/2001/XMLSchema-instance";
    private static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);

    private readonly FhirDefinitions _defs;
    private readonly ParserOptions _options;

    public FhirXmlParser(ParserOptions? options = null, FhirDefinitions? definitions = null)
    {
        _options = options ?? ParserOptions.Strict;
        _defs = definitions ?? FhirDefinitions.R4;
    }

    public ParseResult Parse(ReadOnlySpan<byte> utf8)
    {
        var sink = new IssueSink(_options);
        if (utf8.Length > _options.MaxBytes) return Fatal(sink, "too-costly", $"The document is larger than the limit of {_options.MaxBytes:N0} bytes");
        if (utf8.StartsWith("\uFEFF"u8)) utf8 = utf8[3..];
        string text;
        try
        {
            text = StrictUtf8.GetString(utf8);
        }
        catch (DecoderFallbackException)
        {
            return Fatal(sink, "structure", "The document is not valid UTF-8");
        }
        return ParseText(text, sink);
    }

    public ParseResult Parse(string xml)
    {
        var sink = new IssueSink(_options);
        return xml.Length > _options.MaxBytes
            ? Fatal(sink, "too-costly", $"The document is larger than the limit of {_options.MaxBytes:N0} bytes")
            : ParseText(xml, sink);
    }

    /// <summary>Reads at most <see cref="ParserOptions.MaxBytes"/> (one byte more tells it is too large), then parses.</summary>
    public ParseResult Parse(Stream stream)
    {
        using var ms = new MemoryStream();
        var buffer = new byte[81920];
        int n;
        while ((n = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            ms.Write(buffer, 0, n);
            if (ms.Length > _options.MaxBytes)
                return Fatal(new IssueSink(_options), "too-costly", $"The document is larger than the limit of {_options.MaxBytes:N0} bytes");
        }
        return Parse(ms.GetBuffer().AsSpan(0, (int)ms.Length));
    }

    private static ParseResult Fatal(IssueSink sink, string code, string message)
    {
        sink.Fatal(code, message);
        return new ParseResult(null, sink.Issues);
    }

    /// <summary>An XML declaration's encoding other than UTF-8 (FHIR XML is UTF-8; the bytes were decoded as such).</summary>
    private static readonly System.Text.RegularExpressions.Regex DeclaredEncoding =
        new(@"^\s*<\?xml[^>]*?\bencoding\s*=\s*[""']([^""']*)[""']", System.Text.RegularExpressions.RegexOptions.NonBacktracking);

    private ParseResult ParseText(string text, IssueSink sink)
    {
        if (DeclaredEncoding.Match(text) is { Success: true } m && !m.Groups[1].Value.Equals("UTF-8", StringComparison.OrdinalIgnoreCase))
            return Fatal(sink, "structure", $"The document declares the encoding '{m.Groups[1].Value}'; FHIR XML is UTF-8");
        var settings = new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Prohibit, // no DTD: no external entities, no entity expansion bombs
            XmlResolver = null,
            MaxCharactersFromEntities = 0,
            MaxCharactersInDocument = _options.MaxBytes,
            IgnoreComments = false,
            IgnoreProcessingInstructions = true,
            CheckCharacters = true,
        };
        ElementNode? root = null;
        try
        {
            using var reader = XmlReader.Create(new StringReader(text), settings);
            var run = new Run(this, sink, reader, text);
            if (reader.MoveToContent() != XmlNodeType.Element)
                return Fatal(sink, "structure", "The document has no root element");
            root = run.ParseRoot();
            while (root is not null && reader.Read())
                if (reader.NodeType == XmlNodeType.Element || reader.NodeType == XmlNodeType.Text)
                {
                    sink.Fatal("structure", "Content after the root element");
                    root = null;
                }
        }
        catch (XmlException e)
        {
            sink.Fatal("structure", $"Invalid XML: {e.Message}");
            root = null;
        }
        catch (TooDeepException e)
        {
            sink.Fatal("too-costly", e.Message);
            root = null;
        }
        return new ParseResult(root, sink.Issues);
    }

    private sealed class TooDeepException(string message) : Exception(message);

    private sealed class Run(FhirXmlParser p, IssueSink sink, XmlReader reader, string text)
    {
        private readonly IXmlLineInfo _lines = (IXmlLineInfo)reader;
        private int[]? _lineStarts;

        public ElementNode? ParseRoot()
        {
            if (reader.NamespaceURI != FhirXmlSerializer.FhirNamespace)
            {
                sink.Fatal("structure", $"The root element must be in the FHIR namespace {FhirXmlSerializer.FhirNamespace} (found '{reader.NamespaceURI}')");
                return null;
            }
            var type = p._defs.GetType(reader.LocalName);
            if (type is not { Kind: TypeKind.Resource } || type.IsAbstract)
            {
                sink.Fatal("structure", $"Unknown resource type '{reader.LocalName}'", reader.LocalName);
                return null;
            }
            var root = ElementNode.CreateResource(type.Name, p._defs);
            ParseContent(root, type);
            return root;
        }

        /// <summary>Attributes and children of the element the reader is on; ends on its end tag (or the empty element).</summary>
        private void ParseContent(ElementNode node, TypeDefinition type)
        {
            // An element can be an array and an object in JSON: counted twice, the same document is refused in both formats.
            if (reader.Depth * 2 > p._options.MaxDepth)
                throw new TooDeepException($"The document is nested deeper than {p._options.MaxDepth / 2} elements");
            ReadAttributes(node, type);
            if (reader.IsEmptyElement) return;

            var count = type.Elements.Count;
            Span<ulong> seen = stackalloc ulong[(count + 63) / 64];
            ElementDef? lastDef = null;
            var advance = true;
            while (true)
            {
                if (advance && !reader.Read()) return;
                advance = true;
                switch (reader.NodeType)
                {
                    case XmlNodeType.EndElement:
                        return;
                    case XmlNodeType.Element:
                        advance = ParseChild(node, type, seen, ref lastDef);
                        break;
                    case XmlNodeType.Text or XmlNodeType.CDATA:
                        sink.Recoverable("structure", "Text is not allowed here (FHIR values go in value attributes)", node.Location);
                        break;
                }
            }
        }

        private void ReadAttributes(ElementNode node, TypeDefinition type)
        {
            if (!reader.MoveToFirstAttribute()) return;
            do
            {
                if (reader.NamespaceURI == XmlnsNamespace) continue;
                var name = reader.LocalName;
                if (reader.NamespaceURI.Length == 0 && name == "value" && node.IsPrimitive && node.Type != "xhtml")
                {
                    SetValue(node, reader.Value);
                }
                else if (reader.NamespaceURI.Length == 0 && type.GetElement(name) is { IsXmlAttribute: true } def)
                {
                    var child = node.Add(ElementNode.Create(def, null, p._defs));
                    SetValue(child, reader.Value);
                }
                else if (reader.NamespaceURI == XsiNamespace)
                {
                    // xsi:schemaLocation and friends are hints for schema tools, not content
                }
                else
                {
                    sink.Recoverable("structure", $"Unknown attribute '{reader.Name}'", node.Location);
                }
            }
            while (reader.MoveToNextAttribute());
            reader.MoveToElement();
        }

        private void SetValue(ElementNode node, string value)
        {
            node.Value = value;
            if (p._options.ValidatePrimitives && PrimitiveValidator.Check(node.TypeDef!, value) is { } problem)
                sink.Recoverable("value", problem, node.Location);
        }

        /// <summary>One child element; returns false when the reader has already moved past it.</summary>
        private bool ParseChild(ElementNode node, TypeDefinition type, Span<ulong> seen, ref ElementDef? lastDef)
        {
            var name = reader.LocalName;
            if (name == "div" && type.GetElement("div") is { SingleType: "xhtml" } divDef)
            {
                if (reader.NamespaceURI != FhirXmlSerializer.XhtmlNamespace)
                {
                    sink.Recoverable("structure", $"The narrative 'div' must be in the XHTML namespace ({FhirXmlSerializer.XhtmlNamespace})", $"{node.Location}.div");
                    reader.Skip();
                    return false;
                }
                CheckOrder(node, divDef, null, seen, ref lastDef);
                var div = node.Add(ElementNode.Create(divDef, null, p._defs));
                div.Value = ReadRawElement();
                return false;
            }
            if (reader.NamespaceURI != FhirXmlSerializer.FhirNamespace || !type.TryGetBySerialName(name, out var def, out var choice) || def.IsXmlAttribute)
            {
                sink.Recoverable("structure", $"Unknown element '{name}'", $"{node.Location}.{name}");
                reader.Skip();
                return false;
            }
            CheckOrder(node, def, choice, seen, ref lastDef);

            ElementNode child;
            if (def.Backbone is null && p._defs.GetType(choice ?? def.SingleType ?? "") is { Kind: TypeKind.Resource })
            {
                var inner = ReadResourceWrapper(node, def);
                if (inner is null) return true; // the reader is still on the wrapper (empty) or its end tag
                child = inner;
            }
            else
            {
                child = node.Add(ElementNode.Create(def, choice, p._defs));
                ParseContent(child, child.TypeDef!);
            }
            if (!child.HasValue && !child.HasChildren)
            {
                sink.Recoverable("structure", $"'{name}' is empty (no value, no children)", child.Location);
                node.Remove(child);
            }
            return true;
        }

        private void CheckOrder(ElementNode node, ElementDef def, string? choice, Span<ulong> seen, ref ElementDef? lastDef)
        {
            string Where() => ElementNode.ChildLocation(node, def, choice);
            if (ReferenceEquals(def, lastDef))
            {
                if (!def.IsCollection) sink.Recoverable("structure", $"'{def.Name}' may appear only once", Where());
                else if (def.IsChoice) sink.Recoverable("structure", $"Only one type is allowed for {def.Name}[x]", Where());
                return;
            }
            if ((seen[def.Order / 64] & (1UL << (def.Order % 64))) != 0)
                sink.Recoverable("structure", $"'{def.Name}' appears again after other elements (repeats must be together)", Where());
            else if (lastDef is not null && def.Order < lastDef.Order)
                sink.Recoverable("structure", $"'{def.Name}' is out of order: it must come before '{lastDef.Name}'", Where());
            seen[def.Order / 64] |= 1UL << (def.Order % 64);
            lastDef = def;
        }

        /// <summary>&lt;contained&gt;&lt;Patient&gt;…&lt;/Patient&gt;&lt;/contained&gt;: the wrapper holds exactly one resource.</summary>
        private ElementNode? ReadResourceWrapper(ElementNode parent, ElementDef def)
        {
            string Where() => $"{parent.Location}.{def.Name}";
            if (reader.HasAttributes) sink.Recoverable("structure", $"'{def.Name}' takes no attributes", Where());
            if (reader.IsEmptyElement)
            {
                sink.Recoverable("structure", $"'{def.Name}' must hold a resource", Where());
                return null;
            }
            ElementNode? resource = null;
            var advance = true;
            while ((!advance || reader.Read()) && reader.NodeType != XmlNodeType.EndElement)
            {
                advance = true;
                if (reader.NodeType is XmlNodeType.Text or XmlNodeType.CDATA)
                {
                    sink.Recoverable("structure", "Text is not allowed here", Where());
                    continue;
                }
                if (reader.NodeType != XmlNodeType.Element) continue;
                var type = reader.NamespaceURI == FhirXmlSerializer.FhirNamespace ? p._defs.GetType(reader.LocalName) : null;
                if (resource is not null || type is not { Kind: TypeKind.Resource } || type.IsAbstract)
                {
                    sink.Recoverable("structure", resource is null ? $"Unknown resource type '{reader.LocalName}'" : $"'{def.Name}' holds more than one resource", Where());
                    reader.Skip(); // now on the node after the skipped one
                    advance = false;
                    continue;
                }
                resource = parent.Add(ElementNode.CreateResourceIn(def, type));
                ParseContent(resource, type);
            }
            if (resource is null) sink.Recoverable("structure", $"'{def.Name}' must hold a resource", Where());
            return resource;
        }

        /// <summary>
        /// The exact source text of the element the reader is on (the narrative div), so the JSON string is
        /// what the author wrote; the reader ends on the node after it.
        /// </summary>
        private string ReadRawElement()
        {
            var start = Offset(_lines.LineNumber, _lines.LinePosition) - 1; // the '<' before the name
            reader.Skip(); // also checks the div is well-formed
            var next = reader.EOF ? text.Length : Offset(_lines.LineNumber, _lines.LinePosition);
            var end = text.LastIndexOf('>', Math.Min(next, text.Length) - 1) + 1;
            return text[start..end];
        }

        private int Offset(int line, int position)
        {
            _lineStarts ??= LineStarts(text);
            return _lineStarts[line - 1] + position - 1;
        }

        /// <summary>Where each line starts; XML ends lines at LF, CR LF or a lone CR.</summary>
        private static int[] LineStarts(string s)
        {
            var starts = new List<int> { 0 };
            for (var i = 0; i < s.Length; i++)
            {
                if (s[i] == '\n') starts.Add(i + 1);
                else if (s[i] == '\r' && (i + 1 >= s.Length || s[i + 1] != '\n')) starts.Add(i + 1);
            }
            return starts.ToArray();
        }
    }
}

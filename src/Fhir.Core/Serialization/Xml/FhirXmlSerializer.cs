using System.Text;
using System.Xml;
using FhirArchive.Fhir.Model;

namespace FhirArchive.Fhir.Serialization.Xml;

/// <summary>
/// Writes the element model as FHIR XML: elements in definition order in the namespace http://hl7.org/fhir,
/// primitives as value attributes, Element.id and Extension.url as attributes, resources inside their
/// element (&lt;contained&gt;&lt;Patient&gt;…), and the narrative div written verbatim as the XHTML it is.
/// Unknown elements kept by lenient JSON parsing have no XML form and are left out.
/// </summary>
public static class FhirXmlSerializer
{
    public const string FhirNamespace = "http://hl7.org/fhir";
    public const string XhtmlNamespace = "http://www.w3.org/1999/xhtml";

    private static readonly XmlWriterSettings Compact = Settings(indent: false);
    private static readonly XmlWriterSettings Pretty = Settings(indent: true);

    private static XmlWriterSettings Settings(bool indent) => new()
    {
        Encoding = new UTF8Encoding(false),
        NewLineHandling = NewLineHandling.Entitize, // newlines in attribute values survive the round trip
        Indent = indent,
        IndentChars = "  ",
    };

    public static string Serialize(ElementNode resource, bool pretty = false) =>
        Encoding.UTF8.GetString(SerializeToUtf8Bytes(resource, pretty));

    public static byte[] SerializeToUtf8Bytes(ElementNode resource, bool pretty = false)
    {
        using var ms = new MemoryStream();
        Write(resource, ms, pretty);
        return ms.ToArray();
    }

    public static void Write(ElementNode resource, Stream output, bool pretty = false)
    {
        using var writer = XmlWriter.Create(output, pretty ? Pretty : Compact);
        writer.WriteStartDocument();
        WriteResource(resource, writer);
        writer.WriteEndDocument();
    }

    /// <summary>Writes a resource element (&lt;Patient xmlns="http://hl7.org/fhir"&gt;…).</summary>
    public static void WriteResource(ElementNode resource, XmlWriter writer)
    {
        if (!resource.IsResource) throw new ArgumentException("Not a resource node", nameof(resource));
        writer.WriteStartElement(resource.Type!, FhirNamespace);
        WriteContent(resource, writer);
        writer.WriteEndElement();
    }

    /// <summary>Attributes (id, url, value) first, then the child elements.</summary>
    private static void WriteContent(ElementNode node, XmlWriter writer)
    {
        foreach (var c in node.Children)
            if (c.Definition is { IsXmlAttribute: true } && c.HasValue)
                writer.WriteAttributeString(c.Name, XmlSafe(c.Value!));
        if (node.IsPrimitive && node.HasValue && node.Type != "xhtml")
            writer.WriteAttributeString("value", XmlSafe(node.Value!));

        foreach (var c in Json.FhirJsonSerializer.InOrder(node.Children))
        {
            if (c.Definition is null || c.Definition.IsXmlAttribute) continue;
            WriteElement(c, writer);
        }
    }

    /// <summary>
    /// The value with characters XML cannot hold (U+FFFE, U+FFFF, unpaired surrogates) replaced by U+FFFD. Parsed
    /// resources never hold them (<see cref="PrimitiveValidator"/>), but an OperationOutcome may quote hostile input,
    /// and writing an answer must not fail.
    /// </summary>
    private static string XmlSafe(string value)
    {
        var i = 0;
        while (i < value.Length && IsXmlChar(value, i, out var width)) i += width;
        if (i == value.Length) return value;
        var sb = new StringBuilder(value.Length);
        for (i = 0; i < value.Length;)
        {
            if (IsXmlChar(value, i, out var width)) sb.Append(value, i, width);
            else sb.Append('\uFFFD');
            i += width;
        }
        return sb.ToString();
    }

    private static bool IsXmlChar(string s, int i, out int width)
    {
        var c = s[i];
        width = 1;
        if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
        {
            width = 2;
            return true;
        }
        return c is '\t' or '\n' or '\r' or (>= ' ' and <= '\uD7FF') or (>= '\uE000' and <= '\uFFFD');
    }

    private static void WriteElement(ElementNode node, XmlWriter writer)
    {
        if (node.Type == "xhtml")
        {
            WriteXhtml(node.Value ?? "", writer);
            return;
        }
        writer.WriteStartElement(node.SerialName, FhirNamespace);
        if (node.IsResource)
        {
            writer.WriteStartElement(node.Type!, FhirNamespace);
            WriteContent(node, writer);
            writer.WriteEndElement();
        }
        else
        {
            WriteContent(node, writer);
        }
        writer.WriteEndElement();
    }

    /// <summary>
    /// The div is written exactly as held (the JSON form of a narrative is its XHTML text), after checking it
    /// is well-formed, so that JSON → XML → JSON gives back the same characters.
    /// </summary>
    private static void WriteXhtml(string xhtml, XmlWriter writer)
    {
        XhtmlChecker.EnsureWellFormed(xhtml);
        if (!xhtml.Contains(XhtmlNamespace, StringComparison.Ordinal))
            throw new InvalidOperationException("The narrative div has no XHTML namespace declaration");
        writer.WriteRaw(xhtml);
    }
}

/// <summary>Well-formedness checks of narrative XHTML (no DTD, no entities beyond XML's own).</summary>
public static class XhtmlChecker
{
    private static readonly XmlReaderSettings Settings = new()
    {
        DtdProcessing = DtdProcessing.Prohibit,
        XmlResolver = null,
        ConformanceLevel = ConformanceLevel.Fragment,
        MaxCharactersFromEntities = 0,
    };

    /// <summary>Null when the text is one well-formed div element, else the parser's complaint.</summary>
    public static string? Problem(string xhtml)
    {
        try
        {
            using var reader = XmlReader.Create(new StringReader(xhtml), Settings);
            var roots = 0;
            while (reader.Read())
            {
                if (reader.Depth == 0 && reader.NodeType == XmlNodeType.Element)
                {
                    roots++;
                    if (reader.LocalName != "div" || reader.NamespaceURI != FhirXmlSerializer.XhtmlNamespace)
                        return "the narrative must be a <div> in the XHTML namespace";
                }
                else if (reader.Depth == 0 && reader.NodeType == XmlNodeType.Text)
                {
                    return "text outside the <div>";
                }
            }
            return roots == 1 ? null : "the narrative must be exactly one <div> element";
        }
        catch (XmlException e)
        {
            return "the narrative is not well-formed XHTML: " + e.Message;
        }
    }

    internal static void EnsureWellFormed(string xhtml)
    {
        if (Problem(xhtml) is { } p) throw new InvalidOperationException(p);
    }
}

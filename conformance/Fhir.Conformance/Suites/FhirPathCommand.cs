using System.Text;
using System.Text.Json;
using FhirArchive.Fhir.FhirPath;
using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Serialization;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Fhir.Serialization.Xml;

namespace FhirArchive.Conformance;

/// <summary>`fhirpath "expr" resource.json|xml`: evaluates once and prints the result collection as JSON.</summary>
public static class FhirPathCommand
{
    public static int Run(string[] args)
    {
        if (args.Length is < 1 or > 2)
        {
            Console.Error.WriteLine("usage: fhirpath \"<expression>\" [resource.json|resource.xml]");
            return 2;
        }
        try
        {
            var expr = FhirPathCompiler.Default.Compile(args[0]);
            IReadOnlyList<FhirPathItem> result;
            if (args.Length == 2)
            {
                var resource = Load(args[1]);
                result = expr.Evaluate(resource);
            }
            else result = expr.Evaluate([]);
            Console.WriteLine(ToJson(result));
            return 0;
        }
        catch (Exception e) when (e is FhirPathSyntaxException or FhirPathEvaluationException or FhirParseException)
        {
            Console.Error.WriteLine(e.Message);
            return 1;
        }
    }

    public static ElementNode Load(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var parsed = path.EndsWith(".xml", StringComparison.OrdinalIgnoreCase)
            ? new FhirXmlParser(ParserOptions.Lenient).Parse(bytes)
            : new FhirJsonParser(ParserOptions.Lenient).Parse(bytes);
        return parsed.Resource ?? throw new FhirParseException(parsed.Issues);
    }

    /// <summary>[{"type":"string","value":"..."}]; complex elements are written as FHIR JSON objects.</summary>
    public static string ToJson(IReadOnlyList<FhirPathItem> items)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartArray();
            foreach (var it in items)
            {
                w.WriteStartObject();
                w.WriteString("type", TypeName(it));
                w.WritePropertyName("value");
                if (it.Node is { IsPrimitive: false } n) FhirJsonSerializer.Write(n, w);
                else
                {
                    switch (it.Value)
                    {
                        case bool b: w.WriteBooleanValue(b); break;
                        case long l: w.WriteNumberValue(l); break;
                        case decimal d: w.WriteRawValue(FhirPathValues.DecimalToString(d)); break;
                        case null: w.WriteNullValue(); break;
                        default: w.WriteStringValue(it.Node?.Value ?? FhirPathValues.Format(it.Value)); break;
                    }
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    /// <summary>The FHIR type name for elements, the lower-case System name for System values ("integer").</summary>
    public static string TypeName(FhirPathItem it) => it.Node is not null
        ? it.TypeName
        : it.TypeName switch
        {
            "DateTime" => "dateTime",
            "Quantity" => "Quantity",
            var t => char.ToLowerInvariant(t[0]) + t[1..],
        };
}

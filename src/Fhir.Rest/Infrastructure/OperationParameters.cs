using System.Text.Json;
using FhirArchive.Fhir.Model;

namespace FhirArchive.Rest.Infrastructure;

/// <summary>
/// The named parameters of an operation: from a Parameters body and the query string (the body wins). The one reader
/// of operation parameters, for the engine's operations ($validate, the terminology operations) and the domain's.
/// </summary>
public sealed class OperationParameters
{
    private readonly Dictionary<string, ElementNode> _body = new(StringComparer.Ordinal);
    private readonly List<ElementNode> _all = [];
    private readonly IQueryCollection _query;

    private OperationParameters(IQueryCollection query) => _query = query;

    /// <summary>The request's parameters; a body, when there is one, must be a Parameters resource.</summary>
    public static async Task<OperationParameters> ReadAsync(HttpContext ctx)
    {
        if (!HasBody(ctx.Request)) return Of(null, ctx.Request.Query);
        ctx.Request.EnableBuffering();
        if (IsParametersWithoutAny((await FhirFormats.ReadBodyAsync(ctx.Request, ctx.RequestAborted)).Span)) return Of(null, ctx.Request.Query);
        ctx.Request.Body.Position = 0;
        var body = await FhirFormats.ReadResourceAsync(ctx.Request, ctx.RequestAborted);
        if (body.Type != "Parameters") throw FhirException.BadRequest($"The operation takes a Parameters resource, not a {body.Type}.");
        return Of(body, ctx.Request.Query);
    }

    /// <summary>The parameters of a Parameters resource already read (none: the query's only), the query string behind them.</summary>
    public static OperationParameters Of(ElementNode? parameters, IQueryCollection query)
    {
        var p = new OperationParameters(query);
        foreach (var parameter in parameters?.ChildrenNamed("parameter") ?? [])
            if (parameter.Child("name")?.Value is { } name)
            {
                p._body.TryAdd(name, parameter);
                p._all.Add(parameter);
            }
        return p;
    }

    public static bool HasBody(HttpRequest request) => request.ContentLength > 0 || request.Headers.TransferEncoding.Count > 0;

    /// <summary>The body's named parameters in order, each with its value[x] (null for a resource or parts).</summary>
    public IEnumerable<(string Name, ElementNode? Value)> BodyValues =>
        _all.Select(p => (p.Child("name")!.Value!, p.Child("value")));

    /// <summary>
    /// {"resourceType":"Parameters","parameter":[]}: strict FHIR JSON refuses the empty array, but to an operation
    /// it only says "no parameters" (what clients send when every parameter is optional). Anything else, XML
    /// included, is for the parser to read or refuse.
    /// </summary>
    private static bool IsParametersWithoutAny(ReadOnlySpan<byte> body)
    {
        var reader = new Utf8JsonReader(body);
        try
        {
            using var document = JsonDocument.ParseValue(ref reader);
            var root = document.RootElement;
            return root.ValueKind == JsonValueKind.Object
                && root.TryGetProperty("resourceType", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() == "Parameters"
                && root.TryGetProperty("parameter", out var parameters) && parameters.ValueKind == JsonValueKind.Array && parameters.GetArrayLength() == 0;
        }
        catch (JsonException) { return false; }
    }

    /// <summary>A primitive value (valueCode, valueDate, valueString...), the code/text of a Coding / CodeableConcept, or a Reference's reference.</summary>
    public string? Value(string name)
    {
        if (_body.TryGetValue(name, out var p) && p.Child("value") is { } v)
            return v.Value ?? v.Child("code")?.Value ?? v.Child("text")?.Value ?? v.Child("coding")?.Child("code")?.Value ?? v.Child("reference")?.Value;
        return _query[name].ToString() is { Length: > 0 } q ? q : null;
    }

    /// <summary>Every value of a repeated parameter (body parameters, else the query string's), as <see cref="Value"/> reads one.</summary>
    public IReadOnlyList<string> Values(string name)
    {
        var body = _all.Where(p => p.Child("name")?.Value == name && p.Child("value") is not null)
            .Select(p => p.Child("value")!).Select(v => v.Value ?? v.Child("reference")?.Value ?? v.Child("code")?.Value).OfType<string>().ToList();
        return body.Count > 0 ? body : _query[name].Where(v => !string.IsNullOrEmpty(v)).Select(v => v!).ToList();
    }

    public ElementNode? Resource(string name) => _body.TryGetValue(name, out var p) ? p.Child("resource") : null;

    /// <summary>A whole-number parameter (digits only) of at least <paramref name="min"/>, or null when absent; anything else is a 400.</summary>
    public int? Integer(string name, int min)
    {
        if (Value(name) is not { } text) return null;
        if (!int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) || n < min)
            throw FhirException.BadRequest($"'{name}' must be a whole number of at least {min}, not '{text}' / 参数 {name} 须为不小于 {min} 的整数");
        return n;
    }

    /// <summary>A boolean parameter ("true" or "false", as FHIR writes it), or null when absent; anything else is a 400.</summary>
    public bool? Boolean(string name) => Value(name) switch
    {
        null => null,
        "true" => true,
        "false" => false,
        var text => throw FhirException.BadRequest($"'{name}' must be true or false, not '{text}' / 参数 {name} 须为 true 或 false"),
    };

    public string Required(string name) =>
        Value(name) ?? throw FhirException.BadRequest($"The operation needs the parameter '{name}'.");
}

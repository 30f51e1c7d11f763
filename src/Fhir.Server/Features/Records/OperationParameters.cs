using FhirArchive.Fhir.Model;
using FhirArchive.Server.Infrastructure;

namespace FhirArchive.Server.Features.Records;

/// <summary>The named parameters of an operation: from a Parameters body and the query string (the body wins).</summary>
public sealed class OperationParameters
{
    private readonly Dictionary<string, ElementNode> _body = new(StringComparer.Ordinal);
    private readonly IQueryCollection _query;

    private OperationParameters(IQueryCollection query) => _query = query;

    public static async Task<OperationParameters> ReadAsync(HttpContext ctx)
    {
        var p = new OperationParameters(ctx.Request.Query);
        if (ctx.Request.ContentLength is null or 0 && ctx.Request.Headers.TransferEncoding.Count == 0) return p;
        var body = await FhirFormats.ReadResourceAsync(ctx.Request, ctx.RequestAborted);
        if (body.Type != "Parameters") throw FhirException.BadRequest($"The operation takes a Parameters resource, not a {body.Type}.");
        foreach (var parameter in body.ChildrenNamed("parameter"))
            if (parameter.Child("name")?.Value is { } name) p._body.TryAdd(name, parameter);
        return p;
    }

    /// <summary>A primitive value (valueCode, valueDate, valueString...), the code/text of a Coding / CodeableConcept, or a Reference's reference.</summary>
    public string? Value(string name)
    {
        if (_body.TryGetValue(name, out var p) && p.Child("value") is { } v)
            return v.Value ?? v.Child("code")?.Value ?? v.Child("text")?.Value ?? v.Child("coding")?.Child("code")?.Value ?? v.Child("reference")?.Value;
        return _query[name].ToString() is { Length: > 0 } q ? q : null;
    }

    public ElementNode? Resource(string name) => _body.TryGetValue(name, out var p) ? p.Child("resource") : null;

    public string Required(string name) =>
        Value(name) ?? throw FhirException.BadRequest($"The operation needs the parameter '{name}'.");
}

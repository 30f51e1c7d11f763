using FhirArchive.Rest.Access;
using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Metadata;
using FhirArchive.Terminology;

namespace FhirArchive.Rest.Terminology;

/// <summary>
/// The terminology operations over the Chinese national/local and FHIR base code systems: CodeSystem/$lookup,
/// ValueSet/$validate-code, ValueSet/$expand, CodeSystem/$subsumes, ConceptMap/$translate. Each takes its
/// parameters from the query (GET) or from a Parameters body (POST).
/// </summary>
public static class TerminologyEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        MapOne(app, "CodeSystem-lookup", Lookup, "$lookup: display and properties of a code");
        MapOne(app, "ValueSet-validate-code", ValidateCode, "$validate-code: is a code in a value set");
        MapOne(app, "ValueSet-expand", Expand, "$expand: the codes of a value set (filter, count, offset, displayLanguage)");
        MapOne(app, "CodeSystem-subsumes", Subsumes, "$subsumes: how two codes relate");
        MapOne(app, "ConceptMap-translate", Translate, "$translate: a code's equivalents in another code system");
    }

    private static void MapOne(IEndpointRouteBuilder app, string definition, Func<HttpContext, Dictionary<string, string>, TerminologyService, Task> handler, string summary) =>
        app.MapOperation(FhirOperation.Core(definition), OperationLevel.Type,
                async (HttpContext ctx, TerminologyService t) => await handler(ctx, await ParametersAsync(ctx), t))
            .WithTags("Terminology").WithSummary(summary);

    /// <summary>Query parameters, overridden by a POSTed Parameters body (valueX, or a Coding's system/code/display).</summary>
    private static async Task<Dictionary<string, string>> ParametersAsync(HttpContext ctx)
    {
        var values = ctx.Request.Query.ToDictionary(q => q.Key, q => q.Value.ToString(), StringComparer.Ordinal);
        if (!HttpMethods.IsPost(ctx.Request.Method)) return values;
        foreach (var (name, value) in (await OperationParameters.ReadAsync(ctx)).BodyValues)
        {
            if (value is null) continue;
            if (value.Type == "Coding")
            {
                if (value.Child("system")?.Value is { } s) values["system"] = s;
                if (value.Child("code")?.Value is { } c) values["code"] = c;
                if (value.Child("display")?.Value is { } d) values["display"] = d;
            }
            else if (value.Value is { } v) values[name] = v;
        }
        return values;
    }

    private static string Required(Dictionary<string, string> p, string name) =>
        p.TryGetValue(name, out var v) && v.Length > 0 ? v : throw FhirException.BadRequest($"The parameter '{name}' is required.");

    private static Task Lookup(HttpContext ctx, Dictionary<string, string> p, TerminologyService t)
    {
        var system = Required(p, "system");
        var code = Required(p, "code");
        var found = t.Lookup(system, code) ?? throw FhirException.NotFound($"Code '{code}' is not known in {system}.");
        var result = FhirParameters.Create();
        FhirParameters.Add(result, "name", found.System.Name, "string");
        if (found.System.Version is { } version) FhirParameters.Add(result, "version", version, "string");
        FhirParameters.Add(result, "display", found.DisplayFor(p.GetValueOrDefault("displayLanguage")), "string");
        if (found.Concept.DisplayEn is { } en)
        {
            var d = result.Add("parameter");
            d.Add("name", "designation");
            var lang = d.Add("part");
            lang.Add("name", "language");
            lang.Add("value", "en", "code");
            var value = d.Add("part");
            value.Add("name", "value");
            value.Add("value", en, "string");
        }
        foreach (var (key, v) in found.Concept.Properties)
        {
            var prop = result.Add("parameter");
            prop.Add("name", "property");
            var c = prop.Add("part");
            c.Add("name", "code");
            c.Add("value", key, "code");
            var pv = prop.Add("part");
            pv.Add("name", "value");
            pv.Add("value", v, "string");
        }
        return FhirFormats.WriteNodeAsync(ctx, 200, result);
    }

    private static Task ValidateCode(HttpContext ctx, Dictionary<string, string> p, TerminologyService t)
    {
        var url = p.GetValueOrDefault("url");
        var r = t.ValidateCode(url is { Length: > 0 } ? url : null, Required(p, "system"), Required(p, "code"), p.GetValueOrDefault("display"));
        var result = FhirParameters.Create();
        FhirParameters.Add(result, "result", r.Result == true ? "true" : "false", "boolean");
        FhirParameters.Add(result, "message", r.Message, "string");
        if (r.Display is { } display) FhirParameters.Add(result, "display", display, "string");
        return FhirFormats.WriteNodeAsync(ctx, 200, result);
    }

    private static Task Expand(HttpContext ctx, Dictionary<string, string> p, TerminologyService t)
    {
        var url = Required(p, "url");
        var vs = t.GetValueSet(url) ?? throw FhirException.NotFound($"Value set {url} is not known.");
        var offset = Int(p, "offset", 0);
        var count = Int(p, "count", 1000);
        var r = t.Expand(url, p.GetValueOrDefault("filter"), offset, count, p.GetValueOrDefault("displayLanguage"));
        if (r.Error is { } error) throw new FhirException(422, "too-costly", error);
        var result = ElementNode.CreateResource("ValueSet");
        result.Add("url", vs.Url);
        result.Add("status", "active");
        var expansion = result.Add("expansion");
        expansion.Add("identifier", "urn:uuid:" + Guid.NewGuid());
        expansion.Add("timestamp", FhirInstant.ToSecond(DateTimeOffset.UtcNow));
        expansion.Add("total", r.Total.ToString());
        expansion.Add("offset", offset.ToString());
        foreach (var item in r.Items)
        {
            var c = expansion.Add("contains");
            c.Add("system", item.System);
            c.Add("code", item.Code);
            c.Add("display", item.Display);
        }
        return FhirFormats.WriteNodeAsync(ctx, 200, result);
    }

    private static Task Subsumes(HttpContext ctx, Dictionary<string, string> p, TerminologyService t)
    {
        var system = Required(p, "system");
        var outcome = t.Subsumes(system, Required(p, "codeA"), Required(p, "codeB"))
                      ?? throw FhirException.NotFound($"The codes are not both known in {system}, or it has no hierarchy.");
        var result = FhirParameters.Create();
        FhirParameters.Add(result, "outcome", outcome switch
        {
            SubsumptionOutcome.Equivalent => "equivalent",
            SubsumptionOutcome.Subsumes => "subsumes",
            SubsumptionOutcome.SubsumedBy => "subsumed-by",
            _ => "not-subsumed",
        }, "code");
        return FhirFormats.WriteNodeAsync(ctx, 200, result);
    }

    private static Task Translate(HttpContext ctx, Dictionary<string, string> p, TerminologyService t)
    {
        var url = p.GetValueOrDefault("url");
        var target = p.GetValueOrDefault("targetsystem");
        var matches = t.Translate(Required(p, "system"), Required(p, "code"), url is { Length: > 0 } ? url : null, target is { Length: > 0 } ? target : null);
        var result = FhirParameters.Create();
        FhirParameters.Add(result, "result", matches.Count > 0 ? "true" : "false", "boolean");
        foreach (var m in matches)
        {
            var match = result.Add("parameter");
            match.Add("name", "match");
            var eq = match.Add("part");
            eq.Add("name", "equivalence");
            eq.Add("value", m.Equivalence, "code");
            var concept = match.Add("part");
            concept.Add("name", "concept");
            var coding = concept.Add("value", null, "Coding");
            coding.Add("system", m.TargetSystem);
            coding.Add("code", m.TargetCode);
            if (m.TargetDisplay is { } d) coding.Add("display", d);
        }
        return FhirFormats.WriteNodeAsync(ctx, 200, result);
    }

    private static int Int(Dictionary<string, string> p, string name, int fallback) =>
        !p.TryGetValue(name, out var v) || v.Length == 0 ? fallback
        : int.TryParse(v, out var n) && n >= 0 ? n : throw FhirException.BadRequest($"'{name}' must be a non-negative integer.");

}

using System.Reflection;
using System.Text.Json;
using FhirArchive.Fhir.Definitions;
using FhirArchive.Fhir.Outcomes;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Resources;

namespace FhirArchive.Rest.Metadata;

/// <summary>Where an operation is invoked: [base]/$op, [base]/[type]/$op, [base]/[type]/[id]/$op.</summary>
[Flags]
public enum OperationLevel { System = 1, Type = 2, Instance = 4 }

/// <summary>
/// An operation the server implements, declared by its OperationDefinition (the data says its code, resource, levels,
/// whether it affects state, its parameters): the engine's from the R4 core definitions (<see cref="Core"/>), a
/// module's from a JSON file next to its code (<see cref="Local"/>). <see cref="Operations.MapOperation"/> maps it,
/// and the CapabilityStatement lists what is mapped, so listing and mapping cannot drift.
/// </summary>
public sealed record FhirOperation(string Code, string? Type, OperationLevel Levels, bool AffectsState, bool AllowsGet, string Url, string Id, string Json)
{
    /// <summary>The server's canonical base for its own definitions (the package's, src/Profiles).</summary>
    public const string LocalBase = "http://fhirarchive.cn/fhir/OperationDefinition/";

    /// <summary>An R4 core OperationDefinition by id ("Patient-everything").</summary>
    public static FhirOperation Core(string id) =>
        Of(FhirDefinitions.OperationDefinitions.TryGetValue(id, out var json) ? json : throw new InvalidOperationException($"R4 has no OperationDefinition '{id}'."));

    /// <summary>A module's OperationDefinition, embedded in its assembly as "…/[id].json" (e.g. Records/Operations/Patient-close.json).</summary>
    public static FhirOperation Local(Assembly assembly, string id)
    {
        var name = assembly.GetManifestResourceNames().SingleOrDefault(n => n.EndsWith("." + id + ".json", StringComparison.Ordinal) || n.EndsWith("/" + id + ".json", StringComparison.Ordinal))
                   ?? throw new InvalidOperationException($"The OperationDefinition '{id}.json' is not embedded in {assembly.GetName().Name}.");
        using var s = assembly.GetManifestResourceStream(name)!;
        return Of(new StreamReader(s).ReadToEnd());
    }

    private static FhirOperation Of(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var d = doc.RootElement;
        bool Flag(string name) => d.TryGetProperty(name, out var v) && v.GetBoolean();
        var levels = (Flag("system") ? OperationLevel.System : 0) | (Flag("type") ? OperationLevel.Type : 0) | (Flag("instance") ? OperationLevel.Instance : 0);
        var resource = d.TryGetProperty("resource", out var r) ? r[0].GetString() : null;
        var affectsState = Flag("affectsState");
        // R4 operations.html: GET only when the operation does not affect state and its parameters are primitive. A
        // complex parameter that is optional ($validate's resource) does not stop a GET that leaves it out.
        var requiredComplex = d.TryGetProperty("parameter", out var ps) && ps.EnumerateArray().Any(p =>
            p.GetProperty("use").GetString() == "in" && p.GetProperty("min").GetInt32() > 0
            && (!p.TryGetProperty("type", out var t) || !char.IsLower(t.GetString()![0])));
        return new(d.GetProperty("code").GetString()!, resource is null or "Resource" ? null : resource, levels, affectsState,
            !affectsState && !requiredComplex, d.GetProperty("url").GetString()!, d.GetProperty("id").GetString()!, json);
    }
}

/// <summary>
/// The one way operations are mapped: POST (a Parameters body, or none) always, GET too when the operation does not
/// change state; every endpoint carries its <see cref="InteractionKind"/> and its <see cref="FhirOperation"/>. A
/// request for an operation the server does not have ([base]/$foo, [type]/$foo, [type]/[id]/$foo) is answered
/// "unknown operation", and a GET of a state-changing one 405 with Allow: POST (<see cref="MapUnknownOperations"/>).
/// </summary>
public static class Operations
{
    public static RouteHandlerBuilder MapOperation(this IEndpointRouteBuilder app, FhirOperation op, OperationLevel level, Delegate handler)
    {
        if (!op.Levels.HasFlag(level)) throw new InvalidOperationException($"${op.Code} is not defined at {level} level ({op.Url}).");
        var type = op.Type ?? "{type}";
        var route = level switch
        {
            OperationLevel.System => $"/${op.Code}",
            OperationLevel.Type => $"/{type}/${op.Code}",
            _ => $"/{type}/{{id}}/${op.Code}",
        };
        return app.MapMethods(route, op.AllowsGet ? [HttpMethods.Get, HttpMethods.Post] : [HttpMethods.Post], handler)
            .WithInteraction(InteractionKind.Operation("$" + op.Code, op.Type)).WithMetadata(op);
    }

    /// <summary>The operations mapped (each once), as the CapabilityStatement lists them.</summary>
    public static IReadOnlyList<FhirOperation> Declared(IEnumerable<Endpoint> endpoints) =>
        endpoints.Select(e => e.Metadata.GetMetadata<FhirOperation>()).OfType<FhirOperation>().Distinct().ToList();

    /// <summary>
    /// Routes below the known operations' (a literal segment wins over "${operation}", which wins over "{id}"): so
    /// GET Patient/$foo is never read as an id. They decide for themselves what they say about the instance.
    /// </summary>
    public static void MapUnknownOperations(this IEndpointRouteBuilder app)
    {
        foreach (var route in new[] { "/${operation}", "/{type}/${operation}", "/{type}/{id}/${operation}" })
            app.Map(route, Unknown).WithMetadata(new DecidesOwnVisibility()).ExcludeFromDescription();
    }

    private static async Task Unknown(HttpContext ctx, string operation, EndpointDataSource endpoints)
    {
        var values = ctx.Request.RouteValues;
        var type = values["type"] as string;
        var level = values["id"] is string ? OperationLevel.Instance : type is null ? OperationLevel.System : OperationLevel.Type;
        if (type is not null) ResourceWriter.CheckType(type);
        var known = Declared(endpoints.Endpoints).FirstOrDefault(o => o.Code == operation && (o.Type is null || o.Type == type) && o.Levels.HasFlag(level));
        if (known is null)
            throw new FhirException(404, "not-supported", $"Unknown operation `${operation}` / 未知操作 `${operation}`" + (type is null ? "." : $" on {type}."));
        // A known operation reached with a method it does not take (GET on one that changes state, PUT...).
        ctx.Response.Headers.Allow = known.AllowsGet ? "GET, POST" : "POST";
        var message = known.AllowsGet
            ? $"${operation} is invoked with GET or POST / 请使用 GET 或 POST 调用 ${operation}."
            : $"${operation} changes data: invoke it with POST / ${operation} 会修改数据，请使用 POST 调用.";
        await FhirFormats.WriteNodeAsync(ctx, 405, OperationOutcomes.Create(IssueSeverity.Error, "not-supported", message));
    }
}

using FhirArchive.Rest.Access;
using FhirArchive.Fhir.Definitions;
using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage.Indexing;

namespace FhirArchive.Rest.Metadata;

/// <summary>A resource type a module serves its own way (the audit trail): it describes the type's entry itself.</summary>
public sealed record OwnCapability(string Type, Action<ElementNode, SearchParameterRegistry> Describe);

/// <summary>The canonical URL of a CapabilityStatement the server instantiates (an IHE actor's, say): a module declares it.</summary>
public sealed record InstantiatedCapability(string Canonical);

/// <summary>
/// The CapabilityStatement, generated from what the server really implements and indexes: the engine's interactions
/// and the operations mapped (<see cref="Operations.MapOperation"/>: what the router has is what is listed), and the
/// types modules describe themselves (<see cref="OwnCapability"/>), the actors' CapabilityStatements modules say the
/// server instantiates (<see cref="InstantiatedCapability"/>). _summary and _elements shape it as they shape a read.
/// </summary>
public static class CapabilityEndpoint
{
    private static readonly string[] Interactions = ["read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create", "search-type"];
    private static readonly SearchParamType[] Indexed =
        [SearchParamType.String, SearchParamType.Token, SearchParamType.Date, SearchParamType.Number, SearchParamType.Quantity, SearchParamType.Reference, SearchParamType.Uri];

    public static void Map(IEndpointRouteBuilder app) =>
        app.MapGet("/metadata", (HttpContext ctx, SearchParameterRegistry registry, EndpointDataSource endpoints, IEnumerable<OwnCapability> own,
            IEnumerable<InstantiatedCapability> instantiated) =>
            // Through JSON bytes: shaping reads each element's definition (summary, cardinality), which a parse gives.
            FhirFormats.WriteJsonBytesAsync(ctx, 200,
                Fhir.Serialization.Json.FhirJsonSerializer.SerializeToUtf8Bytes(Build(FhirHeaders.BaseUrl(ctx.Request), registry, Operations.Declared(endpoints.Endpoints), own,
                    ctx.RequestServices.GetService<Subscriptions.SubscriptionOptions>() is { Enabled: true }, instantiated)),
                Search.ResultShaping.ForRead(ctx.Request)))
            .WithInteraction(InteractionKind.Capabilities).WithTags("Metadata").WithSummary("CapabilityStatement (_summary, _elements)");

    public static ElementNode Build(string baseUrl, SearchParameterRegistry registry, IReadOnlyList<FhirOperation> operations, IEnumerable<OwnCapability> own,
        bool websocket = false, IEnumerable<InstantiatedCapability>? instantiated = null)
    {
        var ownTypes = own.ToDictionary(o => o.Type);
        var cs = ElementNode.CreateResource("CapabilityStatement");
        cs.Add("name", "FhirArchiveCapabilityStatement");
        cs.Add("title", "FhirArchive 居民电子健康档案 FHIR R4 服务器 / FhirArchive resident health record FHIR R4 server");
        cs.Add("status", "active");
        cs.Add("date", DateTime.UtcNow.ToString("yyyy-MM-dd"));
        cs.Add("kind", "instance");
        foreach (var canonical in (instantiated ?? []).Select(i => i.Canonical).Distinct(StringComparer.Ordinal))
            cs.Add("instantiates", canonical);
        var software = cs.Add("software");
        software.Add("name", "FhirArchive");
        var impl = cs.Add("implementation");
        impl.Add("description", "FhirArchive 居民电子健康档案 FHIR R4 server");
        impl.Add("url", baseUrl);
        cs.Add("fhirVersion", "4.0.1");
        foreach (var f in new[] { FhirFormats.JsonType, FhirFormats.XmlType, "json", "xml" }) cs.Add("format", f);
        var rest = cs.Add("rest");
        if (websocket)
        {
            // R4: where the websocket channel of Subscriptions connects.
            var ws = rest.Add("extension");
            ws.Add("url", Subscriptions.WebSocketHub.CapabilityExtension);
            ws.Add("value", Subscriptions.WebSocketHub.UrlFor(baseUrl), "uri");
        }
        rest.Add("mode", "server");
        Security.SecuritySetup.AddTo(rest, baseUrl);
        // Which Source:param pairs can point at each type (the _revinclude values worth offering).
        var revIncludes = new Dictionary<string, List<string>>();
        foreach (var source in FhirDefinitions.R4.ResourceTypes)
            foreach (var p in registry.For(source).Where(p => p.Type == SearchParamType.Reference))
                foreach (var target in p.Targets)
                {
                    if (!revIncludes.TryGetValue(target, out var list)) revIncludes[target] = list = [];
                    list.Add($"{source}:{p.Code}");
                }
        foreach (var type in FhirDefinitions.R4.ResourceTypes.Where(t => FhirDefinitions.R4.GetType(t) is { IsAbstract: false }).Order(StringComparer.Ordinal))
        {
            var r = rest.Add("resource");
            r.Add("type", type);
            if (ownTypes.TryGetValue(type, out var described))
            {
                described.Describe(r, registry);
                AddTypeOperations(r, type, operations);
                continue;
            }
            foreach (var i in Interactions) r.Add("interaction").Add("code", i);
            r.Add("versioning", "versioned-update");
            r.Add("readHistory", "true");
            r.Add("updateCreate", "true");
            r.Add("conditionalCreate", "true");
            r.Add("conditionalRead", "full-support");
            r.Add("conditionalUpdate", "true");
            r.Add("conditionalDelete", "single");
            foreach (var inc in registry.For(type).Where(p => p.Type == SearchParamType.Reference).Select(p => $"{type}:{p.Code}").Order(StringComparer.Ordinal))
                r.Add("searchInclude", inc);
            foreach (var rev in revIncludes.GetValueOrDefault(type, []).Order(StringComparer.Ordinal))
                r.Add("searchRevInclude", rev);
            foreach (var p in registry.For(type).Where(Searchable).OrderBy(p => p.Code, StringComparer.Ordinal))
                AddParam(r, p.Code, p.Url, p.Type.ToString().ToLowerInvariant());
            AddParam(r, "_id", "http://hl7.org/fhir/SearchParameter/Resource-id", "token");
            AddParam(r, "_lastUpdated", "http://hl7.org/fhir/SearchParameter/Resource-lastUpdated", "date");
            AddTypeOperations(r, type, operations);
        }
        foreach (var i in new[] { "transaction", "batch", "search-system", "history-system" }) rest.Add("interaction").Add("code", i);
        // Operations on any type ($validate) are the server's; the others are listed under their resource type.
        AddOperations(rest, operations.Where(o => o.Type is null));
        return cs;
    }

    private static void AddTypeOperations(ElementNode r, string type, IReadOnlyList<FhirOperation> operations) =>
        AddOperations(r, operations.Where(o => o.Type == type));

    /// <summary>operation.name is the code without '$'; definition the OperationDefinition's canonical URL.</summary>
    private static void AddOperations(ElementNode parent, IEnumerable<FhirOperation> operations)
    {
        foreach (var o in operations.OrderBy(o => o.Code, StringComparer.Ordinal))
        {
            var op = parent.Add("operation");
            op.Add("name", o.Code);
            op.Add("definition", o.Url);
        }
    }

    /// <summary>A search parameter's entry (also for the types modules describe themselves).</summary>
    public static void AddParam(ElementNode r, string name, string url, string type)
    {
        var sp = r.Add("searchParam");
        sp.Add("name", name);
        sp.Add("definition", url);
        sp.Add("type", type);
    }

    /// <summary>Indexed types, and composites whose components the definitions name.</summary>
    private static bool Searchable(SearchParamDef p) =>
        p.Code is not ("_id" or "_lastUpdated") && (Indexed.Contains(p.Type) || p is { Type: SearchParamType.Composite, Components.Count: > 0 });
}

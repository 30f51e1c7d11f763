using FhirArchive.Fhir.Definitions;
using FhirArchive.Fhir.Model;
using FhirArchive.Server.Infrastructure;
using FhirArchive.Storage.Indexing;

namespace FhirArchive.Server.Features.Metadata;

/// <summary>The CapabilityStatement, generated from what the server really implements and indexes.</summary>
public static class CapabilityEndpoint
{
    private static readonly string[] Interactions = ["read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create", "search-type"];
    private static readonly SearchParamType[] Indexed =
        [SearchParamType.String, SearchParamType.Token, SearchParamType.Date, SearchParamType.Number, SearchParamType.Quantity, SearchParamType.Reference, SearchParamType.Uri];

    public static void Map(IEndpointRouteBuilder app) =>
        app.MapGet("/metadata", (HttpContext ctx, SearchParameterRegistry registry) =>
            FhirFormats.WriteNodeAsync(ctx, 200, Build(FhirHeaders.BaseUrl(ctx.Request), registry)))
            .WithTags("Metadata").WithSummary("CapabilityStatement");

    public static ElementNode Build(string baseUrl, SearchParameterRegistry registry)
    {
        var cs = ElementNode.CreateResource("CapabilityStatement");
        cs.Add("status", "active");
        cs.Add("date", DateTime.UtcNow.ToString("yyyy-MM-dd"));
        cs.Add("kind", "instance");
        var software = cs.Add("software");
        software.Add("name", "FhirArchive");
        var impl = cs.Add("implementation");
        impl.Add("description", "FhirArchive 居民电子健康档案 FHIR R4 server");
        impl.Add("url", baseUrl);
        cs.Add("fhirVersion", "4.0.1");
        foreach (var f in new[] { FhirFormats.JsonType, FhirFormats.XmlType, "json", "xml" }) cs.Add("format", f);
        var rest = cs.Add("rest");
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
            if (type == "AuditEvent")
            {
                AddAuditTrail(r, registry);
                continue;
            }
            foreach (var i in Interactions) r.Add("interaction").Add("code", i);
            r.Add("versioning", "versioned-update");
            r.Add("readHistory", "true");
            r.Add("updateCreate", "true");
            r.Add("conditionalCreate", "true");
            r.Add("conditionalRead", "modified-since");
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
            AddTypeOperations(r, type);
        }
        foreach (var i in new[] { "transaction", "batch", "search-system", "history-system" }) rest.Add("interaction").Add("code", i);
        foreach (var (name, definition) in Operations)
        {
            var op = rest.Add("operation");
            op.Add("name", name);
            op.Add("definition", definition);
        }
        return cs;
    }

    /// <summary>The operations the server implements (Features/Validation, Features/Terminology).</summary>
    private static readonly (string Name, string Definition)[] Operations =
    [
        ("validate", "http://hl7.org/fhir/OperationDefinition/Resource-validate"),
        ("lookup", "http://hl7.org/fhir/OperationDefinition/CodeSystem-lookup"),
        ("subsumes", "http://hl7.org/fhir/OperationDefinition/CodeSystem-subsumes"),
        ("validate-code", "http://hl7.org/fhir/OperationDefinition/ValueSet-validate-code"),
        ("expand", "http://hl7.org/fhir/OperationDefinition/ValueSet-expand"),
        ("translate", "http://hl7.org/fhir/OperationDefinition/ConceptMap-translate"),
    ];

    /// <summary>Operations on one resource type.</summary>
    private static readonly (string Type, string Name, string Definition)[] TypeOperations =
    [
        ("Patient", "everything", Features.Everything.EverythingEndpoint.Definition),
        ("Patient", "access-log", "http://fhirarchive.cn/fhir/OperationDefinition/Patient-access-log"),
        ("AuditEvent", "verify", "http://fhirarchive.cn/fhir/OperationDefinition/AuditEvent-verify"),
        ("Patient", "request-access", "http://fhirarchive.cn/fhir/OperationDefinition/Patient-request-access"),
        ("Patient", "grant-access", "http://fhirarchive.cn/fhir/OperationDefinition/Patient-grant-access"),
        ("Patient", "break-glass", "http://fhirarchive.cn/fhir/OperationDefinition/Patient-break-glass"),
        ("Patient", "open-record", "http://fhirarchive.cn/fhir/OperationDefinition/Patient-open-record"),
        ("Consent", "revoke", "http://fhirarchive.cn/fhir/OperationDefinition/Consent-revoke"),
        ("Patient", "match", "http://hl7.org/fhir/OperationDefinition/Patient-match"),
        ("Patient", "merge", "http://fhirarchive.cn/fhir/OperationDefinition/Patient-merge"),
        ("Patient", "close", "http://fhirarchive.cn/fhir/OperationDefinition/Patient-close"),
        ("Patient", "reactivate", "http://fhirarchive.cn/fhir/OperationDefinition/Patient-reactivate"),
        ("Patient", "purge", "http://fhirarchive.cn/fhir/OperationDefinition/Patient-purge"),
        ("Task", "approve", "http://fhirarchive.cn/fhir/OperationDefinition/Task-approve"),
        ("Task", "reject", "http://fhirarchive.cn/fhir/OperationDefinition/Task-reject"),
    ];

    /// <summary>The audit trail is the server's own and append-only: read and search (auditors), and $verify.</summary>
    private static void AddAuditTrail(ElementNode r, SearchParameterRegistry registry)
    {
        r.Add("documentation", "The server's append-only, SM3-chained audit trail (IHE BALP). Read and searched by auditors; never written by clients.");
        foreach (var i in new[] { "read", "search-type" }) r.Add("interaction").Add("code", i);
        foreach (var p in registry.For("AuditEvent").Where(p => Audit.AuditEndpoints.SearchParams.Contains(p.Code)).OrderBy(p => p.Code, StringComparer.Ordinal))
            AddParam(r, p.Code, p.Url, p.Type.ToString().ToLowerInvariant());
        AddTypeOperations(r, "AuditEvent");
    }

    private static void AddTypeOperations(ElementNode r, string type)
    {
        foreach (var (_, name, definition) in TypeOperations.Where(o => o.Type == type))
        {
            var op = r.Add("operation");
            op.Add("name", name);
            op.Add("definition", definition);
        }
    }

    /// <summary>Indexed types, and composites whose components the definitions name.</summary>
    private static bool Searchable(SearchParamDef p) =>
        p.Code is not ("_id" or "_lastUpdated") && (Indexed.Contains(p.Type) || p is { Type: SearchParamType.Composite, Components.Count: > 0 });

    private static void AddParam(ElementNode r, string name, string url, string type)
    {
        var sp = r.Add("searchParam");
        sp.Add("name", name);
        sp.Add("definition", url);
        sp.Add("type", type);
    }
}

using FhirArchive.Auth.Endpoints;
using FhirArchive.Fhir.Definitions;
using Microsoft.AspNetCore.Authorization;

namespace FhirArchive.Rest.Access;

/// <summary>
/// Endpoint metadata: the FHIR interaction an endpoint serves (BALP's subtype code and action), and the resource type
/// and operation when its route names them literally. The type and id otherwise come from the route values
/// {type} and {id}. <see cref="RequestRoute.InteractionOf"/> reads it.
/// </summary>
public sealed record InteractionKind(string Code, string Action, string? Type = null, string? OperationName = null)
{
    public static readonly InteractionKind Read = new("read", "R");
    public static readonly InteractionKind VRead = new("vread", "R");
    public static readonly InteractionKind Create = new("create", "C");
    public static readonly InteractionKind Update = new("update", "U");
    public static readonly InteractionKind Patch = new("patch", "U");
    public static readonly InteractionKind Delete = new("delete", "D");
    public static readonly InteractionKind SearchType = new("search-type", "E");
    public static readonly InteractionKind SearchSystem = new("search-system", "E");
    public static readonly InteractionKind HistoryInstance = new("history-instance", "R");
    public static readonly InteractionKind HistoryType = new("history-type", "R");
    public static readonly InteractionKind HistorySystem = new("history-system", "R");
    public static readonly InteractionKind Batch = new("batch", "E");
    public static readonly InteractionKind Capabilities = new("capabilities", "R");
    /// <summary>What no FHIR interaction is (a method a URL does not take): the endpoint only refuses it.</summary>
    public static readonly InteractionKind Other = new("other", "E");

    /// <summary>The interaction on a type the route names literally (/AuditEvent/{id}).</summary>
    public InteractionKind On(string type) => this with { Type = type };

    /// <summary>An operation ("$everything"), on the route's {type} unless <paramref name="type"/> names it.</summary>
    public static InteractionKind Operation(string name, string? type = null) => new("operation", "E", type, name);

    public Interaction Describe(RouteValueDictionary values)
    {
        if (Code == "other") return new(Code, Action, null, null, null);
        // A compartment search (Patient/1/Observation) searches its {type}: the compartment's id is not the target's.
        var id = Code == "search-type" ? null : values["id"] as string;
        return new(Code, Action, Type ?? values["type"] as string, id, OperationName);
    }
}

/// <summary>Endpoint metadata: requests to the endpoint are not audited (health probes, API docs, discovery).</summary>
public sealed class NotAudited;

/// <summary>
/// What the router matched for a request, as the middlewares read it: the FHIR interaction (named once per request,
/// for the authorisation and the audit alike), whether it is open (no token: the endpoint allows anonymous callers)
/// and whether it is audited. Routing runs before these middlewares (UseRouting placed explicitly).
/// A request no endpoint describes — none matched (404), the method is not taken (405), or a generic FHIR route took
/// a path that names no resource type or a reserved word where an id goes (/favicon.ico, /swagger/x, /Patient/_search
/// with PUT) — is judged from its path, by the rules below, exactly as batch entries are.
/// </summary>
public static class RequestRoute
{
    public static TBuilder WithInteraction<TBuilder>(this TBuilder builder, InteractionKind kind) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(kind);

    public static TBuilder NotAudited<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new NotAudited());

    /// <summary>The request's interaction: from its endpoint's <see cref="InteractionKind"/>, else from its path.</summary>
    public static Interaction InteractionOf(HttpContext http)
    {
        if (http.Features.Get<Interaction>() is { } known) return known;
        var kind = Describing(http)?.Metadata.GetMetadata<InteractionKind>();
        var interaction = kind?.Describe(http.Request.RouteValues) ?? Interaction.Classify(http.Request.Method, http.Request.Path.Value ?? "/");
        http.Features.Set(interaction);
        return interaction;
    }

    /// <summary>Whether the request needs no token.</summary>
    public static bool IsOpen(HttpContext http) =>
        Describing(http) is { } endpoint ? endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null : IsOpenPath(http.Request);

    public static bool IsAudited(HttpContext http) =>
        Describing(http) is { } endpoint ? endpoint.Metadata.GetMetadata<NotAudited>() is null : IsAuditedPath(http.Request.Path);

    /// <summary>The matched endpoint, when it says what the request is; null when the path must say it.</summary>
    private static Endpoint? Describing(HttpContext http)
    {
        var endpoint = http.GetEndpoint();
        if (endpoint is null) return null;
        var metadata = endpoint.Metadata;
        if (metadata.GetMetadata<InteractionKind>() is null)
            return metadata.GetMetadata<IAllowAnonymous>() is not null || metadata.GetMetadata<NotAudited>() is not null ? endpoint : null;
        var values = http.Request.RouteValues;
        return IsTypeOrAbsent(values, "type") && IsTypeOrAbsent(values, "compartment") && IsIdOrAbsent(values, "id") && IsIdOrAbsent(values, "vid")
            ? endpoint : null;
    }

    private static bool IsTypeOrAbsent(RouteValueDictionary values, string key) =>
        values[key] is not string s || FhirDefinitions.R4.IsResourceType(s);

    /// <summary>An id (or version id) never starts with '$' (an operation) or '_' (_history, _search).</summary>
    private static bool IsIdOrAbsent(RouteValueDictionary values, string key) =>
        values[key] is not string s || (s.Length > 0 && s[0] is not ('$' or '_'));

    /// <summary>Open without an endpoint to say so: the CapabilityStatement, SMART discovery, the auth endpoints, /health, Swagger UI.</summary>
    private static bool IsOpenPath(HttpRequest r)
    {
        var p = r.Path;
        return (p.Equals("/metadata", StringComparison.Ordinal) && (HttpMethods.IsGet(r.Method) || HttpMethods.IsHead(r.Method)))
            || p.Equals(AuthEndpoints.Discovery, StringComparison.Ordinal)
            || p.StartsWithSegments(AuthEndpoints.PathPrefix, StringComparison.Ordinal)
            || p.Equals("/health", StringComparison.Ordinal)
            || p.StartsWithSegments("/swagger", StringComparison.Ordinal);
    }

    /// <summary>Health probes, API docs and static login assets are not FHIR interactions.</summary>
    private static bool IsAuditedPath(PathString path) =>
        !(path.StartsWithSegments("/health") || path.StartsWithSegments("/swagger") || path.StartsWithSegments("/favicon.ico") ||
          path.StartsWithSegments("/.well-known"));
}

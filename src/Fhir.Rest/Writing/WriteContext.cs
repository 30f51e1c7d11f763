using FhirArchive.Fhir.Model;
using FhirArchive.Storage;

namespace FhirArchive.Rest.Writing;

/// <summary>What the client asked for (an update that finds nothing still is an update: see <see cref="WriteContext.CreatesResource"/>).</summary>
public enum WriteInteraction { Create, Update, Patch, Delete }

/// <summary>
/// How a write was asked for: the interaction, whether conditional, the write whose interceptor asked for it (a
/// companion), and the procedure it belongs to. <paramref name="Procedure"/> is a name a module defines for its own
/// procedures (say, a record's status change) and its interceptors recognise; the engine only passes it on, to the
/// write's companions too.
/// </summary>
public sealed record WriteIntent(WriteInteraction Interaction, bool Conditional = false, WriteContext? Parent = null, string? Procedure = null)
{
    public static readonly WriteIntent Create = new(WriteInteraction.Create);
    public static readonly WriteIntent Update = new(WriteInteraction.Update);
    public static readonly WriteIntent Delete = new(WriteInteraction.Delete);

    /// <summary>This intent, for a write of <paramref name="procedure"/>.</summary>
    public WriteIntent For(string procedure) => this with { Procedure = procedure };
}

/// <summary>One write, as the <see cref="IWriteInterceptor"/>s see it: the same object for the before and the after call.</summary>
public sealed class WriteContext
{
    private Queue<ElementNode>? _companions;

    internal WriteContext(IWriteSession session, HttpContext? http, WriteIntent intent,
        string type, string id, int version, ElementNode? resource, StoredResource? current, CancellationToken ct)
    {
        (Session, Http, Intent, ResourceType, Id, Version, Resource, Current, CancellationToken) =
            (session, http, intent, type, id, version, resource, current, ct);
    }

    /// <summary>The request (the caller, later its authenticated principal); null for the server's own writes (sample data).</summary>
    public HttpContext? Http { get; }
    public WriteIntent Intent { get; }
    public WriteInteraction Interaction => Intent.Interaction;
    public bool Conditional => Intent.Conditional;
    /// <summary>Non-null for a companion write made by an interceptor of that write (to avoid endless chains).</summary>
    public WriteContext? Parent => Intent.Parent;
    public string ResourceType { get; }
    public string Id { get; }
    /// <summary>The version this write creates.</summary>
    public int Version { get; }

    /// <summary>
    /// The incoming resource (null for a delete); changes made before the write are validated, indexed and stored.
    /// id, meta.versionId and meta.lastUpdated are the server's and are set after the interceptors ran.
    /// </summary>
    public ElementNode? Resource { get; }

    /// <summary>The current stored version (possibly a deletion); null if the resource never existed.</summary>
    public StoredResource? Current { get; }

    /// <summary>True when the write brings the resource (back) into existence: create, update-as-create, update of a deleted one.</summary>
    public bool CreatesResource => Interaction != WriteInteraction.Delete && (Current is null || Current.IsDeleted);

    /// <summary>The written version: set for <see cref="IWriteInterceptor.AfterWriteAsync"/>.</summary>
    public StoredResource? Stored { get; internal set; }

    /// <summary>The write session (one transaction): look up resources here to see this session's earlier writes.</summary>
    public IWriteSession Session { get; }
    public CancellationToken CancellationToken { get; }

    /// <summary>Free slot for an interceptor's state between its before and after call.</summary>
    public IDictionary<string, object?> Items { get; } = new Dictionary<string, object?>();

    /// <summary>
    /// Asks for a companion resource (e.g. a Provenance of this version) to be created in the same session. The pipeline
    /// writes it as soon as the asking interceptor's call returns (after the store, when asked before it), through the
    /// same stages, as a create whose <see cref="Parent"/> is this write and whose procedure is this write's.
    /// </summary>
    public void AddCompanion(ElementNode resource) => (_companions ??= new()).Enqueue(resource);

    /// <summary>
    /// Accepts the write with a warning the answer must carry (an OperationOutcome issue of severity warning; see
    /// <see cref="WriteWarnings"/>). Nothing for the server's own writes, which no client reads.
    /// </summary>
    public void Warn(FhirArchive.Fhir.Outcomes.FhirIssue issue) => WriteWarnings.Add(Http, ResourceType, Id, issue);

    internal ElementNode? NextCompanion() => _companions is { Count: > 0 } q ? q.Dequeue() : null;
}

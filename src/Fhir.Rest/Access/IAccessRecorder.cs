using FhirArchive.Storage;

namespace FhirArchive.Rest.Access;

/// <summary>
/// A request feature that is told of every resource the request shows or writes (the audit sets one per request).
/// <see cref="ReadGuard"/> reports what passed the access decision, so the audit names exactly what was disclosed.
/// </summary>
public interface IAccessRecorder
{
    void Shown(StoredResource resource);
    void Written(StoredResource resource);
    /// <summary>An access decision on a resource about to be shown (permitted) or hidden, with its reason.</summary>
    void Decided(StoredResource resource, bool permitted, string reason) { }
    /// <summary>A shown resource is some patients' data through another resource (a Binary through its securityContext): name them too.</summary>
    void About(StoredResource resource, IReadOnlyCollection<string> patients) { }
}

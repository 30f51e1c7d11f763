using FhirArchive.Storage;

namespace FhirArchive.Server.Access;

/// <summary>
/// A request feature that is told of every resource the request shows or writes (the audit sets one per request).
/// <see cref="ReadGuard"/> reports what passed the access decision, so the audit names exactly what was disclosed.
/// </summary>
public interface IAccessRecorder
{
    void Shown(StoredResource resource);
    void Written(StoredResource resource);
    /// <summary>A resource the access decision hid from the caller, with the decision's reason.</summary>
    void Denied(StoredResource resource, string reason) { }
}

using FhirArchive.Archive.Consent;

namespace FhirArchive.Archive.Grants;

/// <summary>
/// Marks the writes the authorisation operations make ($grant-access, $break-glass, $open-record, $revoke): the
/// <see cref="ConsentGuardInterceptor"/> lets exactly these through. Flows with the async call, like RecordWriteMode.
/// </summary>
public static class GrantWriteMode
{
    private static readonly AsyncLocal<bool> Current = new();

    public static bool Active => Current.Value;

    public static async Task<T> RunAsync<T>(Func<Task<T>> write)
    {
        var previous = Current.Value;
        Current.Value = true;
        try { return await write(); }
        finally { Current.Value = previous; }
    }
}

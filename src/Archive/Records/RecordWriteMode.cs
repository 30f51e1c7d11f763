namespace FhirArchive.Archive.Records;

/// <summary>The record procedures that may write what ordinary writes may not (status changes, corrections, purges).</summary>
public enum RecordProcedure { Lifecycle, Correction, Purge, Merge }

/// <summary>
/// Marks the writes made by a record procedure ($close, an approved correction, a purge): the interceptors let these
/// through. Flows with the async call, so it covers exactly the writes the procedure awaits.
/// </summary>
public static class RecordWriteMode
{
    private static readonly AsyncLocal<RecordProcedure?> Current = new();

    public static RecordProcedure? Active => Current.Value;

    public static async Task<T> RunAsync<T>(RecordProcedure procedure, Func<Task<T>> write)
    {
        var previous = Current.Value;
        Current.Value = procedure;
        try { return await write(); }
        finally { Current.Value = previous; }
    }
}

namespace FhirArchive.Archive.Records;

/// <summary>
/// The record procedures that may write what ordinary writes may not (status changes, corrections, purges, merges):
/// each passes its name as the <see cref="Rest.Writing.WriteIntent.Procedure"/> of its writes, and the record rules
/// let those through.
/// </summary>
public static class RecordProcedure
{
    public const string Lifecycle = "record-lifecycle";
    public const string Correction = "record-correction";
    public const string Purge = "record-purge";
    public const string Merge = "record-merge";
    /// <summary>A record moving to another responsible institution (Transfer module): the holder, contract and status change together.</summary>
    public const string Transfer = "record-transfer";

    /// <summary>Whether a write's procedure is one of these (not another module's, nor none).</summary>
    public static bool Includes(string? procedure) => procedure is Lifecycle or Correction or Purge or Merge or Transfer;
}

/// <summary>
/// Another module's procedure that may write a saved service record of one type once more (IHE MHD: a replaced
/// document's DocumentReference becomes superseded). The module registers it as a service; the module's own rule
/// holds those writes to the change it allows. <see cref="ServiceRecordInterceptor"/> knows no module.
/// </summary>
public sealed record SavedRecordAmendment(string Procedure, string ResourceType)
{
    /// <summary>Whether a write of the type under the procedure is one of the declared amendments.</summary>
    public static bool MayAmendSaved(IEnumerable<SavedRecordAmendment> declared, string? procedure, string resourceType) =>
        procedure is not null && declared.Any(a => a.Procedure == procedure && a.ResourceType == resourceType);
}

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

    /// <summary>A document replaced by a newer one (IHE MHD ITI-65 relatesTo replaces): its DocumentReference's status only becomes superseded.</summary>
    public const string Supersede = "document-supersede";

    /// <summary>Whether a write's procedure is one of these (not another module's, nor none).</summary>
    public static bool Includes(string? procedure) => procedure is Lifecycle or Correction or Purge or Merge or Transfer;
}

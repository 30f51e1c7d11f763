namespace FhirArchive.Rest.Access;

/// <summary>
/// How far a page filled with visible resources looks (configuration "Consent", where operators set them with the
/// rules that make resources hidden).
/// </summary>
public sealed class PagingOptions
{
    /// <summary>Searches that must decide each match count visible matches up to this many; above it the total is left out.</summary>
    public int MaxCountedTotal { get; set; } = 5000;

    /// <summary>
    /// A page of search or history decides at most this many matches while filling itself with visible ones; at the
    /// bound it ends early (with a note and a next link that continues after them).
    /// </summary>
    public int MaxScannedPerPage { get; set; } = 2000;
}

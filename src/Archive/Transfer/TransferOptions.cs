namespace FhirArchive.Archive.Transfer;

/// <summary>Configuration "Transfer": the time limits of record transfers (Chongqing rules, annex 1 四(三)).</summary>
public sealed class TransferOptions
{
    /// <summary>The current holder answers within this many calendar days (四(三)1: 7); unanswered requests are then escalated.</summary>
    public int ResponseDays { get; set; } = 7;

    /// <summary>No further transfer this many days after a cross-district one (四(三)6: 180 days).</summary>
    public int CrossDistrictProtectionDays { get; set; } = 180;

    /// <summary>Within-district protection, by the county's 6-digit division code (each district decides; default none).</summary>
    public Dictionary<string, int> DistrictProtectionDays { get; set; } = [];

    /// <summary>Run the escalation job in the background (tests call it directly).</summary>
    public bool EscalationJob { get; set; } = true;
}

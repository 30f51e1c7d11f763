namespace FhirArchive.Archive.Records;

/// <summary>
/// Configuration "Records:RecordNumber": the health-record number's layout. The default is the national 17 digits
/// (county 6 + township 3 from the institution's 9-digit division code, village 3, serial 5); provinces that differ
/// change the lengths.
/// </summary>
public sealed class RecordNumberOptions
{
    /// <summary>Digits taken from the responsible institution's division code (county + township).</summary>
    public int DivisionDigits { get; set; } = 9;
    /// <summary>Village or residents' committee digits: from a longer division code, else <see cref="DefaultVillage"/>.</summary>
    public int VillageDigits { get; set; } = 3;
    /// <summary>The village segment when the institution's division code stops at the township (901-999: "other").</summary>
    public string DefaultVillage { get; set; } = "901";
    public int SerialDigits { get; set; } = 5;
}

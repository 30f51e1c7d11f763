namespace FhirArchive.Archive.OffSite;

/// <summary>Configuration "OffSite": the off-site service (异地服务, annex 1 五).</summary>
public sealed class OffSiteOptions
{
    /// <summary>The health tags that make a resident one of the key populations served off-site (五(一)).</summary>
    public string[] KeyPopulationTags { get; set; } = ["elderly", "pregnant", "child-0-6", "hypertension", "diabetes-t2"];

    /// <summary>Free basic public-health services given once a calendar year (public-health-service codes, Encounter.type): a second is warned of (五(四)).</summary>
    public string[] AnnualFreeServices { get; set; } = ["elderly-health-check", "elderly-tcm", "chronic-health-check"];

    /// <summary>The service records another institution writes that are pushed to the record's holder (a Communication each).</summary>
    public string[] PushedTypes { get; set; } = ["Encounter", "Observation", "QuestionnaireResponse"];
}

namespace FhirArchive.Profiles.Identifiers;

/// <summary>
/// The resident health card number (居民健康卡号), which is also the electronic health card's id (电子健康卡, 国卫办规划发
/// 〔2018〕34号: one card, one code across institutions). An identifier of the Patient (NamingSystem health-card); a
/// record found by it is the same resident at every institution, whatever their own patient ids.
/// </summary>
public static class HealthCardNumber
{
    public const string OidSystem = "urn:oid:2.16.156.10011.1.19";
}

using FhirArchive.Fhir.Model;

namespace FhirArchive.Profiles;

/// <summary>
/// The identifier systems of the record, as NamingSystem resources: the national OID is preferred, and the
/// HL7 China URIs are listed beside it so that a search on either finds the same identifier system.
/// </summary>
public static class NamingSystems
{
    public sealed record Entry(string Id, string Name, string Title, string Oid, string? Hl7China = null, string? Uri = null);

    public static readonly IReadOnlyList<Entry> All =
    [
        new("resident-id-card", "ResidentIdCard", "公民身份号码 / Resident identity card number (GB 11643)", "2.16.156.10011.1.3", Hl7China: "2.16.840.1.113883.2.23.1.19.1"),
        new("health-record-number", "HealthRecordNumber", "居民健康档案编号 / Health record number", "2.16.156.10011.1.2"),
        new("health-card", "HealthCard", "居民健康卡号（电子健康卡）/ Resident health card number (also the electronic health card id)", "2.16.156.10011.1.19"),
        new("social-security", "SocialSecurityCard", "社会保障卡号 / Social security card number", "2.16.840.1.113883.2.23.1.19.2"),
        new("institution", "HealthInstitution", "医疗卫生机构标识 / Health institution identifier", "2.16.156.10011.1.5"),
        new("health-professional", "HealthProfessional", "医疗卫生人员标识 / Health professional identifier", "2.16.156.10011.1.4"),
        new("birth-certificate", "BirthCertificate", "出生医学证明编号 / Birth medical certificate number", "", Uri: Identifiers.BirthCertificateNumber.System),
    ];

    /// <summary>Every system URI that names the same identifier system as <paramref name="system"/> (itself included).</summary>
    public static IReadOnlyList<string> Aliases(string system)
    {
        foreach (var e in All)
        {
            var uris = UrisOf(e);
            if (uris.Contains(system)) return uris;
        }
        return [system];
    }

    private static List<string> UrisOf(Entry e)
    {
        var uris = new List<string>();
        if (e.Oid.Length > 0) uris.Add("urn:oid:" + e.Oid);
        if (e.Hl7China is not null) uris.Add("urn:oid:" + e.Hl7China);
        if (e.Uri is not null) uris.Add(e.Uri);
        return uris;
    }

    public static ElementNode ToResource(Entry e)
    {
        var ns = ElementNode.CreateResource("NamingSystem");
        ns.Add("id", e.Id);
        ns.Add("name", e.Name);
        ns.Add("status", "active");
        ns.Add("kind", "identifier");
        ns.Add("date", "2026-11-23");
        ns.Add("description", e.Title);
        var preferred = true;
        foreach (var uri in UrisOf(e))
        {
            var u = ns.Add("uniqueId");
            u.Add("type", uri.StartsWith("urn:oid:", StringComparison.Ordinal) ? "oid" : "uri");
            u.Add("value", uri.StartsWith("urn:oid:", StringComparison.Ordinal) ? uri[8..] : uri);
            u.Add("preferred", preferred ? "true" : "false");
            if (uri.Contains("2.16.840.1.113883.2.23")) u.Add("comment", "HL7 China FHIR IG");
            preferred = false;
        }
        return ns;
    }
}

using FhirArchive.Fhir.Model;
using FhirArchive.Profiles;
using FhirArchive.Profiles.Identifiers;

namespace FhirArchive.Archive.Records;

/// <summary>
/// The keys that identify the person of a record (Chongqing rules 二(四)): the resident ID card number; for a newborn
/// the birth medical certificate number; for an undocumented infant the mother's ID card number with the child's
/// name and birth order (twins are told apart by name). A record claims every key it carries.
/// </summary>
public static class IdentityKeys
{
    /// <summary>The identifier system for the mother's ID card number on an undocumented infant's record.</summary>
    public const string MotherIdCardSystem = "http://fhirarchive.cn/fhir/sid/mother-id-card";

    private static readonly IReadOnlyList<string> IdCardSystems = NamingSystems.Aliases(ResidentIdCard.OidSystem);

    /// <summary>Whether identifiers of this system are ID card numbers (the resident's, or the mother's on an infant's record).</summary>
    public static bool IsIdCardSystem(string? system) => system is not null && (IdCardSystems.Contains(system) || system == MotherIdCardSystem);

    /// <summary>Whether identifiers of this system are identity keys (the ID card, the birth certificate, the mother's ID card).</summary>
    public static bool IsKeySystem(string system) =>
        IdCardSystems.Contains(system) || system is BirthCertificateNumber.System or MotherIdCardSystem;

    public static List<string> Of(ElementNode patient)
    {
        var keys = new List<string>();
        string? mother = null;
        foreach (var identifier in patient.ChildrenNamed("identifier"))
        {
            var system = identifier.Child("system")?.Value;
            var value = identifier.Child("value")?.Value?.Trim().ToUpperInvariant();
            if (system is null || string.IsNullOrEmpty(value)) continue;
            if (IdCardSystems.Contains(system)) keys.Add("id-card|" + value);
            else if (system == BirthCertificateNumber.System) keys.Add("birth-certificate|" + value);
            else if (system == MotherIdCardSystem) mother = value;
        }
        // The mother's number identifies the infant only while it has no document of its own.
        if (keys.Count == 0 && mother is not null) keys.Add($"mother|{mother}|{NameOf(patient)}|{BirthOrder(patient)}");
        return keys.Distinct().ToList();
    }

    private static string NameOf(ElementNode patient)
    {
        var name = patient.ChildrenNamed("name").FirstOrDefault();
        if (name is null) return "";
        return name.Child("text")?.Value ?? (name.Child("family")?.Value + string.Concat(name.ChildrenNamed("given").Select(g => g.Value)));
    }

    private static string BirthOrder(ElementNode patient) =>
        patient.Child("multipleBirth") is { Type: "integer", Value: { } n } ? n : "1";
}

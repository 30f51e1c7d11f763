using FhirArchive.Terminology;
using FhirArchive.Terminology.Sources;

namespace FhirArchive.Profiles.Identifiers;

/// <summary>The GB/T 2260 division look-ups answered by the terminology service.</summary>
public sealed class TerminologyDivisionDirectory(TerminologyService terminology) : IDivisionDirectory
{
    public bool IsCountyEverIssued(string code6) =>
        terminology.Lookup(CnTerminology.AdminDivision, code6)?.Concept.Properties.GetValueOrDefault("county-level") == "true";

    public bool IsTownship(string code9) =>
        terminology.Lookup(CnTerminology.AdminDivision, code9) is { Concept.Inactive: false } t && t.Concept.Properties["level"] == "township";
}

using FhirArchive.Profiles;

namespace FhirArchive.Archive.Records;

/// <summary>Configuration "Records": which resources the resident-record rules govern, and their limits.</summary>
public sealed class RecordOptions
{
    /// <summary>Off: none of the record rules run (plain FHIR server).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>A Patient is a record when it claims this profile, or when Validation:RecordProfiles:Patient names it.</summary>
    public string PatientProfile { get; set; } = CnProfiles.ResidentPatient;

    /// <summary>The service-record types: clinical resources of a record (by their subject/patient), sealed and immutable with it.</summary>
    public string[] ServiceRecordTypes { get; set; } =
    [
        "Encounter", "Observation", "Condition", "Procedure", "Immunization", "MedicationStatement", "MedicationRequest",
        "DiagnosticReport", "AllergyIntolerance", "CarePlan", "QuestionnaireResponse", "ServiceRequest", "DocumentReference",
    ];

    /// <summary>Without a service record for this long, an active record is marked lost to follow-up (Chongqing rules 六(一)1: one year).</summary>
    public int LostToFollowUpDays { get; set; } = 365;

    /// <summary>Sealed records are kept at least this long before an administrator may purge them (六(二)4: 15 years).</summary>
    public int RetentionYears { get; set; } = 15;

    /// <summary>Run the daily lost-to-follow-up job in the background (tests call it directly).</summary>
    public bool LostToFollowUpJob { get; set; } = true;

    public RecordNumberOptions RecordNumber { get; set; } = new();

    /// <summary>Basic public-health service records: entered more than <see cref="LateEntryDays"/> after the service, they are tagged late.</summary>
    public string[] PublicHealthTypes { get; set; } = ["Encounter", "Observation", "Immunization", "Procedure", "QuestionnaireResponse", "CarePlan"];

    /// <summary>Chongqing rules 三(二): within five days of the service.</summary>
    public int LateEntryDays { get; set; } = 5;
}

using System.Collections.Frozen;
using FhirArchive.Rest.Search;

namespace FhirArchive.Rest.Access;

/// <summary>
/// Which resources are a resident's record data, and through which elements, in one place: the official Patient
/// compartment, plus the types that carry or point at record data without being in it (IHE PCF / DS4P: a resource is
/// decided by the records it is about). A Provenance of a hidden Condition, a Task correcting a hidden Observation, a
/// Communication about one, an AuditEvent naming one are themselves hidden: whatever they point at must be visible.
/// </summary>
public static class RecordData
{
    /// <summary>Top-level elements whose references point at record data, for types the compartment does not (fully) cover.</summary>
    private static readonly FrozenDictionary<string, string[]> Pointing = new Dictionary<string, string[]>
    {
        ["Provenance"] = ["target", "entity", "agent"],
        ["Task"] = ["for", "focus", "input", "output", "basedOn", "partOf", "encounter", "requester", "owner"],
        ["Communication"] = ["about", "payload", "basedOn", "partOf", "inResponseTo", "encounter"],
        ["CommunicationRequest"] = ["about", "payload", "basedOn", "replaces", "encounter"],
        ["List"] = ["entry", "encounter"],
        ["DocumentReference"] = ["context", "relatesTo"],
        // R4: "access to this Binary is granted according to access to the referenced resource" (a document's content).
        ["Binary"] = ["securityContext"],
        ["DocumentManifest"] = ["content", "related"],
        ["Composition"] = ["section", "encounter", "relatesTo"],
        // A stored Bundle (a persisted document, a collection) holds record data itself: it is as closed as what it holds.
        ["Bundle"] = ["entry"],
        ["AuditEvent"] = ["entity"],
        ["MessageHeader"] = ["focus"],
        ["DetectedIssue"] = ["implicated"],
        ["Linkage"] = ["item"],
    }.ToFrozenDictionary();

    /// <summary>
    /// Elements of ordinary record data that cite a diagnosis or finding by reference (a visit's reason, a plan's
    /// problem): the resource is shown, but a citation of something the caller may not see is cut out of it and the
    /// resource labelled REDACTED, so its id is not shown either.
    /// </summary>
    private static readonly FrozenDictionary<string, string[]> Citing = new Dictionary<string, string[]>
    {
        ["Encounter"] = ["reasonReference", "diagnosis"],
        ["EpisodeOfCare"] = ["diagnosis"],
        ["Procedure"] = ["reasonReference", "complicationDetail"],
        ["MedicationRequest"] = ["reasonReference"],
        ["MedicationStatement"] = ["reasonReference"],
        ["MedicationAdministration"] = ["reasonReference"],
        ["ServiceRequest"] = ["reasonReference"],
        ["DeviceRequest"] = ["reasonReference"],
        ["Immunization"] = ["reasonReference"],
        ["CarePlan"] = ["addresses"],
        ["Goal"] = ["addresses"],
        ["Condition"] = ["evidence"],
        ["ClinicalImpression"] = ["problem", "finding"],
        ["RiskAssessment"] = ["basis", "reasonReference"],
    }.ToFrozenDictionary();

    /// <summary>The elements of a type whose references to hidden record data are cut out (see <see cref="Citing"/>).</summary>
    public static IReadOnlyList<string> CitingElements(string type) => Citing.GetValueOrDefault(type, []);

    /// <summary>Whether resources of the type point at or cite record data (then what they refer to is decided too).</summary>
    public static bool Refers(string type) => Pointing.ContainsKey(type) || Citing.ContainsKey(type);

    /// <summary>Whether resources of the type can be some resident's record data (then the consent rules decide them).</summary>
    public static bool Is(string type) => Compartments.IsPatientData(type) || Pointing.ContainsKey(type);

    /// <summary>The elements whose references a resource of the type is decided by besides its compartment links; empty for most types.</summary>
    public static IReadOnlyList<string> PointingElements(string type) => Pointing.GetValueOrDefault(type, []);
}

using FhirArchive.Rest.Access;

namespace FhirArchive.Archive.Consent;

/// <summary>
/// The vocabulary the consent rules speak: which Consents open a record to whom, how they were verified, and the
/// security labels the server puts on sensitive data. The access decision (ConsentDecision) reads exactly these.
/// </summary>
public static class ConsentTerms
{
    public const string Canonical = "http://fhirarchive.cn/fhir";

    /// <summary>Consent.category codes of the record-opening Consents (local code system).</summary>
    public const string CategorySystem = Canonical + "/CodeSystem/consent-category";
    /// <summary>The resident (or guardian) authorises another institution's clinician to read the record (SMS code or health card).</summary>
    public const string RecordAccess = "record-access";
    /// <summary>The signed family doctor opens the record to its resident (Qinghai plan: opened only after that authorisation).</summary>
    public const string ResidentOpening = "resident-opening";
    /// <summary>A statutory guardian applies to open a minor's record to the minor and/or the guardian.</summary>
    public const string MinorOpening = "minor-opening";
    /// <summary>The record opened to a voluntary guardian: joint application, or court judgements approved by the institution.</summary>
    public const string VoluntaryGuardianOpening = "voluntary-guardian-opening";
    /// <summary>Emergency access without authorisation, time-limited, audited and notified.</summary>
    public const string BreakGlass = "break-glass";

    /// <summary>How a Consent was verified: extension on Consent.verification (valueCoding from this system).</summary>
    public const string VerificationMethodExtension = Canonical + "/StructureDefinition/cn-consent-verification-method";
    public const string VerificationMethodSystem = Canonical + "/CodeSystem/consent-verification-method";
    public const string SmsCode = "sms-code";
    public const string HealthCard = "health-card";
    public const string FamilyDoctor = "family-doctor";
    public const string GuardianApplication = "guardian-application";
    public const string JointApplication = "joint-application";
    public const string CourtJudgement = "court-judgement";

    /// <summary>Consent.provision.actor.role: the grantee (information recipient).</summary>
    public const string ParticipationSystem = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";
    public const string Recipient = "IRCP";

    /// <summary>Consent.provision.purpose and the token's purpose_of_use (HL7 v3 ActReason).</summary>
    public const string PurposeSystem = RolePolicy.PurposeSystem;
    public const string Treatment = "TREAT";
    public const string Emergency = "ETREAT";

    // Security labels (meta.security), as the DS4P guide uses them.
    public const string ConfidentialitySystem = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";
    public const string ActCodeSystem = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
    public const string ObservationValueSystem = Redaction.System;
    /// <summary>Local sensitivity codes where HL7 has none (classified populations).</summary>
    public const string SensitivitySystem = FhirArchive.Terminology.Sources.CnTerminology.Sensitivity;
    /// <summary>v3-ActCode PSY: psychiatry information sensitivity (the severe-mental-disorder information).</summary>
    public const string Psychiatry = "PSY";
    /// <summary>v3-ActCode HIV: HIV/AIDS information sensitivity (special-disease information).</summary>
    public const string Hiv = "HIV";
    /// <summary>Local: a classified person (涉密人群); on the Patient, set by the responsible institution's record administrator.</summary>
    public const string Classified = "classified";
    /// <summary>v3-ObservationValue REDACTED: elements were removed from what the caller sees.</summary>
    public const string Redacted = Redaction.Code;

    /// <summary>Every piece of evidence of a Consent (valueReference DocumentReference), as R4's sourceReference holds only one.</summary>
    public const string EvidenceExtension = Canonical + "/StructureDefinition/cn-consent-evidence";

    /// <summary>cn-guardianship extension: valueCodeableConcept coding from this system says statutory or voluntary.</summary>
    public const string GuardianshipExtension = Canonical + "/StructureDefinition/cn-guardianship";
    public const string GuardianshipSystem = FhirArchive.Terminology.Sources.CnTerminology.GuardianshipType;
    public const string Statutory = "statutory";
    public const string Voluntary = "voluntary";
}

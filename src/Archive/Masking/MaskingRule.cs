using FhirArchive.Archive.Consent;
using FhirArchive.Rest.Access;

namespace FhirArchive.Archive.Masking;

/// <summary>How a caller sees the identifying values (identifiers, phones, addresses) of a record.</summary>
public enum MaskView
{
    /// <summary>Full values.</summary>
    Full,
    /// <summary>Identifiers, phones and address lines masked (<see cref="Masks"/>); the birth date in full (care needs the age).</summary>
    Masked,
    /// <summary>Masked, and the birth date told as its year: callers who do not give care (oversight, 监管与统计).</summary>
    MaskedBirthYear,
    /// <summary>Masked, and names too: the de-identified view (去标识化).</summary>
    Deidentified,
}

/// <summary>
/// Who sees a record's identifying values in full (the rule of masking by role, 脱敏, in one place). Sources: Chongqing
/// rules annex 1 §七(二) ("对健康档案信息实行分级分类管理…采取相应的加密、去标识化等安全技术措施；合理确定个人信息处理的操作权限"),
/// annex 2 §五 and §六 (who uses the record for what; researchers' reading is "去标识化、匿名化等脱敏处理"), and the
/// Guangdong plan §二(3) (institutions' authorised retrieval, 调阅, is protected by "信息脱敏、信息加密、防篡改").
/// <list type="bullet">
/// <item>Full: the server itself; the record's holder institution (its clinicians, family doctors, record administrators
/// and systems), who keep the record and serve the resident in person; the signed family doctor (annex 2 §五(二):
/// health management of the signed resident); the resident and the guardian (the consent rules have already decided
/// whether the guardian may see the record at all); record administrators of the holder (as its staff: corrections,
/// merges, transfers need the identifiers — another institution's record administrator sees the record masked); the
/// platform operator's own client (Consent:PlatformClients), the city platform that
/// holds every record (annex 1 六(二)4).</item>
/// <item>Masked: everyone else who may read the record — public-health officers (statistics and supervision within
/// their division, annex 2 §五(三): they need the data, not who), mental-health programme staff
/// outside the holder, auditors, an off-site institution serving the resident (annex 1 §五(三): basic information and a
/// follow-up summary), and a clinician of another institution reading under the resident's authorisation or break-glass:
/// the Guangdong plan names masking among the safeguards of exactly that retrieval, whose purpose is the history for
/// diagnosis and treatment (annex 2 §五(二)) — the patient is before them and registered in their own system.</item>
/// <item>The birth date: the ID card mask hides exactly its eight digits, so a full birth date beside it restores the
/// number. Callers who give care (an institution's staff: a clinician elsewhere under authorisation or break-glass, an
/// off-site service) keep the full birth date — care needs the age, and they act under the resident's authorisation,
/// the patient before them; this is the trade-off. Everyone else in the masked view (public-health officers,
/// mental-health staff outside the holder, auditors) sees its year only (<see cref="MaskView.MaskedBirthYear"/>).</item>
/// <item>De-identified (masked, names too, the birth date as its year): researchers (annex 2 §六: de-identification for
/// reading and exporting) and health-administration officers (seed 001 第十七条: administrative bodies using records for
/// statistics and management may only use information that cannot identify the person).</item>
/// </list>
/// A resource about several records is shown full only when every one of them is. An institution's own numbers (the
/// identifiers of a domain registered for it, e.g. its MRNs as PIXm cross-references them) are shown to its staff in
/// full: it issued them (<see cref="MaskingPolicy"/>).
/// </summary>
public sealed class MaskingRule(ConsentDecision consent)
{
    /// <summary>The view for a caller and the records a resource is about (none: data that is no one's record).</summary>
    public MaskView ViewOf(Caller caller, IReadOnlyList<RecordFacts> records, string? source)
    {
        if (caller.HasRole(Roles.Server) || consent.IsPlatformClient(caller)) return MaskView.Full;
        if (caller.HasRole(Roles.Researcher) || caller.HasRole(Roles.HealthAdministrationOfficer)) return MaskView.Deidentified;
        if (records.Count == 0)
            // No record to hold it: full only for the institution that wrote it.
            return IsStaffOf(caller, source) ? MaskView.Full : MaskedViewOf(caller);
        return records.All(r => SeesFull(caller, r)) ? MaskView.Full : MaskedViewOf(caller);
    }

    /// <summary>The masked view of a caller: with the full birth date for an institution's staff (care), its year for the rest.</summary>
    private static MaskView MaskedViewOf(Caller caller) =>
        ConsentDecision.IsInstitutionStaff(caller) ? MaskView.Masked : MaskView.MaskedBirthYear;

    /// <summary>
    /// Whether the caller sees every record masked, whatever its relationships: not the server,
    /// the platform, a resident or guardian, nor an institution's staff (who hold records of their own).
    /// </summary>
    public bool AlwaysMasked(Caller caller) =>
        !(caller.HasRole(Roles.Server) || consent.IsPlatformClient(caller)
          || caller.HasRole(Roles.Resident) || caller.HasRole(Roles.Guardian) || ConsentDecision.IsInstitutionStaff(caller));

    /// <summary>Whether the caller sees this record's identifying values in full (see the class summary).</summary>
    public static bool SeesFull(Caller caller, RecordFacts record)
    {
        if (!record.Exists) return false;
        if (IsStaffOf(caller, record.ManagingOrganization)) return true;
        if (caller.Practitioner is { } self && record.FamilyDoctors.Contains(self) && (caller.HasRole(Roles.FamilyDoctor) || caller.HasRole(Roles.Clinician)))
            return true;
        var own = caller.Patient == "Patient/" + record.PatientId;
        return own && (caller.HasRole(Roles.Resident) || caller.HasRole(Roles.Guardian));
    }

    private static bool IsStaffOf(Caller caller, string? organization) =>
        organization is not null && caller.Organization == organization && ConsentDecision.IsInstitutionStaff(caller);
}

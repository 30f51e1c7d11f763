using FhirArchive.Rest.Access;

namespace FhirArchive.Archive.Consent;

/// <summary>An answer of <see cref="ConsentDecision"/>: shown or not, why, and which sensitive labels the caller is cleared for.</summary>
public sealed record AccessDecision(bool Permit, string Reason, IReadOnlySet<string> Cleared)
{
    public static readonly IReadOnlySet<string> None = new HashSet<string>();
    public static readonly IReadOnlySet<string> All = new HashSet<string> { ConsentTerms.Psychiatry, ConsentTerms.Hiv };
    public static readonly IReadOnlySet<string> PsychiatryOnly = new HashSet<string> { ConsentTerms.Psychiatry };

    public static AccessDecision Allow(string reason, IReadOnlySet<string> cleared) => new(true, reason, cleared);
    public static AccessDecision Deny(string reason) => new(false, reason, None);
}

/// <summary>
/// The consent rules as one pure function (Chongqing rules chapter 4, the Qinghai plan): given the caller, one
/// resource's facts and the records it belongs to, is it shown, and which sensitive parts. No I/O, so every cell of
/// the decision matrix is tested directly and the read paths only gather facts.
/// </summary>
public sealed class ConsentDecision(ConsentOptions options)
{
    private static readonly string[] StaffRoles = [Roles.Clinician, Roles.FamilyDoctor, Roles.RecordAdministrator, Roles.SystemClient];

    /// <summary>Staff acting for an institution: a clinician, family doctor, record administrator or its system client.</summary>
    public static bool IsInstitutionStaff(Caller caller) => caller.Organization is not null && StaffRoles.Any(caller.HasRole);

    public ConsentOptions Options => options;

    public AccessDecision Decide(Caller caller, ResourceFacts resource, IReadOnlyList<RecordContext> records, DateTimeOffset now)
    {
        if (caller.HasRole(Roles.Server)) return AccessDecision.Allow("the server itself", AccessDecision.All);
        if (ReadsAuditTrail(caller, resource.Type))
            return AccessDecision.Allow("the audit trail, read by an auditor", AccessDecision.None);
        // A record this server does not hold (a stored Bundle carrying another server's Patient) cannot be decided as
        // one: only the platform's own client, which sees every record, is shown it (fail closed).
        if (resource.PatientIds?.Contains(PatientLinks.ForeignPatient) == true && !IsPlatformClient(caller))
            return AccessDecision.Deny("it carries a patient record that is not on this server");

        var existing = records.Where(r => r.Record.Exists).ToList();
        AccessDecision decision;
        if (existing.Count == 0)
            decision = IsStaffOf(caller, resource.Source)
                ? AccessDecision.Allow("written by the caller's institution", AccessDecision.All)
                : AccessDecision.Allow("no resident's record", AccessDecision.None);
        else
        {
            decision = null!;
            foreach (var record in existing)
            {
                var d = DecideRecord(caller, resource, record, now);
                if (!d.Permit) return d;
                decision = decision is null ? d : d with { Cleared = decision.Cleared.Intersect(d.Cleared).ToHashSet() };
            }
        }

        var closed = resource.Labels.Where(l => !decision.Cleared.Contains(l)).ToList();
        if (closed.Count > 0)
            return AccessDecision.Deny(closed.Contains(ConsentTerms.Psychiatry)
                ? "severe-mental-disorder information stays with the responsible institution and the mental-health programme"
                : "special-disease information is closed");
        return decision;
    }

    /// <summary>Auditors read the trail (AuditEvents, Provenances) whatever it names: that is what they audit.</summary>
    public static bool ReadsAuditTrail(Caller caller, string type) =>
        caller.HasRole(Roles.Auditor) && type is "AuditEvent" or "Provenance";

    private AccessDecision DecideRecord(Caller caller, ResourceFacts resource, RecordContext context, DateTimeOffset now)
    {
        var record = context.Record;
        var patient = "Patient/" + record.PatientId;
        if (IsStaffOf(caller, record.ManagingOrganization))
            return AccessDecision.Allow("the record's responsible institution", AccessDecision.All);
        if (caller.Practitioner is { } self && record.FamilyDoctors.Contains(self) && (caller.HasRole(Roles.FamilyDoctor) || caller.HasRole(Roles.Clinician)))
            return AccessDecision.Allow("the record's signed family doctor", AccessDecision.All);
        if (record.Classified)
            return AccessDecision.Deny("a classified person's record is closed outside the responsible institution");
        if (resource.Type == "Task" && IsInstitutionStaff(caller) && resource.Actors.Contains(caller.Organization!))
            return AccessDecision.Allow("a transfer of the record requested by or owned by the caller's institution", AccessDecision.None);
        if (IsStaffOf(caller, resource.Source))
            return AccessDecision.Allow("written by the caller's institution", AccessDecision.All);
        if (resource.Type == "Consent" && resource.Actors.Any(a => a == caller.Practitioner || a == caller.Organization))
            return AccessDecision.Allow("an authorisation granted to the caller", AccessDecision.None);

        if (caller.HasRole(Roles.Resident) && caller.Patient == patient)
            return ResidentChannel(resource, context, now, patient, "the resident's own record");
        if (caller.HasRole(Roles.Guardian) && caller.Patient == patient)
            return GuardianChannel(caller, resource, context, now);

        if (caller.HasRole(Roles.MentalHealthStaff))
            return AccessDecision.Allow("mental-health programme staff of the record's division", AccessDecision.PsychiatryOnly);
        if (caller.HasRole(Roles.PublicHealthOfficer) || caller.HasRole(Roles.HealthAdministrationOfficer))
            return AccessDecision.Allow("health management by role within the division", AccessDecision.None);
        if (caller.HasRole(Roles.Researcher))
            return AccessDecision.Deny("researchers receive de-identified exports only, never records");

        if (IsInstitutionStaff(caller))
        {
            if (InForce(context, ConsentTerms.RecordAccess, now, g => Grantee(caller, g)) is { } grant
                && (grant.Purposes.Count == 0 || grant.Purposes.Contains(caller.PurposeOfUse ?? ConsentTerms.Treatment)))
                return AccessDecision.Allow($"authorised by the resident (Consent/{grant.Id})",
                    options.MentalHealthOpensWithAuthorisation ? AccessDecision.PsychiatryOnly : AccessDecision.None);
            if (InForce(context, ConsentTerms.BreakGlass, now, g => Grantee(caller, g)) is { } glass)
                return AccessDecision.Allow($"break-glass emergency access (Consent/{glass.Id})",
                    options.BreakGlassOpensMentalHealth ? AccessDecision.PsychiatryOnly : AccessDecision.None);
            return AccessDecision.Deny("no authorisation from the resident on file for the caller");
        }
        if (IsPlatformClient(caller))
            return AccessDecision.Allow("the platform operator's client", AccessDecision.None);
        return AccessDecision.Deny("no relationship to this record");
    }

    /// <summary>
    /// The off-site service view (异地服务, annex 1 五(三)): staff of an institution that does not hold the record may see,
    /// without the resident's one-time code, the basic information and the summary of past follow-ups of a resident in
    /// a key population — that view only (the operation that serves it asks here; every other path decides as
    /// <see cref="Decide"/> does). Never a classified person's record; no sensitive part is cleared.
    /// </summary>
    public static AccessDecision OffSiteView(Caller caller, RecordContext context, bool keyPopulation)
    {
        var record = context.Record;
        if (!record.Exists) return AccessDecision.Deny("no resident's record");
        if (!IsInstitutionStaff(caller))
            return AccessDecision.Deny("off-site service is given by the staff of an institution");
        if (IsStaffOf(caller, record.ManagingOrganization))
            return AccessDecision.Allow("the record's responsible institution", AccessDecision.All);
        if (record.Classified)
            return AccessDecision.Deny("a classified person's record is closed outside the responsible institution");
        if (!keyPopulation)
            return AccessDecision.Deny("off-site service without authorisation is for residents in a key population (elderly, maternal, children 0-6, hypertension, diabetes)");
        return AccessDecision.Allow(OffSiteReason, AccessDecision.None);
    }

    /// <summary>The access reason of the off-site view, as the audit names it.</summary>
    public const string OffSiteReason = "off-site service (purpose offsite-service): basic information and follow-up summary of a key-population resident";

    private AccessDecision ResidentChannel(ResourceFacts resource, RecordContext context, DateTimeOffset now, string opener, string reason)
    {
        // Their own authorisations are always theirs to see (and revoke).
        if (resource.Type == "Consent") return AccessDecision.Allow("the resident's own authorisations", AccessDecision.None);
        // 四(二): a transfer needs the resident's consent, so its requests are theirs to follow (Actors: only transfer Tasks have them).
        if (resource.Type == "Task" && resource.Actors.Count > 0) return AccessDecision.Allow("a transfer of the resident's own record", AccessDecision.None);
        var today = ChinaDate(now);
        if (context.Record.IsMinor(today, options.AdultAge)
            && InForce(context, ConsentTerms.MinorOpening, now, g => g.Actors.Count == 0 || g.Actors.Contains(opener)) is null)
            return AccessDecision.Deny("a minor's record opens only on the statutory guardian's application");
        if (options.ResidentOpeningRequired && InForce(context, ConsentTerms.ResidentOpening, now, _ => true) is null)
            return AccessDecision.Deny("the record has not yet been opened to the resident by the signed family doctor");
        return AccessDecision.Allow(reason, AccessDecision.None);
    }

    private AccessDecision GuardianChannel(Caller caller, ResourceFacts resource, RecordContext context, DateTimeOffset now)
    {
        var g = context.Guardian;
        if (g is null || !g.Active || g.PatientId != context.Record.PatientId || caller.FhirUser != "RelatedPerson/" + g.RelatedPersonId)
            return AccessDecision.Deny("the caller is not a guardian of this resident on file");
        var me = "RelatedPerson/" + g.RelatedPersonId;
        switch (g.Guardianship)
        {
            case ConsentTerms.Statutory:
                return ResidentChannel(resource, context, now, me, "the statutory guardian");
            case ConsentTerms.Voluntary:
                if (resource.Type == "Consent") return AccessDecision.Allow("the guardian's own authorisations", AccessDecision.None);
                return InForce(context, ConsentTerms.VoluntaryGuardianOpening, now, c => c.Actors.Contains(me)) is { } opening
                    ? AccessDecision.Allow($"opened to the voluntary guardian (Consent/{opening.Id})", AccessDecision.None)
                    : AccessDecision.Deny("a voluntary guardian reads the record only once it was opened to them (joint application or court judgements)");
            default:
                return AccessDecision.Deny("the guardianship (statutory or voluntary) is not recorded");
        }
    }

    /// <summary>The platform operator's own client (Consent:PlatformClients), bound to no institution.</summary>
    public bool IsPlatformClient(Caller caller) =>
        caller.Kind == CallerKind.System && caller.Organization is null && caller.ClientId is { } client && options.PlatformClients.Contains(client);

    /// <summary>Person callers must be the named practitioner (or the institution when no practitioner is named); systems, the institution.</summary>
    private static bool Grantee(Caller caller, ConsentGrant grant)
    {
        var practitioners = grant.Actors.Where(a => a.StartsWith("Practitioner/", StringComparison.Ordinal)).ToList();
        if (caller.Kind == CallerKind.Person && practitioners.Count > 0) return caller.Practitioner is { } p && practitioners.Contains(p);
        return caller.Organization is { } org && grant.Actors.Contains(org);
    }

    /// <summary>The calendar day in China (UTC+8): ages and birthdays are counted there.</summary>
    public static DateOnly ChinaDate(DateTimeOffset now) => DateOnly.FromDateTime(now.ToOffset(TimeSpan.FromHours(8)).DateTime);

    private static ConsentGrant? InForce(RecordContext context, string category, DateTimeOffset now, Func<ConsentGrant, bool> applies) =>
        context.Consents.FirstOrDefault(c => c.Category == category && c.InForce(now) && applies(c));

    private static bool IsStaffOf(Caller caller, string? organization) =>
        organization is not null && caller.Organization == organization && IsInstitutionStaff(caller);
}

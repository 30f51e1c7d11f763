using FhirArchive.Rest.Access;
using FhirArchive.Archive.Consent;
using Xunit;

namespace FhirArchive.Archive.Tests.Consent;

/// <summary>
/// The decision matrix, cell by cell: each role and relationship × each kind of data (ordinary, mental health,
/// special disease, a classified person's record, a minor's record), evaluated on the pure decision.
/// </summary>
public sealed class ConsentDecisionTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 1, 9, 0, 0, TimeSpan.Zero);
    private const string Holder = "Organization/holder-chc";
    private const string Other = "Organization/other-hospital";
    private const string FamilyDoctor = "Practitioner/fd";

    private static readonly ConsentDecision Decision = new(new ConsentOptions { PlatformClients = ["platform"] });

    public enum Data { Ordinary, MentalHealth, SpecialDisease, Classified, Minor }

    private static Caller Person(string role, string? org = null, string? practitioner = null, string? patient = null, string? fhirUser = null, string? purpose = null) =>
        new(CallerKind.Person, "u", null, new HashSet<string> { role }, [], org, practitioner, patient, null, purpose, null, fhirUser ?? practitioner);

    private static Caller System(string? org, string client = "his") =>
        new(CallerKind.System, client, null, new HashSet<string> { Roles.SystemClient }, [], org, ClientId: client);

    /// <summary>The callers of the matrix, each with the Consents and guardianship their relationship needs.</summary>
    private static readonly Dictionary<string, (Caller Caller, ConsentGrant[] Consents, GuardianFacts? Guardian)> Callers = new()
    {
        ["holder clinician"] = (Person(Roles.Clinician, Holder, "Practitioner/c1"), [], null),
        ["signed family doctor (elsewhere)"] = (Person(Roles.FamilyDoctor, Other, FamilyDoctor), [], null),
        ["holder record admin"] = (Person(Roles.RecordAdministrator, Holder), [], null),
        ["holder system client"] = (System(Holder), [], null),
        ["other clinician, no authorisation"] = (Person(Roles.Clinician, Other, "Practitioner/o1"), [], null),
        ["other clinician, authorised"] = (Person(Roles.Clinician, Other, "Practitioner/o1"), [Grant(ConsentTerms.RecordAccess, Other, "Practitioner/o1")], null),
        ["other system client, authorised"] = (System(Other), [Grant(ConsentTerms.RecordAccess, Other)], null),
        ["other clinician, break-glass"] = (Person(Roles.Clinician, Other, "Practitioner/er", purpose: "ETREAT"), [Grant(ConsentTerms.BreakGlass, Other, "Practitioner/er")], null),
        ["resident, opened"] = (Person(Roles.Resident, patient: "Patient/p", fhirUser: "Patient/p"), [Grant(ConsentTerms.ResidentOpening)], null),
        ["resident, not opened"] = (Person(Roles.Resident, patient: "Patient/p", fhirUser: "Patient/p"), [], null),
        ["statutory guardian, opened"] = (Person(Roles.Guardian, patient: "Patient/p", fhirUser: "RelatedPerson/g"), [Grant(ConsentTerms.ResidentOpening)], new GuardianFacts("g", "p", true, ConsentTerms.Statutory)),
        ["voluntary guardian, not opened to them"] = (Person(Roles.Guardian, patient: "Patient/p", fhirUser: "RelatedPerson/v"), [Grant(ConsentTerms.ResidentOpening)], new GuardianFacts("v", "p", true, ConsentTerms.Voluntary)),
        ["voluntary guardian, opened to them"] = (Person(Roles.Guardian, patient: "Patient/p", fhirUser: "RelatedPerson/v"), [Grant(ConsentTerms.VoluntaryGuardianOpening, "RelatedPerson/v")], new GuardianFacts("v", "p", true, ConsentTerms.Voluntary)),
        ["public-health officer"] = (Person(Roles.PublicHealthOfficer), [], null),
        ["mental-health programme staff"] = (Person(Roles.MentalHealthStaff), [], null),
        ["researcher"] = (Person(Roles.Researcher), [], null),
        ["platform client"] = (System(null, "platform"), [], null),
        ["unbound system client"] = (System(null, "stray"), [], null),
    };

    /// <summary>Expected: ordinary, mental health, special disease, classified person's record, minor's record (no minor opening).</summary>
    private static readonly Dictionary<string, bool[]> Expected = new()
    {
        ["holder clinician"] = [true, true, true, true, true],
        ["signed family doctor (elsewhere)"] = [true, true, true, true, true],
        ["holder record admin"] = [true, true, true, true, true],
        ["holder system client"] = [true, true, true, true, true],
        ["other clinician, no authorisation"] = [false, false, false, false, false],
        ["other clinician, authorised"] = [true, false, false, false, true],
        ["other system client, authorised"] = [true, false, false, false, true],
        ["other clinician, break-glass"] = [true, false, false, false, true],
        ["resident, opened"] = [true, false, false, false, false],
        ["resident, not opened"] = [false, false, false, false, false],
        ["statutory guardian, opened"] = [true, false, false, false, false],
        ["voluntary guardian, not opened to them"] = [false, false, false, false, false],
        ["voluntary guardian, opened to them"] = [true, false, false, false, true],
        ["public-health officer"] = [true, false, false, false, true],
        ["mental-health programme staff"] = [true, true, false, false, true],
        ["researcher"] = [false, false, false, false, false],
        ["platform client"] = [true, false, false, false, true],
        ["unbound system client"] = [false, false, false, false, false],
    };

    public static IEnumerable<object[]> Cells() =>
        from caller in Callers.Keys
        from data in Enum.GetValues<Data>()
        select new object[] { caller, data };

    [Theory]
    [MemberData(nameof(Cells))]
    public void Matrix_cell(string caller, Data data)
    {
        var (who, consents, guardian) = Callers[caller];
        var record = new RecordFacts("p", true, Holder, [FamilyDoctor], data == Data.Classified,
            data == Data.Minor ? new DateOnly(2015, 6, 1) : new DateOnly(1980, 6, 1));
        var labels = data switch
        {
            Data.MentalHealth => new HashSet<string> { ConsentTerms.Psychiatry },
            Data.SpecialDisease => new HashSet<string> { ConsentTerms.Hiv },
            _ => new HashSet<string>(),
        };
        var resource = new ResourceFacts("Observation", "o", ["p"], labels, "Organization/third-lab", []);
        var d = Decision.Decide(who, resource, [new RecordContext(record, consents, guardian)], Now);
        Assert.True(Expected[caller][(int)data] == d.Permit, $"{caller} × {data}: expected {(Expected[caller][(int)data] ? "permit" : "deny")}, got {d.Permit} ({d.Reason})");
        Assert.False(string.IsNullOrWhiteSpace(d.Reason));
    }

    [Fact]
    public void Every_matrix_row_has_an_expectation() => Assert.Equal(Callers.Keys.Order(), Expected.Keys.Order());

    [Fact]
    public void A_minor_opens_to_resident_and_guardian_only_on_the_guardians_application()
    {
        var minor = new RecordFacts("p", true, Holder, [], false, new DateOnly(2015, 6, 1));
        var resident = Callers["resident, opened"].Caller;
        var guardian = Callers["statutory guardian, opened"];
        ConsentGrant[] opened = [Grant(ConsentTerms.ResidentOpening), Grant(ConsentTerms.MinorOpening, "Patient/p", "RelatedPerson/g")];
        Assert.True(Decide(resident, minor, opened).Permit);
        Assert.True(Decision.Decide(guardian.Caller, Obs(), [new RecordContext(minor, opened, guardian.Guardian)], Now).Permit);
        // Opened to the guardian only: the minor still waits.
        ConsentGrant[] guardianOnly = [Grant(ConsentTerms.ResidentOpening), Grant(ConsentTerms.MinorOpening, "RelatedPerson/g")];
        Assert.False(Decide(resident, minor, guardianOnly).Permit);
        Assert.True(Decision.Decide(guardian.Caller, Obs(), [new RecordContext(minor, guardianOnly, guardian.Guardian)], Now).Permit);
        // Turning 18 ends the minor rule.
        var adult = minor with { BirthDate = new DateOnly(2008, 11, 30) };
        Assert.True(Decide(resident, adult, [Grant(ConsentTerms.ResidentOpening)]).Permit);
        Assert.False(Decide(resident, adult with { BirthDate = new DateOnly(2008, 12, 2) }, [Grant(ConsentTerms.ResidentOpening)]).Permit);
    }

    [Fact]
    public void Authorisations_hold_only_in_their_period_for_their_grantee_and_purpose()
    {
        var record = new RecordFacts("p", true, Holder, [], false, new DateOnly(1980, 1, 1));
        var doctor = Person(Roles.Clinician, Other, "Practitioner/o1");
        Assert.False(Decide(doctor, record, [Grant(ConsentTerms.RecordAccess, Other, "Practitioner/o1") with { End = Now.AddMinutes(-1) }]).Permit);
        Assert.False(Decide(doctor, record, [Grant(ConsentTerms.RecordAccess, Other, "Practitioner/o1") with { Start = Now.AddMinutes(1) }]).Permit);
        // A grant to a named practitioner does not open the record to their colleagues.
        Assert.False(Decide(Person(Roles.Clinician, Other, "Practitioner/o2"), record, [Grant(ConsentTerms.RecordAccess, Other, "Practitioner/o1")]).Permit);
        // A grant to the institution alone opens it to its clinicians and its system.
        Assert.True(Decide(Person(Roles.Clinician, Other, "Practitioner/o2"), record, [Grant(ConsentTerms.RecordAccess, Other)]).Permit);
        Assert.True(Decide(System(Other), record, [Grant(ConsentTerms.RecordAccess, Other, "Practitioner/o1")]).Permit);
        // Another institution's grant is not this one's.
        Assert.False(Decide(Person(Roles.Clinician, "Organization/x", "Practitioner/o1"), record, [Grant(ConsentTerms.RecordAccess, Other)]).Permit);
        // Purpose: a treatment grant does not serve operations.
        Assert.False(Decide(Person(Roles.Clinician, Other, "Practitioner/o1", purpose: "HOPERAT"), record, [Grant(ConsentTerms.RecordAccess, Other, "Practitioner/o1")]).Permit);
        // A consent of another category (the family doctor's opening) opens nothing to other institutions.
        Assert.False(Decide(doctor, record, [Grant(ConsentTerms.ResidentOpening, Other, "Practitioner/o1")]).Permit);
    }

    [Fact]
    public void Written_data_stays_visible_to_its_source_institution_but_a_classified_record_does_not()
    {
        var record = new RecordFacts("p", true, Holder, [], false, new DateOnly(1980, 1, 1));
        var lab = Person(Roles.Clinician, "Organization/third-lab", "Practitioner/l");
        var own = new ResourceFacts("Observation", "o", ["p"], new HashSet<string> { ConsentTerms.Psychiatry }, "Organization/third-lab", []);
        Assert.True(Decision.Decide(lab, own, [new RecordContext(record, [], null)], Now).Permit);
        Assert.False(Decision.Decide(lab, own, [new RecordContext(record with { Classified = true }, [], null)], Now).Permit);
        Assert.False(Decision.Decide(lab, own with { Source = "Organization/elsewhere" }, [new RecordContext(record, [], null)], Now).Permit);
    }

    [Fact]
    public void Guardians_must_be_on_file_for_this_resident_and_of_a_known_kind()
    {
        var record = new RecordFacts("p", true, Holder, [], false, new DateOnly(1950, 1, 1));
        var guardian = Person(Roles.Guardian, patient: "Patient/p", fhirUser: "RelatedPerson/g");
        ConsentGrant[] opened = [Grant(ConsentTerms.ResidentOpening)];
        Assert.True(Decision.Decide(guardian, Obs(), [new RecordContext(record, opened, new GuardianFacts("g", "p", true, ConsentTerms.Statutory))], Now).Permit);
        Assert.False(Decision.Decide(guardian, Obs(), [new RecordContext(record, opened, new GuardianFacts("g", "p", false, ConsentTerms.Statutory))], Now).Permit);
        Assert.False(Decision.Decide(guardian, Obs(), [new RecordContext(record, opened, new GuardianFacts("g", "other", true, ConsentTerms.Statutory))], Now).Permit);
        Assert.False(Decision.Decide(guardian, Obs(), [new RecordContext(record, opened, new GuardianFacts("g", "p", true, null))], Now).Permit);
        Assert.False(Decision.Decide(guardian, Obs(), [new RecordContext(record, opened, null)], Now).Permit);
    }

    [Fact]
    public void Residents_and_guardians_always_see_their_own_authorisations_and_grantees_theirs()
    {
        var record = new RecordFacts("p", true, Holder, [], false, new DateOnly(1980, 1, 1));
        var consent = new ResourceFacts("Consent", "c", ["p"], new HashSet<string>(), null, [Other]);
        Assert.True(Decision.Decide(Callers["resident, not opened"].Caller, consent, [new RecordContext(record, [], null)], Now).Permit);
        Assert.True(Decision.Decide(Person(Roles.Clinician, Other, "Practitioner/o9"), consent, [new RecordContext(record, [], null)], Now).Permit);
        Assert.False(Decision.Decide(Person(Roles.Clinician, "Organization/x", "Practitioner/o9"), consent, [new RecordContext(record, [], null)], Now).Permit);
    }

    [Fact]
    public void The_policy_switches_open_mental_health_to_authorised_institutions_when_the_operator_says_so()
    {
        var open = new ConsentDecision(new ConsentOptions { MentalHealthOpensWithAuthorisation = true, BreakGlassOpensMentalHealth = true, ResidentOpeningRequired = false });
        var record = new RecordFacts("p", true, Holder, [], false, new DateOnly(1980, 1, 1));
        var psy = new ResourceFacts("Condition", "c", ["p"], new HashSet<string> { ConsentTerms.Psychiatry }, null, []);
        Assert.True(open.Decide(Person(Roles.Clinician, Other, "Practitioner/o1"), psy, [new RecordContext(record, [Grant(ConsentTerms.RecordAccess, Other, "Practitioner/o1")], null)], Now).Permit);
        Assert.True(open.Decide(Person(Roles.Clinician, Other, "Practitioner/er"), psy, [new RecordContext(record, [Grant(ConsentTerms.BreakGlass, "Practitioner/er")], null)], Now).Permit);
        // Never to the resident, whatever the switches.
        Assert.False(open.Decide(Callers["resident, not opened"].Caller, psy, [new RecordContext(record, [], null)], Now).Permit);
        // Without the opening requirement, the resident reads the ordinary record at once.
        Assert.True(open.Decide(Callers["resident, not opened"].Caller, Obs(), [new RecordContext(record, [], null)], Now).Permit);
    }

    [Fact]
    public void Data_of_no_record_is_shown_but_its_sensitive_content_only_to_its_source()
    {
        var psy = new ResourceFacts("Condition", "c", [], new HashSet<string> { ConsentTerms.Psychiatry }, Other, []);
        Assert.True(Decision.Decide(Person(Roles.Clinician, Other, "Practitioner/o1"), psy, [], Now).Permit);
        Assert.False(Decision.Decide(Person(Roles.Clinician, Holder, "Practitioner/c1"), psy, [], Now).Permit);
        Assert.True(Decision.Decide(Person(Roles.Clinician, Holder, "Practitioner/c1"), psy with { Labels = new HashSet<string>() }, [], Now).Permit);
        // A dangling subject (no such Patient) is no record either.
        Assert.True(Decision.Decide(Person(Roles.PublicHealthOfficer), Obs(), [new RecordContext(RecordFacts.Missing("p"), [], null)], Now).Permit);
    }

    [Fact]
    public void Auditors_read_the_audit_trail_but_no_record()
    {
        var record = new RecordFacts("p", true, Holder, [], false, new DateOnly(1980, 1, 1));
        var auditor = Person(Roles.Auditor);
        Assert.True(Decision.Decide(auditor, new ResourceFacts("AuditEvent", "a", ["p"], new HashSet<string>(), null, []), [new RecordContext(record, [], null)], Now).Permit);
        Assert.False(Decide(auditor, record, []).Permit);
    }

    private static AccessDecision Decide(Caller caller, RecordFacts record, ConsentGrant[] consents) =>
        Decision.Decide(caller, Obs(), [new RecordContext(record, consents, null)], Now);

    private static ResourceFacts Obs() => new("Observation", "o", ["p"], new HashSet<string>(), null, []);

    private static ConsentGrant Grant(string category, params string[] actors) =>
        new("g-" + category, category, Now.AddDays(-1), Now.AddDays(6), actors, category == ConsentTerms.RecordAccess ? ["TREAT"] : [], ["Patient/p"]);
}

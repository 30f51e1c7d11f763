using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Metadata;
using FhirArchive.Archive.Records;
using FhirArchive.Rest.Resources;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;

using FhirArchive.Archive.Consent;

namespace FhirArchive.Archive.Grants;

/// <summary>
/// Patient/[id]/$open-record opens a record to the people it belongs to, by whoever the rules let decide:
/// <list type="bullet">
/// <item>the signed family doctor (a Practitioner in Patient.generalPractitioner) opens it to its resident
/// (resident-opening, verified family-doctor) — the Qinghai plan opens a record only then;</item>
/// <item>a guardian (a RelatedPerson of the patient, with a guardian token) applies to open a minor's record to the
/// minor and/or themselves ('to' = minor | guardian | both; minor-opening, verified guardian-application);</item>
/// <item>a record administrator of the responsible institution records the opening to a voluntary guardian
/// ('guardian'), on their joint application with the resident (method joint-application, performers both) or on
/// the court judgements ('evidence' DocumentReferences; method court-judgement).</item>
/// </list>
/// Optional 'end' or 'days' bound the opening; without them it lasts until revoked.
/// </summary>
public static class OpenRecordEndpoint
{
    public const string ToMinor = "minor", ToGuardian = "guardian", ToBoth = "both";
    /// <summary>The purposes of use of an opening: the resident's own request, a family member's (v3 PurposeOfUse).</summary>
    public const string PatientRequest = "PATRQT", FamilyRequest = "FAMRQT";

    public static void Map(IEndpointRouteBuilder app) =>
        app.MapOperation(FhirOperation.Local(typeof(OpenRecordEndpoint).Assembly, "Patient-open-record"), OperationLevel.Instance, Handle).WithTags("Consent")
            .WithSummary("open the record to its resident (family doctor), to a minor / guardian (guardian), or to a voluntary guardian (record administrator) (档案开放)")
            .WithMetadata(new DecidesOwnVisibility());

    private static async Task Handle(HttpContext ctx, string id, IResourceStore store, ResourceWriter writer, RecordLookup lookup, TimeProvider clock,
        ReadGuard guard)
    {
        var caller = ctx.GetCaller();
        // A guardian opens a ward's record they cannot see yet (MinorOpeningAsync answers any other record as missing);
        // to everyone else a record they may not see is as unknown as a missing one.
        if (!caller.HasRole(Roles.Guardian) && (await store.ReadAsync("Patient", id, ctx.RequestAborted) is not { } record || !await guard.MayKnowAsync(ctx, "operation", record)))
            throw FhirException.NotFound($"Patient/{id} is not known.");
        var p = await OperationParameters.ReadAsync(ctx);
        var now = clock.GetUtcNow();
        var end = AskedAccess.Time(p, "end") ?? (p.Integer("days", 1) is { } days ? now.AddDays(days) : null);
        if (end is { } e && e <= now) throw FhirException.BadRequest("The opening would end before it starts.");
        var guardianUser = caller.HasRole(Roles.Guardian) ? caller.FhirUser : null;

        var stored = await ResourceEndpoints.InSessionAsync(ctx, store, async s =>
        {
            var patient = await lookup.PatientAsync(s, caller, id, null, ctx.RequestAborted) ?? throw FhirException.NotFound($"Patient/{id} is not known.");
            ConsentDraft draft;
            if (caller.HasRole(Roles.FamilyDoctor) && caller.Practitioner is { } doctor)
                draft = ResidentOpening(patient, doctor, now, end);
            else if (caller.HasRole(Roles.Guardian))
                draft = await MinorOpeningAsync(s, patient, caller, guardianUser, p.Value("to") ?? ToBoth, now, end, ctx.RequestAborted);
            else if (caller.HasRole(Roles.RecordAdministrator))
                draft = await VoluntaryGuardianOpeningAsync(s, patient, caller, p, now, end, ctx.RequestAborted);
            else
                throw new FhirException(403, "forbidden", "A record is opened by its signed family doctor, a guardian (for a minor), or the responsible institution's record administrator (for a voluntary guardian).");
            // Opening an open record again changes nothing: the opening in force is the answer, not a second one.
            if (await OpeningInForceAsync(store, draft, now, ctx.RequestAborted) is { } existing) return (Stored: existing, Created: false);
            return (Stored: await ConsentWrites.CreateAsync(s, writer, draft.ToResource(), ctx.RequestAborted), Created: true);
        });
        await ConsentWrites.WriteCreatedAsync(ctx, stored.Stored, stored.Created);
    }

    /// <summary>
    /// The same opening, in force: an active Consent on the record of the draft's category and verification method
    /// (a voluntary guardian's joint application is another basis than the court judgements), for exactly its recipients.
    /// </summary>
    private static async Task<StoredResource?> OpeningInForceAsync(IResourceStore store, ConsentDraft draft, DateTimeOffset now, CancellationToken ct)
    {
        var recipients = draft.Recipients.ToHashSet(StringComparer.Ordinal);
        foreach (var c in await store.RevIncludesAsync("Consent", "patient", "Patient", [draft.Patient["Patient/".Length..]], ct))
        {
            if (c.IsDeleted || c.Json is null) continue;
            var node = FhirFormats.ParseStored(c.Json);
            if (RecordDirectory.Grant(node) is { } grant && grant.Category == draft.Category && ConsentDraft.MethodOf(node) == draft.Verification?.Method
                && (grant.Start ?? DateTimeOffset.MinValue) <= now && (grant.End is null || grant.End > now) && recipients.SetEquals(grant.Actors))
                return c;
        }
        return null;
    }

    private static ConsentDraft ResidentOpening(ElementNode patient, string doctor, DateTimeOffset now, DateTimeOffset? end)
    {
        var self = "Patient/" + patient.ResourceId;
        var signed = patient.ChildrenNamed("generalPractitioner").Any(g => g.Child("reference")?.Value == doctor);
        if (!signed)
            throw new FhirException(403, "forbidden", $"Only the resident's signed family doctor (Patient.generalPractitioner) opens the record to the resident; {doctor} is not / 仅签约家庭医生可向居民开放档案");
        return new ConsentDraft(ConsentTerms.ResidentOpening, self, RecordLookup.ResponsibleInstitution(patient), [doctor],
            new ConsentVerification(ConsentTerms.FamilyDoctor, self, now), now, end, [self], [PatientRequest], now);
    }

    private static async Task<ConsentDraft> MinorOpeningAsync(IWriteSession s, ElementNode patient, Caller caller, string? guardian, string to,
        DateTimeOffset now, DateTimeOffset? end, CancellationToken ct)
    {
        var self = "Patient/" + patient.ResourceId;
        // A guardian acts for the ward of the token; any other record is as unknown to them as a missing one.
        if (caller.Patient != self || await RecordLookup.RelatedPersonOfAsync(s, guardian, patient.ResourceId!, ct) is not { } person)
            throw FhirException.NotFound($"{self} is not known.");
        if (RecordLookup.Guardianship(person) != ConsentTerms.Statutory)
            throw new FhirException(403, "forbidden", $"Only a statutory guardian (cn-guardianship {ConsentTerms.GuardianshipSystem}#{ConsentTerms.Statutory}) applies to open a minor's record / 仅法定监护人可申请开放未成年人档案");
        if (!RecordLookup.IsMinor(patient, now))
            throw FhirException.Unprocessable($"{self} is not a minor: an adult's record is opened to a guardian by the responsible institution (voluntary guardianship) / 非未成年人档案");
        List<string> recipients = to switch
        {
            ToMinor => [self],
            ToGuardian => [guardian!],
            ToBoth => [self, guardian!],
            _ => throw FhirException.BadRequest($"'to' is {ToMinor}, {ToGuardian} or {ToBoth}, not '{to}'."),
        };
        var purposes = recipients.Select(r => r == self ? PatientRequest : FamilyRequest).ToList();
        return new ConsentDraft(ConsentTerms.MinorOpening, self, RecordLookup.ResponsibleInstitution(patient), [guardian!],
            new ConsentVerification(ConsentTerms.GuardianApplication, guardian!, now), now, end, recipients, purposes, now);
    }

    private static async Task<ConsentDraft> VoluntaryGuardianOpeningAsync(IWriteSession s, ElementNode patient, Caller caller, OperationParameters p,
        DateTimeOffset now, DateTimeOffset? end, CancellationToken ct)
    {
        var self = "Patient/" + patient.ResourceId;
        var responsible = RecordLookup.ResponsibleInstitution(patient);
        if (responsible is null || responsible != caller.Organization)
            throw new FhirException(403, "forbidden", $"A voluntary guardian's access is approved by the record's responsible institution ({responsible ?? "none on file"}) / 须由档案责任机构审批");
        var guardian = p.Required("guardian");
        if (await RecordLookup.RelatedPersonOfAsync(s, guardian, patient.ResourceId!, ct) is null)
            throw FhirException.Unprocessable($"'{guardian}' is not an active RelatedPerson of {self}.");
        var method = p.Required("method");
        var evidence = p.Values("evidence");
        foreach (var doc in evidence)
        {
            if (doc.Split('/') is not ["DocumentReference", var docId] || await s.ReadAsync("DocumentReference", docId, ct) is not { IsDeleted: false })
                throw FhirException.Unprocessable($"Evidence '{doc}' is not a known DocumentReference.");
        }
        List<string> performers = method switch
        {
            ConsentTerms.JointApplication => [self, guardian],
            ConsentTerms.CourtJudgement when evidence.Count > 0 => [guardian],
            ConsentTerms.CourtJudgement => throw FhirException.Unprocessable("A guardian alone needs the court judgements (guardianship, loss of capacity) as 'evidence' DocumentReferences / 须提供法院判决书"),
            _ => throw FhirException.BadRequest($"'method' is {ConsentTerms.JointApplication} or {ConsentTerms.CourtJudgement}, not '{method}'."),
        };
        var verifiedWith = method == ConsentTerms.JointApplication ? self : guardian;
        return new ConsentDraft(ConsentTerms.VoluntaryGuardianOpening, self, responsible, performers,
            new ConsentVerification(method, verifiedWith, now), now, end, [guardian], [FamilyRequest], now, evidence.Count > 0 ? evidence : null);
    }
}

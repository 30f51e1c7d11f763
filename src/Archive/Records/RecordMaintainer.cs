using System.Globalization;
using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Writing;

namespace FhirArchive.Archive.Records;

/// <summary>
/// Who maintains a record (Chongqing rules art. 14: 居民与家庭医生建立签约关系后，签约居民的健康档案由家庭医生负责管理).
/// The contract is a generalPractitioner reference to the doctor carrying the cn-family-doctor-contract extension
/// (valuePeriod: signed on, expires on). While a contract is in force, the record is changed by that family
/// doctor, by a record administrator of the responsible institution (managingOrganization), or by that
/// institution's own system client; before a contract (or after it ends) by anyone acting for the responsible
/// institution. The server's own writes (jobs, loaders) are not bound by it.
/// </summary>
public static class RecordMaintainer
{
    public const string ContractExtension = "http://fhirarchive.cn/fhir/StructureDefinition/cn-family-doctor-contract";

    /// <summary>The generalPractitioner entry whose contract is in force on the day (Beijing time), or null.</summary>
    public static ElementNode? Contract(ElementNode patient, DateTimeOffset now)
    {
        var today = now.ToOffset(TimeSpan.FromHours(8)).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        return patient.ChildrenNamed("generalPractitioner").FirstOrDefault(gp =>
            gp.ChildrenNamed("extension").FirstOrDefault(e => e.Child("url")?.Value == ContractExtension)?.Child("value") is { Type: "Period" } period
            && Before(period.Child("start")?.Value, today, orEqual: true) != false
            && Before(today, period.Child("end")?.Value, orEqual: true) != false);
    }

    /// <summary>Refuses (403) a caller who may not change the record now, naming who maintains it.</summary>
    public static void Demand(Caller caller, ElementNode patient, string id, DateTimeOffset now)
    {
        if (Refusal(caller, patient, id, now) is { } why) throw new FhirException(403, "forbidden", why);
    }

    /// <summary>Null when the caller may change the record; else the reason.</summary>
    public static string? Refusal(Caller caller, ElementNode patient, string id, DateTimeOffset now)
    {
        if (caller.HasRole(Roles.Server)) return null;
        var institution = patient.Child("managingOrganization")?.Child("reference")?.Value;
        var forInstitution = institution is not null && caller.Organization == institution;
        var who = caller.Practitioner ?? caller.Organization ?? caller.Subject;
        if (Contract(patient, now) is not { } contract)
            return forInstitution ? null
                : $"Patient/{id} is maintained by its responsible institution {institution ?? "(none on file)"}: {who} (acting for {caller.Organization ?? "no institution"}) may add service records, not change the record / 档案由管理责任单位维护";
        var doctor = contract.Child("reference")?.Value;
        if (doctor is not null && caller.Practitioner == doctor) return null;
        if (forInstitution && (caller.HasRole(Roles.RecordAdministrator) || caller is { Kind: CallerKind.System } && caller.HasRole(Roles.SystemClient))) return null;
        var name = contract.Child("display")?.Value is { } display ? $"{doctor} ({display})" : doctor;
        return $"Patient/{id} has a family-doctor contract: the record is maintained by the family doctor {name}, or by the record administrator " +
               $"or the system of {institution}; not by {who} / 签约居民的健康档案由家庭医生 {name} 负责管理";
    }

    /// <summary>
    /// Whether an update carries identifiers the caller's institution assigns and changes nothing else of the record (its
    /// medical record numbers: <c>identifier.assigner</c> = that institution; never an identity key nor the record
    /// number): an institution attaches those to a record it does not maintain (the PatientIdentity module's ITI-104
    /// feed), without touching what the maintainer keeps.
    /// </summary>
    public static bool OnlyOwnIdentifiers(Caller caller, ElementNode current, ElementNode written)
    {
        if (caller.Organization is not { } institution) return false;
        bool Own(ElementNode i) => i.Child("assigner")?.Child("reference")?.Value == institution
            && i.Child("system")?.Value is { } s && !IdentityKeys.IsKeySystem(s) && s != Profiles.Identifiers.HealthRecordNumber.OidSystem;
        // An update carrying none of its own identifiers is an ordinary change, for the maintainer (even when it changes nothing).
        if (!written.ChildrenNamed("identifier").Any(Own)) return false;
        return ResourceContent.SameBut(current, written, e => e.Name is "meta" or "text" || e.Name == "identifier" && Own(e));
    }

    private const string RefusalItem = "record-maintainer:refusal";

    /// <summary>
    /// <see cref="Refusal"/> for the caller of a write of the record <paramref name="current"/>, decided once per write
    /// (the identity feed and the maintainer rule both ask; kept in the write's items).
    /// </summary>
    public static string? Refusal(WriteContext context, ElementNode current, DateTimeOffset now)
    {
        if (context.Items.TryGetValue(RefusalItem, out var kept)) return (string?)kept;
        var why = Refusal(context.Http?.GetCaller() ?? Caller.Server, current, context.Id, now);
        context.Items[RefusalItem] = why;
        return why;
    }

    /// <summary>a ≤ b (or a &lt; b) comparing dates and dateTimes by their common date prefix; null when either is missing.</summary>
    private static bool? Before(string? a, string? b, bool orEqual)
    {
        if (string.IsNullOrEmpty(a) || string.IsNullOrEmpty(b)) return null;
        var n = Math.Min(Math.Min(a.Length, b.Length), 10);
        var c = string.CompareOrdinal(a[..n], b[..n]);
        return orEqual ? c <= 0 : c < 0;
    }
}

using System.Globalization;
using FhirArchive.Fhir.Model;
using FhirArchive.Profiles.Identifiers;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Rest.Writing;
using FhirArchive.Storage;

namespace FhirArchive.Archive.Records;

/// <summary>
/// The health-record number (居民健康档案编号): a new record gets the next number of its responsible institution's
/// division (a database counter, in the write's transaction: unique and never handed out twice); a number in the
/// payload is the server's to give, so it is replaced; later writes keep it (changing it gets 422). A record needs
/// its responsible institution (managingOrganization); while that institution has no division code on file the
/// record waits for its number, which the first write after the code is known assigns. A division code shorter than
/// the township level (a 6-digit county code) cannot make a number: the township segment must name a real township
/// (GB/T 10114), so a new record is refused with 422 asking for the institution's 9-digit code rather than being
/// left without a number. Records already on file keep being writable; they get their number once the code is fixed.
/// </summary>
public sealed class RecordNumberInterceptor(RecordScope scope) : IWriteInterceptor
{
    public const string DivisionExtension = "http://fhirarchive.cn/fhir/StructureDefinition/cn-division-code";

    public WriteStage Stage => WriteStage.Rules;

    public async ValueTask BeforeWriteAsync(WriteContext context)
    {
        if (context.Resource is not { } patient || !scope.IsRecordPatient(patient) || context.Intent.Procedure is RecordProcedure.Lifecycle) return;
        var organization = patient.Child("managingOrganization")?.Child("reference")?.Value;
        if (organization is null)
            throw FhirException.Unprocessable("A resident record needs its responsible institution (managingOrganization) / 档案须有管理责任单位");
        var current = context.CreatesResource ? null : RecordScope.Parse(context.Current);
        var kept = current is null ? null : NumberOf(current);
        var given = NumberOf(patient);
        if (kept is not null)
        {
            if (given is not null && given != kept)
                throw FhirException.Unprocessable($"The health-record number {kept} is the record's for good; it cannot become {given}.");
            if (given is null) AddNumber(patient, kept);
            return;
        }
        foreach (var id in patient.ChildrenNamed("identifier").Where(IsRecordNumber).ToList()) patient.Remove(id);
        if (await NextNumberAsync(context, organization, refuseShortCode: context.CreatesResource) is { } number) AddNumber(patient, number);
    }

    public ValueTask AfterWriteAsync(WriteContext context) => ValueTask.CompletedTask;

    /// <summary>The administrative division code an institution ("Organization/[id]") is on file with; null when none.</summary>
    public static async Task<string?> DivisionOfAsync(IWriteSession s, string? organization, CancellationToken ct)
    {
        if (organization?.Split('/') is not ["Organization", var id]) return null;
        var org = RecordScope.Parse(await s.ReadAsync("Organization", id, ct));
        return org?.ChildrenNamed("extension").FirstOrDefault(e => e.Child("url")?.Value == DivisionExtension)?.Child("value")?.Child("code")?.Value;
    }

    private async Task<string?> NextNumberAsync(WriteContext context, string organization, bool refuseShortCode)
    {
        var layout = scope.Options.RecordNumber;
        var division = await DivisionOfAsync(context.Session, organization, context.CancellationToken);
        if (division is null) return null;
        if (division.Length < layout.DivisionDigits || !division.All(char.IsAsciiDigit))
        {
            if (!refuseShortCode) return null;
            throw FhirException.Unprocessable(
                $"{organization} is on file with the division code {division}; a health-record number starts with the {layout.DivisionDigits}-digit " +
                $"code of the township (street) the institution serves (county 6 + township 3, GB/T 10114), so record its township code first / " +
                $"责任机构的行政区划代码 {division} 不到乡镇（街道）级，无法编制档案编号，请先登记机构所在乡镇（街道）的 {layout.DivisionDigits} 位代码");
        }
        var village = division.Length >= layout.DivisionDigits + layout.VillageDigits
            ? division.Substring(layout.DivisionDigits, layout.VillageDigits)
            : layout.DefaultVillage;
        var prefix = division[..layout.DivisionDigits] + village;
        var serial = await context.Session.NextCounterAsync("health-record-number:" + prefix, context.CancellationToken);
        if (serial >= (long)Math.Pow(10, layout.SerialDigits))
            throw FhirException.Unprocessable($"The record numbers of division {prefix} are used up ({layout.SerialDigits}-digit serial).");
        return prefix + serial.ToString("D" + layout.SerialDigits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
    }

    private static bool IsRecordNumber(ElementNode identifier) => identifier.Child("system")?.Value == HealthRecordNumber.OidSystem;

    private static string? NumberOf(ElementNode patient) =>
        patient.ChildrenNamed("identifier").FirstOrDefault(IsRecordNumber)?.Child("value")?.Value;

    private static void AddNumber(ElementNode patient, string number)
    {
        var identifier = patient.Add("identifier");
        identifier.Add("use", "official");
        identifier.Add("system", HealthRecordNumber.OidSystem);
        identifier.Add("value", number);
    }
}

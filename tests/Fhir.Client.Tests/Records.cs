using FhirArchive.Server.SampleData;
using Hl7.Fhir.Model;

namespace FhirArchive.Client.Tests;

/// <summary>
/// Resident records as a hospital system writes them through Firely: each a new person (a fresh, valid ID card
/// number: GB 11643 check character, birth date and sex digit agreeing), managed by the sample 北京市朝阳区社区卫生服务中心
/// (the demo system client's institution), meeting cn-resident-patient; their service records meeting cn-observation.
/// </summary>
public static class Records
{
    public const string IdCardSystem = "urn:oid:2.16.156.10011.1.3";
    public const string Hospital = DemoAccounts.Hospital;

    private static int _sequence = Random.Shared.Next(0, 400);

    private static readonly (string Family, string Given)[] Names =
        [("陈", "晓明"), ("林", "静"), ("黄", "建国"), ("周", "婷"), ("吴", "磊"), ("徐", "丽娟"), ("孙", "浩"), ("马", "秀英")];

    /// <summary>A new resident: a distinct person each call (birth date and sequence both vary).</summary>
    public static Patient NewResident(string? family = null)
    {
        var n = Interlocked.Increment(ref _sequence);
        var male = n % 2 == 1;
        var birth = new DateOnly(1950, 1, 1).AddDays(Random.Shared.Next(0, 365 * 50)).ToString("yyyy-MM-dd");
        var card = SampleDataLoader.IdCardNumber("110105", birth, (n % 500 * 2 + (male ? 1 : 0)).ToString("D3"));
        var (f, g) = Names[n % Names.Length];
        return new Patient
        {
            Identifier = [new Identifier(IdCardSystem, card)],
            Name = [new HumanName { Family = family ?? f, Given = [g], Text = (family ?? f) + g }],
            Telecom = [new ContactPoint(ContactPoint.ContactPointSystem.Phone, ContactPoint.ContactPointUse.Mobile, "139" + Random.Shared.Next(10_000_000, 99_999_999))],
            Gender = male ? AdministrativeGender.Male : AdministrativeGender.Female,
            BirthDate = birth,
            Address = [new Address { Use = Address.AddressUse.Home, Text = "北京市朝阳区建外街道", City = "北京市", District = "朝阳区" }],
            ManagingOrganization = new ResourceReference(Hospital),
        };
    }

    public static string IdCard(Patient p) => p.Identifier.Single(i => i.System == IdCardSystem).Value!;

    /// <summary>A systolic blood pressure taken at a follow-up (收缩压), LOINC 8480-6.</summary>
    public static Observation BloodPressure(string patientId, decimal mmHg, string when = "2026-11-20T09:30:00+08:00") => new()
    {
        Status = ObservationStatus.Final,
        Category = [new CodeableConcept("http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs")],
        Code = new CodeableConcept("http://loinc.org", "8480-6", "Systolic blood pressure", "收缩压"),
        Subject = new ResourceReference("Patient/" + patientId),
        Effective = new FhirDateTime(when),
        Performer = [new ResourceReference("Practitioner/dr-chen-jing")],
        Value = new Quantity(mmHg, "mm[Hg]", "http://unitsofmeasure.org") { Unit = "mmHg" },
    };
}

using FhirArchive.Profiles.Identifiers;
using FhirArchive.Terminology;
using FhirArchive.Terminology.Sources;
using Xunit;

namespace FhirArchive.Profiles.Tests;

/// <summary>Property-style tests: each rule checked over thousands of generated values (fixed seeds, repeatable).</summary>
public class IdentifierPropertyTests
{
    private static readonly TerminologyDivisionDirectory Divisions = new(TerminologyService.Default);
    private static readonly DateOnly Today = new(2026, 11, 22);

    private static readonly string[] Counties = TerminologyService.Default.GetCodeSystem(CnTerminology.AdminDivision)!
        .Concepts.Where(c => c.Properties.GetValueOrDefault("county-level") == "true").Select(c => c.Code).Order().ToArray();

    private static readonly string[] Townships = TerminologyService.Default.GetCodeSystem(CnTerminology.AdminDivision)!
        .Concepts.Where(c => c.Properties["level"] == "township").Select(c => c.Code).Order().ToArray();

    private static string RandomIdCard(Random rng, out DateOnly birth, out bool male)
    {
        var county = Counties[rng.Next(Counties.Length)];
        birth = DateOnly.FromDayNumber(rng.Next(new DateOnly(1900, 1, 1).DayNumber, Today.DayNumber + 1));
        var seq = rng.Next(0, 1000);
        male = seq % 2 == 1;
        var first17 = $"{county}{birth:yyyyMMdd}{seq:D3}";
        return first17 + ResidentIdCard.CheckCharacter(first17);
    }

    [Fact]
    public void The_standard_example_is_valid()
    {
        Assert.True(ResidentIdCard.Check("11010519491231002X", Divisions, Today).IsValid);
        Assert.True(ResidentIdCard.Check("11010519491231002x", Divisions, Today).IsValid); // lower-case x accepted
        Assert.True(ResidentIdCard.TryParse("11010519491231002X", Divisions, Today, out var p, out _));
        Assert.Equal(new DateOnly(1949, 12, 31), p!.BirthDate);
        Assert.False(p.IsMale);
    }

    [Fact]
    public void Generated_numbers_are_valid_and_carry_birth_date_and_sex()
    {
        var rng = new Random(11643);
        for (var i = 0; i < 5000; i++)
        {
            var id = RandomIdCard(rng, out var birth, out var male);
            Assert.True(ResidentIdCard.TryParse(id, Divisions, Today, out var p, out var problems), $"{id}: {string.Join("; ", problems)}");
            Assert.Equal(birth, p!.BirthDate);
            Assert.Equal(male, p.IsMale);
        }
    }

    [Fact]
    public void Any_single_digit_change_is_detected()
    {
        var rng = new Random(7064);
        for (var i = 0; i < 5000; i++)
        {
            var id = RandomIdCard(rng, out _, out _).ToCharArray();
            var pos = rng.Next(17);
            var old = id[pos];
            do id[pos] = (char)('0' + rng.Next(10)); while (id[pos] == old);
            Assert.False(ResidentIdCard.Check(new string(id), null, Today).IsValid, new string(id));
        }
    }

    [Fact]
    public void Any_adjacent_transposition_is_detected()
    {
        var rng = new Random(112);
        var tested = 0;
        while (tested < 3000)
        {
            var id = RandomIdCard(rng, out _, out _).ToCharArray();
            var pos = rng.Next(16);
            if (id[pos] == id[pos + 1]) continue;
            (id[pos], id[pos + 1]) = (id[pos + 1], id[pos]);
            Assert.False(ResidentIdCard.Check(new string(id), null, Today).IsValid, new string(id));
            tested++;
        }
    }

    [Theory]
    [InlineData("11010519491231002", "18")]                  // 17 characters
    [InlineData("110105194912310021", "check character")]    // wrong check digit
    [InlineData("11010519491331002X", "birth date")]          // month 13
    [InlineData("11010520990101002X", "out of range")]        // born in the future
    [InlineData("99010519491231002X", "county code")]         // no such division
    [InlineData("1101051949123100AX", "digit")]
    public void Bad_numbers_say_why(string id, string reason)
    {
        var r = ResidentIdCard.Check(id, Divisions, Today);
        Assert.False(r.IsValid);
        Assert.Contains(r.Problems, p => p.Contains(reason));
    }

    [Fact]
    public void Retired_county_codes_stay_valid_on_id_cards()
    {
        const string first17 = "50018119800101001"; // 江津市 (500181), retired in 2006
        Assert.True(ResidentIdCard.Check(first17 + ResidentIdCard.CheckCharacter(first17), Divisions, Today).IsValid);
    }

    [Fact]
    public void Legacy_15_digit_numbers_upgrade_to_valid_18_digit_ones()
    {
        var rng = new Random(15);
        for (var i = 0; i < 1000; i++)
        {
            var id18 = RandomIdCard(rng, out var birth, out _);
            if (birth.Year is < 1900 or > 1999) continue;
            var id15 = id18[..6] + id18.Substring(8, 9);
            Assert.Equal(id18, ResidentIdCard.FromLegacy15(id15));
        }
        Assert.Null(ResidentIdCard.FromLegacy15("12345"));
    }

    [Fact]
    public void Health_record_numbers_round_trip_and_check_their_segments()
    {
        var rng = new Random(17);
        string[] villages = [.. Enumerable.Range(1, 999).Select(n => n.ToString("D3")).Where(HealthRecordNumber.IsVillageSegment)];
        Assert.Equal(99 + 99 + 99, villages.Length);
        for (var i = 0; i < 3000; i++)
        {
            var township = Townships[rng.Next(Townships.Length)];
            var village = villages[rng.Next(villages.Length)];
            var serial = rng.Next(1, 100_000);
            var number = HealthRecordNumber.Build(township, village, serial);
            Assert.Equal(17, number.Length);
            Assert.True(HealthRecordNumber.TryParse(number, Divisions, out var parts, out var problems), string.Join("; ", problems));
            Assert.Equal((township[..6], township[6..], village, serial), (parts!.County, parts.Township, parts.Village, parts.Serial));
        }
    }

    [Theory]
    [InlineData("5001010010000001", "17")]
    [InlineData("50010100120000001", "village")]   // 200: NBS style village code, not a health-record one
    [InlineData("50010100100100000", "serial")]
    [InlineData("50010199900100001", "township")]  // no township 999 under 万州区
    public void Bad_health_record_numbers_say_why(string number, string reason)
    {
        var r = HealthRecordNumber.Check(number, Divisions);
        Assert.False(r.IsValid);
        Assert.Contains(r.Problems, p => p.Contains(reason));
    }

    [Fact]
    public void Birth_certificate_numbers_are_a_letter_and_nine_digits()
    {
        var rng = new Random(10);
        for (var i = 0; i < 2000; i++)
        {
            var valid = $"{(char)('A' + rng.Next(26))}{rng.Next(0, 1_000_000_000):D9}";
            Assert.True(BirthCertificateNumber.Check(valid).IsValid, valid);
            var broken = valid.ToCharArray();
            var pos = rng.Next(10);
            broken[pos] = pos == 0 ? (char)('0' + rng.Next(10)) : (char)('a' + rng.Next(26));
            Assert.False(BirthCertificateNumber.Check(new string(broken)).IsValid, new string(broken));
        }
        Assert.False(BirthCertificateNumber.Check("Q44001234").IsValid);
    }
}

namespace FhirArchive.Profiles.Identifiers;

/// <summary>
/// The 17-digit resident health-record number (居民健康档案编号, 国家基本公共卫生服务规范): county code (6, GB/T 2260),
/// township (3, GB/T 10114), village or residents' committee (3: 居委会 001-099, 村委会 101-199, other 901-999) and a
/// 5-digit serial number.
/// </summary>
public static class HealthRecordNumber
{
    public const string OidSystem = "urn:oid:2.16.156.10011.1.2";

    public sealed record Parts(string County, string Township, string Village, int Serial)
    {
        public override string ToString() => $"{County}{Township}{Village}{Serial:D5}";
    }

    public static string Build(string township9, string village3, int serial)
    {
        if (township9.Length != 9 || !township9.All(char.IsAsciiDigit)) throw new ArgumentException("township code has 9 digits", nameof(township9));
        if (!IsVillageSegment(village3)) throw new ArgumentException("village segment: 001-099, 101-199 or 901-999", nameof(village3));
        if (serial is < 1 or > 99_999) throw new ArgumentOutOfRangeException(nameof(serial), "serial 00001-99999");
        return new Parts(township9[..6], township9[6..], village3, serial).ToString();
    }

    public static IdentifierCheck Check(string? number, IDivisionDirectory? divisions = null) =>
        TryParse(number, divisions, out _, out var problems) ? IdentifierCheck.Valid : IdentifierCheck.Invalid([.. problems]);

    public static bool TryParse(string? number, IDivisionDirectory? divisions, out Parts? parts, out List<string> problems)
    {
        parts = null;
        problems = [];
        if (number is null || number.Length != 17 || !number.All(char.IsAsciiDigit))
        {
            problems.Add("健康档案编号须为17位数字 / a health-record number has 17 digits");
            return false;
        }
        var village = number.Substring(9, 3);
        if (!IsVillageSegment(village))
            problems.Add($"村(居)委会代码 {village} 须在 001-099、101-199 或 901-999 / village segment {village} out of range");
        var serial = int.Parse(number.AsSpan(12, 5));
        if (serial == 0) problems.Add("顺序号不能为 00000 / the serial number starts at 00001");
        if (divisions is not null && !divisions.IsTownship(number[..9]))
            problems.Add($"乡镇(街道)代码 {number[..9]} 不存在 / {number[..9]} is not a known township");
        if (problems.Count > 0) return false;
        parts = new Parts(number[..6], number.Substring(6, 3), village, serial);
        return true;
    }

    /// <summary>居委会 001-099, 村委会 101-199, other 901-999.</summary>
    public static bool IsVillageSegment(string segment)
    {
        if (segment.Length != 3 || !segment.All(char.IsAsciiDigit)) return false;
        var n = int.Parse(segment);
        return n is >= 1 and <= 99 or >= 101 and <= 199 or >= 901 and <= 999;
    }
}

using System.Globalization;

namespace FhirArchive.Profiles.Identifiers;

/// <summary>
/// The resident identity card number (公民身份号码, GB 11643-1999): 6-digit address code, 8-digit birth date,
/// 3-digit sequence (odd for men, even for women) and a MOD 11-2 (ISO 7064) check character, 0-9 or X.
/// </summary>
public static class ResidentIdCard
{
    public const string OidSystem = "urn:oid:2.16.156.10011.1.3";

    private static readonly int[] Weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    private const string CheckChars = "10X98765432";

    public sealed record Parsed(string Number, string AddressCode, DateOnly BirthDate, bool IsMale);

    /// <summary>The check character for the first 17 digits.</summary>
    public static char CheckCharacter(ReadOnlySpan<char> first17)
    {
        var sum = 0;
        for (var i = 0; i < 17; i++) sum += (first17[i] - '0') * Weights[i];
        return CheckChars[sum % 11];
    }

    /// <summary>Checks format, birth date, check character and (when a directory is given) the address code.</summary>
    public static IdentifierCheck Check(string? number, IDivisionDirectory? divisions = null, DateOnly? today = null)
        => TryParse(number, divisions, today, out _, out var problems) ? IdentifierCheck.Valid : IdentifierCheck.Invalid([.. problems]);

    public static bool TryParse(string? number, IDivisionDirectory? divisions, DateOnly? today, out Parsed? parsed, out List<string> problems)
    {
        parsed = null;
        problems = [];
        if (number is null || number.Length != 18)
        {
            problems.Add("身份证号须为18位 / an ID card number has 18 characters");
            return false;
        }
        for (var i = 0; i < 17; i++)
            if (!char.IsAsciiDigit(number[i]))
            {
                problems.Add($"第{i + 1}位须为数字 / character {i + 1} must be a digit");
                return false;
            }
        var last = number[17] == 'x' ? 'X' : number[17];
        if (!char.IsAsciiDigit(last) && last != 'X')
        {
            problems.Add("校验码须为0-9或X / the check character is 0-9 or X");
            return false;
        }

        var address = number[..6];
        if (divisions is not null && !divisions.IsCountyEverIssued(address))
            problems.Add($"地址码 {address} 不是有效的县级行政区划代码 / {address} is not a GB/T 2260 county code");

        var birthOk = DateOnly.TryParseExact(number.AsSpan(6, 8), "yyyyMMdd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var birth);
        if (!birthOk)
            problems.Add($"出生日期 {number.Substring(6, 8)} 无效 / the birth date {number.Substring(6, 8)} is not a date");
        else if (birth > (today ?? DateOnly.FromDateTime(DateTime.UtcNow.AddHours(8))) || birth.Year < 1850)
            problems.Add($"出生日期 {birth:yyyy-MM-dd} 不合理 / the birth date {birth:yyyy-MM-dd} is out of range");

        var expected = CheckCharacter(number);
        if (last != expected)
            problems.Add($"校验码应为 {expected} / the check character should be {expected}");

        if (problems.Count > 0) return false;
        parsed = new Parsed(number[..17] + last, address, birth, (number[16] - '0') % 2 == 1);
        return true;
    }

    /// <summary>Upgrades a 15-digit number (issued before 1999: 2-digit year, no check character) to 18 digits.</summary>
    public static string? FromLegacy15(string number)
    {
        if (number.Length != 15 || !number.All(char.IsAsciiDigit)) return null;
        var first17 = number[..6] + "19" + number[6..];
        return first17 + CheckCharacter(first17);
    }
}

namespace FhirArchive.Profiles.Identifiers;

/// <summary>
/// The birth medical certificate number (出生医学证明编号): one capital letter for the edition followed by nine
/// digits (e.g. "Q440012345"). A newborn's record may be filed under it until the ID card number is issued.
/// </summary>
public static class BirthCertificateNumber
{
    /// <summary>No national OID is known for it: FhirArchive's own identifier system.</summary>
    public const string System = "http://fhirarchive.cn/fhir/sid/birth-certificate";

    public static IdentifierCheck Check(string? number)
    {
        if (number is null || number.Length != 10)
            return IdentifierCheck.Invalid("出生医学证明编号须为10位 / a birth certificate number has 10 characters");
        if (!char.IsAsciiLetterUpper(number[0]))
            return IdentifierCheck.Invalid("首位须为大写字母 / it starts with a capital letter (the edition)");
        for (var i = 1; i < 10; i++)
            if (!char.IsAsciiDigit(number[i]))
                return IdentifierCheck.Invalid($"第{i + 1}位须为数字 / character {i + 1} must be a digit");
        return IdentifierCheck.Valid;
    }
}

namespace FhirArchive.Profiles.Identifiers;

/// <summary>The result of checking an identifier: valid, or the reasons (Chinese / English) it is not.</summary>
public sealed record IdentifierCheck(bool IsValid, IReadOnlyList<string> Problems)
{
    public static readonly IdentifierCheck Valid = new(true, []);

    public static IdentifierCheck Invalid(params string[] problems) => new(false, problems);
}

/// <summary>Where the GB/T 2260 codes are looked up (the terminology service in production, a fake in tests).</summary>
public interface IDivisionDirectory
{
    /// <summary>A county-level code ever issued (retired ones included: an ID card keeps the code of its first issue).</summary>
    bool IsCountyEverIssued(string code6);

    /// <summary>A current township code (9 digits) under the given county.</summary>
    bool IsTownship(string code9);
}

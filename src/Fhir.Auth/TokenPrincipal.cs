namespace FhirArchive.Auth;

/// <summary>
/// Who a token speaks for, as issued or as validated: the FHIR server maps it onto its Caller.
/// FhirUser and Patient are relative FHIR references ("Practitioner/1", "Patient/2").
/// </summary>
public sealed record TokenPrincipal(
    string Subject,
    bool IsPerson,
    string? DisplayName,
    IReadOnlyList<string> Roles,
    IReadOnlyList<string> Scopes,
    string? ClientId,
    string? Organization = null,
    string? FhirUser = null,
    string? Patient = null,
    string? Jurisdiction = null,
    string? PurposeOfUse = null)
{
    public string? TokenId { get; init; }
    /// <summary>The grant (authorisation) a person's token was issued under: a code's exchange and its refreshes.</summary>
    public string? GrantId { get; init; }
    public string? Issuer { get; init; }
    public DateTimeOffset? ExpiresAt { get; init; }
    public DateTimeOffset? IssuedAt { get; init; }
}

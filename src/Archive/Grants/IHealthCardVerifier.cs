using FhirArchive.Fhir.Model;
using FhirArchive.Profiles.Identifiers;

namespace FhirArchive.Archive.Grants;

/// <summary>
/// Checks what a clinician presents for the resident's electronic health card (the <c>card</c> of $grant-access) and
/// says which card id it proves. Called once per attempt, before the attempt's write session: a verifier may spend
/// what it was given (a QR code is accepted once). Whether that card is the record's is <see cref="HealthCard.Belongs"/>.
/// </summary>
public interface IHealthCardVerifier
{
    /// <summary>Which verifier is active, for the start-up banner (English / Chinese).</summary>
    string Description { get; }

    Task<HealthCardResult> RedeemAsync(string presented, CancellationToken ct);
}

/// <summary>The card id proven, or why not: a FHIR issue type (security, expired, duplicate, invalid) and the reason.</summary>
public sealed record HealthCardResult(string? CardId, string? IssueType = null, string? Refusal = null)
{
    public static HealthCardResult Refused(string issueType, string reason) => new(null, issueType, reason);
}

/// <summary>The health card as an identifier of the Patient: one card across institutions (一卡通).</summary>
public static class HealthCard
{
    /// <summary>Whether the Patient carries the card id as its health-card identifier (<see cref="HealthCardNumber.OidSystem"/>).</summary>
    public static bool Belongs(ElementNode patient, string cardId) =>
        patient.ChildrenNamed("identifier").Any(i => i.Child("system")?.Value == HealthCardNumber.OidSystem && i.Child("value")?.Value is { } v && v == cardId);
}

/// <summary>
/// The demo verifier: the card number itself is the proof (anyone who knows it passes, so only for the demo or
/// without a platform key). Active when Security:DemoAccounts is on or no Consent:HealthCard platform key is configured.
/// </summary>
public sealed class PatientHealthCardVerifier : IHealthCardVerifier
{
    public string Description => "demo: the card number is taken as the card (no platform key, or demo on) / 演示：直接核对卡号";

    public Task<HealthCardResult> RedeemAsync(string presented, CancellationToken ct) =>
        Task.FromResult(new HealthCardResult(presented.Trim()));
}

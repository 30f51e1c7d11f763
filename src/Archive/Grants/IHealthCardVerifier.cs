using FhirArchive.Fhir.Model;
using FhirArchive.Profiles.Identifiers;
using FhirArchive.Storage;

namespace FhirArchive.Archive.Grants;

/// <summary>
/// Checks what a clinician presents for the resident's electronic health card (the <c>card</c> of $grant-access) and
/// says which card id it proves. <see cref="Verify"/> is pure (signature, format, validity): nothing is spent, so a
/// refused attempt leaves the code fresh. A code accepted once carries its <see cref="HealthCardResult.OnceKey"/>, spent by
/// <see cref="HealthCard.SpendAsync"/> in the attempt's write session right before the grant is written. Whether that
/// card is the record's is <see cref="HealthCard.Belongs"/>.
/// </summary>
public interface IHealthCardVerifier
{
    /// <summary>Which verifier is active, for the start-up banner (English / Chinese).</summary>
    string Description { get; }

    HealthCardResult Verify(string presented);
}

/// <summary>
/// The card id proven, or why not: the HTTP status (422, or 501 when no verifier is configured), a FHIR issue type
/// (security, expired, duplicate, invalid, not-supported) and the reason. <see cref="OnceKey"/>: the name under which a
/// code accepted once is spent (null: nothing to spend, the demo's card number).
/// </summary>
public sealed record HealthCardResult(string? CardId, string? IssueType = null, string? Refusal = null, int Status = 422, string? OnceKey = null)
{
    public static HealthCardResult Refused(string issueType, string reason, int status = 422) => new(null, issueType, reason, status);

    public const string DuplicateReason = "This health card code was used already: show a fresh one / 该电子健康卡动态码已使用，请刷新后重试";
}

/// <summary>The health card as an identifier of the Patient: one card across institutions (一卡通).</summary>
public static class HealthCard
{
    /// <summary>Whether the Patient carries the card id as its health-card identifier (<see cref="HealthCardNumber.OidSystem"/>).</summary>
    public static bool Belongs(ElementNode patient, string cardId) =>
        patient.ChildrenNamed("identifier").Any(i => i.Child("system")?.Value == HealthCardNumber.OidSystem && i.Child("value")?.Value is { } v && v == cardId);

    /// <summary>The used-once claims of health card codes (kept for good: one row per granted code).</summary>
    public const string UsedScope = "health-card-code";

    /// <summary>
    /// Spends a verified code in the write session (a UNIQUE claim, rolled back with the session); false when it was
    /// spent already (a replay). Called right before the grant is written. A card without a once key spends nothing.
    /// </summary>
    public static async Task<bool> SpendAsync(IWriteSession s, HealthCardResult card, CancellationToken ct)
    {
        if (card.OnceKey is not { } key) return true;
        var owner = Guid.NewGuid().ToString("N");
        return await s.ClaimUniqueAsync(UsedScope, key, owner, ct) == owner;
    }
}

/// <summary>
/// The demo verifier: the card number itself is the proof (anyone who knows it passes, so only for the demo or
/// without a platform key). Active only when no Consent:HealthCard platform key is configured and the demo accounts
/// (Security:DemoAccounts) are on; the server logs a warning at start.
/// </summary>
public sealed class PatientHealthCardVerifier : IHealthCardVerifier
{
    public string Description => "demo: the card number is taken as the card (no platform key, demo accounts on) / 演示：直接核对卡号（未配置平台公钥）";

    public HealthCardResult Verify(string presented) => new(presented.Trim());
}

/// <summary>
/// No platform key and the demo accounts off: method=health-card is not available (501), rather than a card number
/// taken as proof in production.
/// </summary>
public sealed class UnconfiguredHealthCardVerifier : IHealthCardVerifier
{
    public const string Reason = "The electronic health card is not configured on this server (Consent:HealthCard:PlatformKey) / 本服务器未配置电子健康卡平台公钥，暂不支持电子健康卡授权";

    public string Description => "not configured: method=health-card answers 501 (no Consent:HealthCard:PlatformKey) / 电子健康卡未配置";

    public HealthCardResult Verify(string presented) => HealthCardResult.Refused("not-supported", Reason, 501);
}

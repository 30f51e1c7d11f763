using FhirArchive.Crypto;

namespace FhirArchive.Archive.Grants;

/// <summary>
/// The card platform's verifier: <c>card</c> is the dynamic QR code (<see cref="HealthCardCode"/>) the card
/// management system issued and signed with SM2; it proves its card id when the signature is the platform key's,
/// it is within its validity (± Consent:HealthCard:ClockSkewSeconds, at most MaxValiditySeconds long) and it was
/// not presented before. <see cref="Verify"/> spends nothing; each code is accepted once through its
/// <see cref="HealthCardResult.OnceKey"/>, claimed in the grant's write session (<see cref="HealthCard.SpendAsync"/>, on the
/// database, so every server instance refuses the replay).
/// </summary>
public sealed class PlatformHealthCardVerifier(Sm2Key platformKey, HealthCardOptions options, TimeProvider clock) : IHealthCardVerifier
{
    public string Description => $"card platform: SM2-signed dynamic QR codes, key {platformKey.KeyId()} / 电子健康卡平台动态码（SM2 验签）";

    public HealthCardResult Verify(string presented)
    {
        var skew = TimeSpan.FromSeconds(options.ClockSkewSeconds);
        var (status, code) = HealthCardCode.Verify(presented, platformKey, clock.GetUtcNow(), skew, TimeSpan.FromSeconds(options.MaxValiditySeconds));
        return code is null ? Refusal(status) : new HealthCardResult(code.CardId, OnceKey: code.Key);
    }

    private static HealthCardResult Refusal(HealthCardCodeStatus status) => status switch
    {
        HealthCardCodeStatus.Expired => HealthCardResult.Refused("expired", "The health card code has expired: show a fresh one / 电子健康卡动态码已过期，请刷新"),
        HealthCardCodeStatus.NotYetValid => HealthCardResult.Refused("security", "The health card code is not valid yet (check the clocks) / 电子健康卡动态码尚未生效"),
        HealthCardCodeStatus.TooLong => HealthCardResult.Refused("security", "The health card code claims too long a validity / 电子健康卡动态码有效期过长"),
        HealthCardCodeStatus.BadSignature => HealthCardResult.Refused("security", "The health card code's signature does not verify with the card platform's key / 电子健康卡动态码验签失败"),
        _ => HealthCardResult.Refused("invalid", $"Not an electronic health card QR code ({HealthCardCode.Prefix}.…) / 不是有效的电子健康卡二维码"),
    };
}

using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace FhirArchive.Crypto;

/// <summary>Why a health card QR code was refused (or <see cref="Valid"/>).</summary>
public enum HealthCardCodeStatus
{
    Valid,
    /// <summary>Not a code of this format: wrong prefix, field count, encoding or numbers.</summary>
    Malformed,
    /// <summary>The signature is not the platform key's over the code (forged, altered, or signed by another key).</summary>
    BadSignature,
    /// <summary>Issued later than now plus the clock skew allowed.</summary>
    NotYetValid,
    /// <summary>Expired before now minus the clock skew allowed.</summary>
    Expired,
    /// <summary>Valid for longer than a dynamic code may be (expires − issued above the maximum).</summary>
    TooLong,
}

/// <summary>
/// The electronic health card's dynamic QR code (电子健康卡动态二维码) as FhirArchive reads it: a compact text
/// <c>EHC1.{card}.{issued}.{expires}.{nonce}.{signature}</c> — card = the card id (UTF-8, base64url), issued and
/// expires = Unix seconds (UTC, decimal), nonce = 16 random bytes (base64url), signature = SM2 (SM3 over Z_A ‖ M,
/// Z_A with the GM/T 0009 default user id 1234567812345678) by the card management system's key over the ASCII text
/// before the last dot, written r ‖ s (64 bytes, base64url). Base64url is without padding. The format is local: the
/// national specification's code is not public in full (README "Electronic health card"). The card id and nonce
/// together name the code, for the replay memory.
/// </summary>
public sealed record HealthCardCode(string CardId, DateTimeOffset Issued, DateTimeOffset Expires, string Nonce)
{
    public const string Prefix = "EHC1";
    private const int NonceBytes = 16;
    private const int MaxCardIdBytes = 64;

    /// <summary>The name of this code for replay protection: card id and nonce (each base64url, so the dot separates them).</summary>
    public string Key => Encode(Encoding.UTF8.GetBytes(CardId)) + "." + Nonce;

    /// <summary>A new code for <paramref name="cardId"/>, valid from <paramref name="issued"/> for <paramref name="validity"/>, signed with the platform's private key.</summary>
    public static string Issue(Sm2Key platformKey, string cardId, DateTimeOffset issued, TimeSpan validity)
    {
        var card = Encoding.UTF8.GetBytes(cardId);
        if (card.Length is 0 or > MaxCardIdBytes) throw new ArgumentException($"A card id has 1 to {MaxCardIdBytes} bytes.", nameof(cardId));
        if (validity <= TimeSpan.Zero) throw new ArgumentException("The validity must be positive.", nameof(validity));
        var from = issued.ToUnixTimeSeconds();
        var signed = string.Join('.', Prefix, Encode(card), Number(from), Number(from + (long)Math.Ceiling(validity.TotalSeconds)),
            Encode(RandomNumberGenerator.GetBytes(NonceBytes)));
        return signed + "." + Encode(platformKey.Sign(Encoding.ASCII.GetBytes(signed), Sm2SignatureFormat.Raw));
    }

    /// <summary>
    /// Reads and checks a code: its form, then the signature with the platform's public key, then the times against
    /// <paramref name="now"/> (each side widened by <paramref name="skew"/>) and the longest validity allowed. The code
    /// is returned only when <see cref="HealthCardCodeStatus.Valid"/>. Whether it was used before is the caller's memory.
    /// </summary>
    public static (HealthCardCodeStatus Status, HealthCardCode? Code) Verify(string text, Sm2Key platformKey, DateTimeOffset now, TimeSpan skew, TimeSpan maxValidity)
    {
        var (code, signed, signature) = Parse(text.Trim());
        if (code is null) return (HealthCardCodeStatus.Malformed, null);
        if (!platformKey.Verify(Encoding.ASCII.GetBytes(signed!), signature!, Sm2SignatureFormat.Raw)) return (HealthCardCodeStatus.BadSignature, null);
        if (code.Expires - code.Issued > maxValidity) return (HealthCardCodeStatus.TooLong, null);
        if (code.Issued > now + skew) return (HealthCardCodeStatus.NotYetValid, null);
        if (code.Expires <= now - skew) return (HealthCardCodeStatus.Expired, null);
        return (HealthCardCodeStatus.Valid, code);
    }

    private static (HealthCardCode? Code, string? Signed, byte[]? Signature) Parse(string text)
    {
        // Longest legal code: prefix, 64-byte card id, two 19-digit numbers, nonce, signature and dots ≈ 250 characters.
        if (text.Length > 400) return default;
        var parts = text.Split('.');
        if (parts.Length != 6 || parts[0] != Prefix) return default;
        var card = Decode(parts[1]);
        var nonce = Decode(parts[4]);
        var signature = Decode(parts[5]);
        if (card is null || card.Length is 0 or > MaxCardIdBytes || nonce is not { Length: NonceBytes } || signature is not { Length: 64 }) return default;
        if (!TryTime(parts[2], out var issued) || !TryTime(parts[3], out var expires) || expires <= issued) return default;
        string cardId;
        try { cardId = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(card); }
        catch (DecoderFallbackException) { return default; }
        if (cardId.Any(char.IsControl) || cardId.Trim() != cardId) return default;
        return (new HealthCardCode(cardId, issued, expires, parts[4]), text[..text.LastIndexOf('.')], signature);
    }

    /// <summary>Unix seconds, plain decimal digits only (no sign, no leading zeros), within DateTimeOffset's range.</summary>
    private static bool TryTime(string s, out DateTimeOffset time)
    {
        time = default;
        if (s.Length is 0 or > 12 || (s.Length > 1 && s[0] == '0') || !s.All(char.IsAsciiDigit)) return false;
        var seconds = long.Parse(s, CultureInfo.InvariantCulture);
        if (seconds > DateTimeOffset.MaxValue.ToUnixTimeSeconds()) return false;
        time = DateTimeOffset.FromUnixTimeSeconds(seconds);
        return true;
    }

    private static string Number(long n) => n.ToString(CultureInfo.InvariantCulture);

    private static string Encode(ReadOnlySpan<byte> bytes) => Sm2Key.Base64Url(bytes);

    /// <summary>Canonical base64url without padding, or null: one code has one spelling, so its replay name is unique.</summary>
    private static byte[]? Decode(string s)
    {
        if (s.Length == 0 || !Base64Url.IsValid(s) || s.Contains('=')) return null;
        var bytes = Base64Url.DecodeFromChars(s);
        return Encode(bytes) == s ? bytes : null;
    }
}

using System.Security.Cryptography;
using System.Text;
using FhirArchive.Crypto;

using FhirArchive.Archive.Consent;

namespace FhirArchive.Archive.Grants;

/// <summary>
/// One-time codes: six random digits (RandomNumberGenerator), stored only as SM3(salt ‖ request id ‖ code) with a
/// random salt, compared in constant time. A million codes and five attempts: a guess succeeds once in 200,000.
/// </summary>
public static class AccessCodes
{
    public static string NewCode() => RandomNumberGenerator.GetInt32(0, 1_000_000).ToString("D6");

    public static string NewRequestId() => Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();

    public static byte[] NewSalt() => RandomNumberGenerator.GetBytes(16);

    public static byte[] Hash(byte[] salt, string requestId, string code) =>
        Sm3.Hash([.. salt, .. Encoding.UTF8.GetBytes(requestId + ":" + code)]);

    public static bool Matches(byte[] salt, string requestId, string code, byte[] expected) =>
        CryptographicOperations.FixedTimeEquals(Hash(salt, requestId, code.Trim()), expected);
}

using System.Security.Cryptography;

namespace FhirArchive.Auth.Accounts;

/// <summary>
/// PBKDF2-HMAC-SHA256 password hashes as "pbkdf2-sha256$iterations$salt$hash" (base64); compared in constant time.
/// </summary>
public static class PasswordHasher
{
    public const int DefaultIterations = 210_000;
    private const int SaltBytes = 16, HashBytes = 32;

    public static string Hash(string password, int iterations = DefaultIterations)
    {
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        var hash = Rfc2898DeriveBytes.Pbkdf2(password, salt, iterations, HashAlgorithmName.SHA256, HashBytes);
        return $"pbkdf2-sha256${iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}";
    }

    /// <summary>
    /// A hash of no one's password at the default cost: verified instead when there is no account (or it may not log in),
    /// so such an attempt costs the same time as a wrong password and does not tell which usernames exist.
    /// </summary>
    public static readonly string Unmatchable = Hash(Convert.ToBase64String(RandomNumberGenerator.GetBytes(SaltBytes)));

    /// <summary>Verifies against the stored hash, or does the same work against <see cref="Unmatchable"/> when there is none (false then).</summary>
    public static bool VerifyOrSpend(string password, string? stored)
    {
        if (stored is not null) return Verify(password, stored);
        Verify(password, Unmatchable);
        return false;
    }

    public static bool Verify(string password, string stored)
    {
        var parts = stored.Split('$');
        if (parts.Length != 4 || parts[0] != "pbkdf2-sha256" || !int.TryParse(parts[1], out var iterations) || iterations < 10_000)
            return false;
        byte[] salt, expected;
        try
        {
            salt = Convert.FromBase64String(parts[2]);
            expected = Convert.FromBase64String(parts[3]);
        }
        catch (FormatException) { return false; }
        var actual = Rfc2898DeriveBytes.Pbkdf2(password, salt, iterations, HashAlgorithmName.SHA256, expected.Length);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }
}

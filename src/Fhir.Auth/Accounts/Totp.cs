using System.Security.Cryptography;

namespace FhirArchive.Auth.Accounts;

/// <summary>Time-based one-time passwords (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits) over a base32 secret.</summary>
public static class Totp
{
    private const int StepSeconds = 30, Digits = 6;

    public static string Compute(string base32Secret, DateTimeOffset at) => Code(Base32Decode(base32Secret), at.ToUnixTimeSeconds() / StepSeconds);

    /// <summary>Accepts the current step and one step either side (clock drift); returns the matched step so it cannot be reused.</summary>
    public static long? Verify(string base32Secret, string code, DateTimeOffset now)
    {
        if (code.Length != Digits || !code.All(char.IsAsciiDigit)) return null;
        var key = Base32Decode(base32Secret);
        var step = now.ToUnixTimeSeconds() / StepSeconds;
        for (var d = -1; d <= 1; d++)
            if (CryptographicOperations.FixedTimeEquals(System.Text.Encoding.ASCII.GetBytes(Code(key, step + d)), System.Text.Encoding.ASCII.GetBytes(code)))
                return step + d;
        return null;
    }

    private static string Code(byte[] key, long step)
    {
        Span<byte> counter = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(counter, step);
        var mac = HMACSHA1.HashData(key, counter);
        var offset = mac[^1] & 0x0F;
        var binary = ((mac[offset] & 0x7F) << 24) | (mac[offset + 1] << 16) | (mac[offset + 2] << 8) | mac[offset + 3];
        return (binary % 1_000_000).ToString("D6");
    }

    public static byte[] Base32Decode(string s)
    {
        const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var clean = s.TrimEnd('=').Replace(" ", "").ToUpperInvariant();
        var bytes = new List<byte>(clean.Length * 5 / 8);
        int buffer = 0, bits = 0;
        foreach (var c in clean)
        {
            var v = Alphabet.IndexOf(c);
            if (v < 0) throw new FormatException($"'{c}' is not a base32 character.");
            buffer = (buffer << 5) | v;
            bits += 5;
            if (bits >= 8)
            {
                bytes.Add((byte)(buffer >> (bits - 8)));
                bits -= 8;
            }
        }
        return bytes.ToArray();
    }
}

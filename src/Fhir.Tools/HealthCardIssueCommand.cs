using System.Globalization;
using FhirArchive.Crypto;

namespace FhirArchive.Tools;

/// <summary>
/// The demo card platform: writes one electronic health card QR code (<see cref="HealthCardCode"/>) for a card id,
/// signed with the platform's SM2 private key, valid from now for the seconds given (default 60). The server checks it
/// with the public half (Consent:HealthCard:PlatformKeyFile).
/// </summary>
public static class HealthCardIssueCommand
{
    public const int DefaultValiditySeconds = 60;

    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var validity = DefaultValiditySeconds;
        if (args.Length is < 2 or > 3 || args.Length == 3 && (!int.TryParse(args[2], NumberStyles.None, CultureInfo.InvariantCulture, out validity) || validity < 1))
        {
            error.WriteLine("usage: health-card-issue <platform-private.pem> <card-id> [validity-seconds, default 60]");
            return 2;
        }
        Sm2Key key;
        try { key = Sm2KeyFile.Load(args[0], "card platform's private key / 平台私钥"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            error.WriteLine($"{args[0]}: {e.Message}");
            return 1;
        }
        string code;
        try { code = HealthCardCode.Issue(key, args[1], DateTimeOffset.UtcNow, TimeSpan.FromSeconds(validity)); }
        catch (ArgumentException e)
        {
            error.WriteLine(e.Message);
            return 2;
        }
        output.WriteLine(code);
        return 0;
    }
}

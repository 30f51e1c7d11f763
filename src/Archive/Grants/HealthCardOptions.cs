namespace FhirArchive.Archive.Grants;

/// <summary>
/// Configuration "Consent:HealthCard": the card management system's public key that signs the electronic health
/// card's dynamic QR codes (<see cref="PlatformHealthCardVerifier"/>), and the tolerances of the check.
/// </summary>
public sealed class HealthCardOptions
{
    /// <summary>The platform's SM2 public key as PEM text (SubjectPublicKeyInfo), e.g. from the environment.</summary>
    public string? PlatformKey { get; set; }

    /// <summary>A PEM file with the platform's SM2 public key; relative paths are under the data folder. It must exist when named.</summary>
    public string? PlatformKeyFile { get; set; }

    /// <summary>How far the card platform's clock may be from ours (seconds), on either side of the code's validity.</summary>
    public int ClockSkewSeconds { get; set; } = 30;

    /// <summary>The longest validity a dynamic code may claim (seconds); a longer one is refused.</summary>
    public int MaxValiditySeconds { get; set; } = 300;

    public bool HasPlatformKey => !string.IsNullOrWhiteSpace(PlatformKey) || !string.IsNullOrWhiteSpace(PlatformKeyFile);
}

namespace FhirArchive.Audit.Checkpoints;

/// <summary>Configuration "Audit:Checkpoints": the key that signs the trail's head, and how often it does.</summary>
public sealed class AuditCheckpointOptions
{
    public const string DefaultKeyFile = "audit/audit-signing-key.pem";

    /// <summary>
    /// A PEM file with the SM2 private key (PKCS#8); relative paths are under the data folder. It must exist when
    /// named. Unset: <see cref="DefaultKeyFile"/>, generated on first start.
    /// </summary>
    public string? KeyFile { get; set; }

    /// <summary>Sign the head once this many events were appended since the last checkpoint (0: not by count).</summary>
    public int EveryEvents { get; set; } = 10_000;

    /// <summary>Sign the head this many minutes after the last checkpoint if events came since (0: not by time).</summary>
    public double EveryMinutes { get; set; } = 60;

    /// <summary>How often the signer looks at the head (whether a checkpoint is due).</summary>
    public TimeSpan CheckInterval { get; set; } = TimeSpan.FromSeconds(5);
}

namespace FhirArchive.Rest.Batch;

/// <summary>Bounds on a batch or transaction Bundle (section "Bundle"): past them, 413 before any entry is processed.</summary>
public sealed class BundleLimits
{
    public int MaxEntries { get; set; } = 5_000;

    public long MaxBytes { get; set; } = 16 * 1024 * 1024;
}

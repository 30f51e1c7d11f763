namespace FhirArchive.Rest.Bulk;

/// <summary>Configuration "BulkExport": the $export jobs, their worker and their files.</summary>
public sealed class BulkExportOptions
{
    /// <summary>false: $export is not offered (no routes, no worker).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>false: this instance takes kick-offs and serves files but runs no job (another instance's worker does).</summary>
    public bool Run { get; set; } = true;

    /// <summary>How long a completed export's files are kept; then they are deleted and the job answers 410.</summary>
    public TimeSpan FileLifetime { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How often the worker looks for jobs when no kick-off nudges it.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Rows read (and decided) per batch: the worker's memory is bounded by one batch whatever the export's size.</summary>
    public int BatchSize { get; set; } = 500;

    /// <summary>How long a worker holds the job it runs; a job of an instance that stopped is taken again after it (and resumed).</summary>
    public TimeSpan ClaimLease { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>The Retry-After a client is given while its job runs (seconds).</summary>
    public int RetryAfterSeconds { get; set; } = 5;

    /// <summary>Jobs one caller may have queued or running at once (more: 429).</summary>
    public int MaxActivePerCaller { get; set; } = 3;

    /// <summary>Where the files go: a folder under Storage:DataFolder unless absolute.</summary>
    public string Folder { get; set; } = "bulk-export";
}

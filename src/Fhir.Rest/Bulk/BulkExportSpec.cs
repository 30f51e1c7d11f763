using System.Text.Json;

namespace FhirArchive.Rest.Bulk;

/// <summary>Where an export was asked: [base]/$export, [base]/Patient/$export or [base]/Group/[id]/$export.</summary>
public enum BulkExportLevel { System, Patient, Group }

/// <summary>
/// An export as the requester asked for it and the export policy allowed it (<see cref="IBulkExportPolicy.AuthorizeAsync"/>):
/// the types in the order they are written, the changes after <see cref="Since"/>, the search queries that narrow a
/// type (<see cref="TypeFilters"/>, "Observation?code=…": a resource is exported when it matches any of its type's),
/// the Group's member patients, and the policy's <see cref="Profile"/> — its name for how the data is transformed on the
/// way out (null: as the requester may read it). Stored with the job, so a resumed job exports exactly the same.
/// </summary>
public sealed record BulkExportSpec(
    BulkExportLevel Level,
    string Request,
    IReadOnlyList<string> Types,
    DateTimeOffset? Since = null,
    IReadOnlyList<string>? TypeFilters = null,
    string? Group = null,
    IReadOnlyList<string>? Patients = null,
    string? Profile = null)
{
    public IReadOnlyList<string> FiltersOf(string type) =>
        [.. (TypeFilters ?? []).Where(f => f.StartsWith(type + "?", StringComparison.Ordinal)).Select(f => f[(type.Length + 1)..])];

    public string ToJson() => JsonSerializer.Serialize(this);
    public static BulkExportSpec FromJson(string json) => JsonSerializer.Deserialize<BulkExportSpec>(json) ?? throw new InvalidOperationException("Empty export spec.");
}

/// <summary>One NDJSON file of an export: its type, name, how many resources and bytes it holds so far.</summary>
public sealed class BulkExportFile
{
    public string Type { get; set; } = "";
    public string Name { get; set; } = "";
    public int Count { get; set; }
    public long Bytes { get; set; }
}

/// <summary>
/// How far a job got: the type being written (an index into <see cref="BulkExportSpec.Types"/>), the last row id
/// decided in it, and the files as they were when this was saved. A resumed job cuts its current file back to the
/// saved length and continues after <see cref="After"/>, so no line is written twice or lost.
/// </summary>
public sealed class BulkExportProgress
{
    public int TypeIndex { get; set; }
    public long After { get; set; }
    public List<BulkExportFile> Files { get; set; } = [];

    public string ToJson() => JsonSerializer.Serialize(this);
    public static BulkExportProgress FromJson(string json) => string.IsNullOrEmpty(json) ? new() : JsonSerializer.Deserialize<BulkExportProgress>(json) ?? new();
}

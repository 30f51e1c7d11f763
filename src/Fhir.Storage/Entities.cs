namespace FhirArchive.Storage;

/// <summary>
/// One version of one resource. Every version is kept; a delete is a version with <see cref="IsDeleted"/> and no data.
/// Exactly one row per (type, id) has <see cref="IsCurrent"/>; search indexes point only at current rows.
/// </summary>
public sealed class ResourceVersionRow
{
    public long Id { get; set; }
    public string ResourceType { get; set; } = "";
    public string ResourceId { get; set; } = "";
    public int Version { get; set; }
    /// <summary>UTC ticks: provider-neutral, sortable and comparable in SQL on both SQLite and PostgreSQL.</summary>
    public long LastUpdated { get; set; }
    public bool IsDeleted { get; set; }
    public bool IsCurrent { get; set; }
    /// <summary>The resource's JSON bytes, Brotli-compressed (null for a delete); sealed with SM4-GCM when <see cref="KeyId"/> is set.</summary>
    public byte[]? Data { get; set; }
    /// <summary>Field encryption: the data key <see cref="Data"/> is sealed under; null when it is stored in clear.</summary>
    public int? KeyId { get; set; }
}

/// <summary>Common shape of a search-index row: the parameter code and the current version row it belongs to.</summary>
public abstract class IndexRow
{
    public long Id { get; set; }
    public long ResourceRowId { get; set; }
    public string Param { get; set; } = "";
    /// <summary>For a composite parameter's component rows: the ordinal of the composite element they came from, so
    /// the components of one element (one Observation.component) can be matched together. Null otherwise.</summary>
    public int? CompositeGroup { get; set; }
}

public sealed class TokenIndexRow : IndexRow
{
    public string? System { get; set; }
    public string? Code { get; set; }
    /// <summary>Normalised display/text (for :text).</summary>
    public string? Text { get; set; }
}

public sealed class StringIndexRow : IndexRow
{
    public string Value { get; set; } = "";
    /// <summary>Lower-case, accents removed: what default and :contains searches compare against.</summary>
    public string Normalized { get; set; } = "";
}

/// <summary>A date, period or instant as the closed range of UTC ticks it covers (precision-aware).</summary>
public sealed class DateIndexRow : IndexRow
{
    public long Start { get; set; }
    public long End { get; set; }
}

public sealed class NumberIndexRow : IndexRow
{
    public double Value { get; set; }
}

public sealed class QuantityIndexRow : IndexRow
{
    public double Value { get; set; }
    public string? System { get; set; }
    public string? Code { get; set; }
}

public sealed class ReferenceIndexRow : IndexRow
{
    /// <summary>
    /// The type of the resource the row belongs to: a parameter such as "patient" is shared by every type, so without
    /// it "Encounter?patient=X" reads the index rows of all of X's resources and probes each version row for its type.
    /// </summary>
    public string? SourceType { get; set; }
    public string? TargetType { get; set; }
    public string? TargetId { get; set; }
    /// <summary>The reference text as written (absolute URLs, canonicals).</summary>
    public string? Url { get; set; }
}

public sealed class UriIndexRow : IndexRow
{
    public string Uri { get; set; } = "";
}

public sealed class SchemaVersionRow
{
    public int Version { get; set; }
    public string Description { get; set; } = "";
    public long AppliedAt { get; set; }
}

namespace FhirArchive.Storage.Audit;

/// <summary>
/// One audit event, append-only. <see cref="Data"/> holds the event's JSON (the server's compact record, or the
/// full AuditEvent in rows written before it); <see cref="Hash"/> chains it to the previous event (SM3). The other
/// columns are copies of the event's fields, for searching.
/// </summary>
public sealed class AuditRecordRow
{
    public long Seq { get; set; }
    public string EventId { get; set; } = "";
    /// <summary>UTC ticks.</summary>
    public long Recorded { get; set; }
    public string Action { get; set; } = "";
    public string Subtype { get; set; } = "";
    public int Outcome { get; set; }
    public string? Agent { get; set; }
    public string? Organization { get; set; }
    public byte[] Data { get; set; } = [];
    public byte[] Hash { get; set; } = [];
}

/// <summary>A patient or resource an event is about (search index only; the chained data is the JSON).</summary>
public sealed class AuditEntityRow
{
    public long Seq { get; set; }
    /// <summary>"patient" or "resource".</summary>
    public string Role { get; set; } = "";
    public string Reference { get; set; } = "";
}

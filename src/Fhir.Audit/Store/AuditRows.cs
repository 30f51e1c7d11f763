namespace FhirArchive.Audit.Store;

/// <summary>
/// One audit event: decoded from its block's frame, or a row of the AuditRecord table (events stored before blocks;
/// append-only). <see cref="Data"/> holds the event's record (the server's compact record, or the full AuditEvent
/// in rows written before it); <see cref="Hash"/> chains it to the previous event (SM3). The other fields are copies
/// of the event's, for searching.
/// </summary>
public sealed class AuditRecordRow
{
    public long Seq { get; set; }
    /// <summary>Only rows from before ids came from the sequence number have one of their own.</summary>
    public string? EventId { get; set; }
    /// <summary>UTC ticks.</summary>
    public long Recorded { get; set; }
    public string Action { get; set; } = "";
    public string Subtype { get; set; } = "";
    public int Outcome { get; set; }
    public string? Agent { get; set; }
    public string? Organization { get; set; }
    /// <summary>The event's entities, a line each ("patient Patient/1"), between line breaks: "\npatient Patient/1\n".</summary>
    public string Entities { get; set; } = "";
    public byte[] Data { get; set; } = [];
    public byte[] Hash { get; set; } = [];

    /// <summary>The AuditEvent's id.</summary>
    public string Id => EventId ?? AuditStore.EventIdOf(Seq);

    /// <summary>One entity as <see cref="Entities"/> holds it, with the line breaks around it (what a search looks for).</summary>
    public static string EntityLine(string role, string reference) => "\n" + role + " " + reference + "\n";

    /// <summary>The <see cref="Entities"/> text of these entities: "\n" + each "role reference" + "\n"; empty for none.</summary>
    public static string EntitiesText(IReadOnlyList<AuditEntityRow> entities)
    {
        if (entities.Count == 0) return "";
        var text = new System.Text.StringBuilder("\n");
        foreach (var e in entities) text.Append(e.Role).Append(' ').Append(e.Reference).Append('\n');
        return text.ToString();
    }
}

/// <summary>
/// A run of consecutive events within one bucket, append-only: their journal frames as the journal held them
/// (see <see cref="AuditJournal"/>), each with its sequence number and SM3 link. A bucket's events may come in
/// several blocks (one per batch of the writer behind that reached it).
/// </summary>
public sealed class AuditBlockRow
{
    public long First { get; set; }
    public long Last { get; set; }
    public byte[] Frames { get; set; } = [];
}

/// <summary>A patient or resource an event is about, as the journal carries it.</summary>
public sealed class AuditEntityRow
{
    public long Seq { get; set; }
    /// <summary>"patient", "resource" (searched by), or "data" (a patient's data: searched through its patient).</summary>
    public string Role { get; set; } = "";
    public string Reference { get; set; } = "";
}

/// <summary>
/// "Some event in this bucket of 256 consecutive events has this key": p:patient, e:resource, a:agent, t:hour. A
/// search reads the buckets its keys name instead of an index entry per event.
/// </summary>
public sealed class AuditKeyRow
{
    public string Key { get; set; } = "";
    public long Bucket { get; set; }
}

/// <summary>A signed checkpoint of the chain (<see cref="FhirArchive.Crypto.ChainCheckpoint"/>), as stored.</summary>
public sealed class AuditCheckpointRow
{
    public long Seq { get; set; }
    public byte[] Head { get; set; } = [];
    /// <summary>The time as signed (UTC, yyyy-MM-ddTHH:mm:ssZ).</summary>
    public string Time { get; set; } = "";
    public string KeyId { get; set; } = "";
    public byte[] Signature { get; set; } = [];
}

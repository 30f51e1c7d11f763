using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using FhirArchive.Server.Access;
using FhirArchive.Storage.Audit;

namespace FhirArchive.Server.Features.Audit;

/// <summary>
/// The compact form an event is chained, journaled and stored in: only what varies between events (who, when, what,
/// outcome, about which data), as a small JSON object, about a quarter of the full AuditEvent. Hashing, journaling
/// and inserting it is on every request's path; the full BALP AuditEvent is rendered from it only when an auditor
/// reads the trail. Rows written before the compact form hold the full AuditEvent and are served as they are.
/// </summary>
public static class AuditRecordCodec
{
    private const int Version = 1;
    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true };

    public static byte[] Encode(AuditDraft d)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer, Options))
        {
            w.WriteStartObject();
            w.WriteNumber("v", Version);
            // No id: it is the sequence number, bound into the SM3 link.
            w.WriteNumber("t", d.Recorded.UtcTicks);
            w.WriteString("i", d.Interaction.Code);
            w.WriteString("a", d.Interaction.Action);
            Optional(w, "op", d.Interaction.Operation);
            w.WriteNumber("s", d.Status);
            var c = d.Caller;
            w.WriteNumber("k", (int)c.Kind);
            w.WriteString("sub", c.Subject);
            Optional(w, "dn", c.DisplayName);
            if (c.Roles.Count > 0) Strings(w, "ro", c.Roles.Order(StringComparer.Ordinal));
            Optional(w, "org", c.Organization);
            Optional(w, "pr", c.Practitioner);
            Optional(w, "pa", c.Patient);
            Optional(w, "pou", c.PurposeOfUse);
            Optional(w, "cl", c.ClientId);
            Optional(w, "ip", d.Address);
            Optional(w, "q", d.Query);
            if (d.Resources.Count > 0) Strings(w, "r", d.Resources);
            if (d.Patients.Count > 0) Strings(w, "p", d.Patients);
            Optional(w, "de", d.Description);
            if (d.Type is { } type) Strings(w, "ty", [type.System, type.Code, type.Display]);
            Optional(w, "ss", d.SubtypeSystem);
            if (d.Decisions is { Count: > 0 } decisions) Strings(w, "dc", decisions);
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The full AuditEvent JSON of a stored event.</summary>
    public static byte[] ToAuditEvent(AuditRecordRow row)
    {
        // Before the compact form the full AuditEvent was stored (it starts with its resourceType).
        if (!row.Data.AsSpan().StartsWith("{\"v\":"u8)) return row.Data;
        return AuditEventWriter.Write(Decode(row.Data, row.Id));
    }

    public static AuditDraft Decode(byte[] stored, string id)
    {
        using var doc = JsonDocument.Parse(stored);
        var e = doc.RootElement;
        if (e.GetProperty("v").GetInt32() != Version) throw new FormatException("Unknown audit record version.");
        var roles = new HashSet<string>(List(e, "ro"));
        var caller = new Caller((CallerKind)e.GetProperty("k").GetInt32(), e.GetProperty("sub").GetString()!, Text(e, "dn"), roles, [],
            Organization: Text(e, "org"), Practitioner: Text(e, "pr"), Patient: Text(e, "pa"), PurposeOfUse: Text(e, "pou"), ClientId: Text(e, "cl"));
        var interaction = new Interaction(e.GetProperty("i").GetString()!, e.GetProperty("a").GetString()!, null, null, Text(e, "op"));
        var type = List(e, "ty");
        return new AuditDraft(id, new DateTimeOffset(e.GetProperty("t").GetInt64(), TimeSpan.Zero), interaction,
            e.GetProperty("s").GetInt32(), caller, Text(e, "ip"), Text(e, "q"), List(e, "r"), List(e, "p"), Text(e, "de"),
            type.Count == 3 ? new Coding(type[0], type[1], type[2]) : null, Text(e, "ss"), List(e, "dc"));
    }

    private static void Optional(Utf8JsonWriter w, string name, string? value)
    {
        if (value is not null) w.WriteString(name, value);
    }

    private static void Strings(Utf8JsonWriter w, string name, IEnumerable<string> values)
    {
        w.WriteStartArray(name);
        foreach (var v in values) w.WriteStringValue(v);
        w.WriteEndArray();
    }

    private static string? Text(JsonElement e, string name) => e.TryGetProperty(name, out var v) ? v.GetString() : null;

    private static List<string> List(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) ? v.EnumerateArray().Select(x => x.GetString()!).ToList() : [];
}

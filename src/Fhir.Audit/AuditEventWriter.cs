using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using FhirArchive.Rest.Access;

namespace FhirArchive.Audit;

/// <summary>
/// Everything one audit event says: who, when, what interaction, with what outcome, about which data. The id is
/// null until the trail gives the event its sequence number.
/// </summary>
public sealed record AuditDraft(
    string? Id, DateTimeOffset Recorded, Interaction Interaction, int Status, Caller Caller, string? Address,
    string? Query, IReadOnlyCollection<string> Resources, IReadOnlyCollection<string> Patients, string? Description = null,
    Coding? Type = null, string? SubtypeSystem = null, IReadOnlyCollection<string>? Decisions = null);

/// <summary>A code for the event's type or subtype where it is not the RESTful default.</summary>
public sealed record Coding(string System, string Code, string Display);

/// <summary>
/// Writes an AuditEvent shaped as IHE Basic Audit Log Patterns (BALP) describes for RESTful interactions: type
/// "rest", the restful-interaction subtype, action, outcome, the requesting agent (with role, institution and
/// purpose of use), the server as source, and the patient, resource and query entities.
/// </summary>
public static class AuditEventWriter
{
    public const string RoleSystem = "http://fhirarchive.cn/fhir/CodeSystem/role";
    public const string OperationSystem = "http://fhirarchive.cn/fhir/CodeSystem/operation";
    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static readonly Coding Rest = new("http://terminology.hl7.org/CodeSystem/audit-event-type", "rest", "RESTful Operation");

    public static int Outcome(int status) => status switch { < 400 => 0, < 500 => 4, _ => 8 };

    public static byte[] Write(AuditDraft d)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer, Options))
        {
            w.WriteStartObject();
            w.WriteString("resourceType", "AuditEvent");
            if (d.Id is not null) w.WriteString("id", d.Id);
            w.WriteStartObject("meta");
            w.WriteString("lastUpdated", Instant(d.Recorded));
            w.WriteEndObject();
            var type = d.Type ?? Rest;
            WriteCoding(w, "type", type.System, type.Code, type.Display);
            w.WriteStartArray("subtype");
            WriteCoding(w, null, d.SubtypeSystem ?? "http://hl7.org/fhir/restful-interaction", d.Interaction.Code, null);
            if (d.Interaction.Operation is { } op) WriteCoding(w, null, OperationSystem, op, null);
            w.WriteEndArray();
            w.WriteString("action", d.Interaction.Action);
            w.WriteString("recorded", Instant(d.Recorded));
            w.WriteString("outcome", Outcome(d.Status).ToString());
            w.WriteString("outcomeDesc", d.Description ?? $"HTTP {d.Status}");
            if (d.Caller.PurposeOfUse is { } pou)
            {
                w.WriteStartArray("purposeOfEvent");
                // An HL7 v3 ActReason code, or "system|code" for a purpose of another (local) code system.
                var bar = pou.LastIndexOf('|');
                WriteConcept(w, bar > 0 ? pou[..bar] : RolePolicy.PurposeSystem, bar > 0 ? pou[(bar + 1)..] : pou);
                w.WriteEndArray();
            }
            w.WriteStartArray("agent");
            WriteRequestor(w, d.Caller, d.Address);
            if (d.Caller.Organization is { } org)
            {
                w.WriteStartObject();
                w.WriteStartObject("type");
                WriteCodingArray(w, "http://terminology.hl7.org/CodeSystem/v3-RoleClass", "PROV", "healthcare provider");
                w.WriteEndObject();
                WriteReference(w, "who", org, null);
                w.WriteBoolean("requestor", false);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartObject("source");
            w.WriteString("site", "FhirArchive");
            WriteReference(w, "observer", null, "FhirArchive FHIR server");
            w.WriteStartArray("type");
            WriteCoding(w, null, "http://terminology.hl7.org/CodeSystem/security-source-type", "4", "Application Server");
            w.WriteEndArray();
            w.WriteEndObject();
            if (d.Patients.Count + d.Resources.Count > 0 || d.Query is not null || d.Decisions is { Count: > 0 })
            {
                w.WriteStartArray("entity");
                foreach (var p in d.Patients) WriteEntity(w, p, "1", "1", "Patient");
                foreach (var r in d.Resources) WriteEntity(w, r, "2", "4", "Domain Resource");
                if (d.Query is { } q)
                {
                    w.WriteStartObject();
                    WriteCoding(w, "type", "http://terminology.hl7.org/CodeSystem/audit-entity-type", "2", "System Object");
                    WriteCoding(w, "role", "http://terminology.hl7.org/CodeSystem/object-role", "24", "Query");
                    w.WriteString("description", q);
                    w.WriteBase64String("query", Encoding.UTF8.GetBytes(q));
                    w.WriteEndObject();
                }
                // The access decisions (consent rules, token reach) with their reasons: one detail each.
                if (d.Decisions is { Count: > 0 } decisions)
                {
                    w.WriteStartObject();
                    WriteCoding(w, "type", "http://terminology.hl7.org/CodeSystem/audit-entity-type", "2", "System Object");
                    w.WriteString("name", "access-decision");
                    w.WriteStartArray("detail");
                    foreach (var decision in decisions)
                    {
                        w.WriteStartObject();
                        w.WriteString("type", decision.StartsWith("permit", StringComparison.Ordinal) ? "permit" : "deny");
                        w.WriteString("valueString", decision);
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteRequestor(Utf8JsonWriter w, Caller c, string? address)
    {
        w.WriteStartObject();
        w.WriteStartObject("type");
        if (c.Kind == CallerKind.Person) WriteCodingArray(w, "http://terminology.hl7.org/CodeSystem/extra-security-role-type", "humanuser", "human user");
        else WriteCodingArray(w, "http://dicom.nema.org/resources/ontology/DCM", "110150", "Application");
        w.WriteEndObject();
        if (c.Roles.Count > 0)
        {
            w.WriteStartArray("role");
            foreach (var role in c.Roles.Order(StringComparer.Ordinal)) WriteConcept(w, RoleSystem, role);
            w.WriteEndArray();
        }
        w.WriteStartObject("who");
        if ((c.Practitioner ?? (c.HasRole(Roles.Resident) ? c.Patient : null)) is { } who) w.WriteString("reference", who);
        w.WriteStartObject("identifier");
        w.WriteString("system", c.SubjectSystem);
        w.WriteString("value", c.Subject);
        w.WriteEndObject();
        if (c.DisplayName is { } name) w.WriteString("display", name);
        w.WriteEndObject();
        if (c.ClientId is { } client) w.WriteString("altId", client);
        w.WriteBoolean("requestor", true);
        if (address is not null)
        {
            w.WriteStartObject("network");
            w.WriteString("address", address);
            w.WriteString("type", "2");
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    private static void WriteEntity(Utf8JsonWriter w, string reference, string type, string role, string typeDisplay)
    {
        w.WriteStartObject();
        WriteReference(w, "what", reference, null);
        WriteCoding(w, "type", "http://terminology.hl7.org/CodeSystem/audit-entity-type", type, typeDisplay);
        WriteCoding(w, "role", "http://terminology.hl7.org/CodeSystem/object-role", role, null);
        w.WriteEndObject();
    }

    private static void WriteReference(Utf8JsonWriter w, string name, string? reference, string? display)
    {
        w.WriteStartObject(name);
        if (reference is not null) w.WriteString("reference", reference);
        if (display is not null) w.WriteString("display", display);
        w.WriteEndObject();
    }

    private static void WriteCoding(Utf8JsonWriter w, string? name, string system, string code, string? display)
    {
        if (name is null) w.WriteStartObject(); else w.WriteStartObject(name);
        w.WriteString("system", system);
        w.WriteString("code", code);
        if (display is not null) w.WriteString("display", display);
        w.WriteEndObject();
    }

    private static void WriteCodingArray(Utf8JsonWriter w, string system, string code, string display)
    {
        w.WriteStartArray("coding");
        WriteCoding(w, null, system, code, display);
        w.WriteEndArray();
    }

    private static void WriteConcept(Utf8JsonWriter w, string system, string code)
    {
        w.WriteStartObject();
        w.WriteStartArray("coding");
        WriteCoding(w, null, system, code, null);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static string Instant(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'");
}

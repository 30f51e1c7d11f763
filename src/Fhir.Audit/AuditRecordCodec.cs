using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using FhirArchive.Rest.Access;
using FhirArchive.Audit.Store;

namespace FhirArchive.Audit;

/// <summary>
/// The compact form an event is chained, journaled and stored in: only what varies between events (who, when, what,
/// outcome, about which data), in a small binary record: version byte 2, a bit per optional field present, then the
/// fields (ticks as 8 bytes little-endian; other numbers, lengths and counts as 7-bit varints; texts as UTF-8). A read's
/// record is about 230 bytes, a fifth of the full AuditEvent. Encoding, hashing, journaling and inserting it is on
/// every request's path; the full BALP AuditEvent is rendered from it only when an auditor reads the trail. Older rows hold version 1 (the same fields as a JSON object) or, from before the
/// compact form, the full AuditEvent; both are served as they are read.
/// </summary>
public static class AuditRecordCodec
{
    private const byte Binary = 2;
    private const int JsonVersion = 1;

    // Which optional fields a record has (one bit each, in the order they follow).
    [Flags]
    private enum Has : uint
    {
        Operation = 1, DisplayName = 1 << 1, Roles = 1 << 2, Organization = 1 << 3, Practitioner = 1 << 4, Patient = 1 << 5,
        PurposeOfUse = 1 << 6, ClientId = 1 << 7, Address = 1 << 8, Query = 1 << 9, Resources = 1 << 10, Patients = 1 << 11,
        Description = 1 << 12, Type = 1 << 13, SubtypeSystem = 1 << 14, Decisions = 1 << 15,
        /// <summary>The client id equals the subject (a system client): stored once.</summary>
        ClientIsSubject = 1 << 16,
        All = (ClientIsSubject << 1) - 1,
    }

    [ThreadStatic] private static byte[]? t_buffer;

    public static byte[] Encode(AuditDraft d)
    {
        var c = d.Caller;
        var clientIsSubject = c.ClientId is { } cl && cl == c.Subject;
        var has = Flag(d.Interaction.Operation, Has.Operation) | Flag(c.DisplayName, Has.DisplayName) | (c.Roles.Count > 0 ? Has.Roles : 0)
            | Flag(c.Organization, Has.Organization) | Flag(c.Practitioner, Has.Practitioner) | Flag(c.Patient, Has.Patient)
            | Flag(c.PurposeOfUse, Has.PurposeOfUse) | (clientIsSubject ? Has.ClientIsSubject : Flag(c.ClientId, Has.ClientId))
            | Flag(d.Address, Has.Address) | Flag(d.Query, Has.Query) | (d.Resources.Count > 0 ? Has.Resources : 0)
            | (d.Patients.Count > 0 ? Has.Patients : 0) | Flag(d.Description, Has.Description) | (d.Type is not null ? Has.Type : 0)
            | Flag(d.SubtypeSystem, Has.SubtypeSystem) | (d.Decisions is { Count: > 0 } ? Has.Decisions : 0);
        var w = new Writer(t_buffer ??= new byte[1024]);
        w.Byte(Binary);
        w.UInt32((uint)has);
        w.Int64(d.Recorded.UtcTicks);
        w.UInt32((uint)d.Status);
        w.Byte((byte)c.Kind);
        w.Text(d.Interaction.Code);
        w.Text(d.Interaction.Action);
        w.Text(c.Subject);
        if (has.HasFlag(Has.Operation)) w.Text(d.Interaction.Operation!);
        if (has.HasFlag(Has.DisplayName)) w.Text(c.DisplayName!);
        if (has.HasFlag(Has.Roles)) w.Texts(c.Roles.Order(StringComparer.Ordinal).ToList());
        if (has.HasFlag(Has.Organization)) w.Text(c.Organization!);
        if (has.HasFlag(Has.Practitioner)) w.Text(c.Practitioner!);
        if (has.HasFlag(Has.Patient)) w.Text(c.Patient!);
        if (has.HasFlag(Has.PurposeOfUse)) w.Text(c.PurposeOfUse!);
        if (has.HasFlag(Has.ClientId)) w.Text(c.ClientId!);
        if (has.HasFlag(Has.Address)) w.Text(d.Address!);
        if (has.HasFlag(Has.Query)) w.Text(d.Query!);
        if (has.HasFlag(Has.Resources)) w.Texts(d.Resources);
        if (has.HasFlag(Has.Patients)) w.Texts(d.Patients);
        if (has.HasFlag(Has.Description)) w.Text(d.Description!);
        if (has.HasFlag(Has.Type)) w.Texts([d.Type!.System, d.Type.Code, d.Type.Display]);
        if (has.HasFlag(Has.SubtypeSystem)) w.Text(d.SubtypeSystem!);
        if (has.HasFlag(Has.Decisions)) w.Texts(d.Decisions!);
        t_buffer = w.Buffer;
        return w.Written.ToArray();
    }

    private static Has Flag(string? value, Has flag) => value is null ? 0 : flag;

    /// <summary>The full AuditEvent JSON of a stored event.</summary>
    public static byte[] ToAuditEvent(AuditRecordRow row) =>
        IsCompact(row.Data) ? AuditEventWriter.Write(Decode(row.Data, row.Id)) : row.Data;

    /// <summary>Before the compact form the full AuditEvent was stored (it starts with its resourceType).</summary>
    public static bool IsCompact(byte[] stored) => stored is [Binary, ..] || stored.AsSpan().StartsWith("{\"v\":"u8);

    public static AuditDraft Decode(byte[] stored, string id) => stored is [Binary, ..] ? DecodeBinary(stored, id) : DecodeJson(stored, id);

    private static AuditDraft DecodeBinary(byte[] stored, string id)
    {
        var r = new Reader(stored.AsSpan(1));
        var has = (Has)r.UInt32();
        if ((has & ~Has.All) != 0) throw new FormatException("The audit record has fields this server does not know.");
        var ticks = r.Int64();
        var status = r.Int32();
        var kind = (CallerKind)r.Byte();
        var code = r.Text();
        var action = r.Text();
        var subject = r.Text();
        string? Optional(ref Reader r, Has flag) => has.HasFlag(flag) ? r.Text() : null;
        List<string> List(ref Reader r, Has flag) => has.HasFlag(flag) ? r.Texts() : [];
        var operation = Optional(ref r, Has.Operation);
        var displayName = Optional(ref r, Has.DisplayName);
        var roles = List(ref r, Has.Roles);
        var organization = Optional(ref r, Has.Organization);
        var practitioner = Optional(ref r, Has.Practitioner);
        var patient = Optional(ref r, Has.Patient);
        var purpose = Optional(ref r, Has.PurposeOfUse);
        var client = has.HasFlag(Has.ClientIsSubject) ? subject : Optional(ref r, Has.ClientId);
        var address = Optional(ref r, Has.Address);
        var query = Optional(ref r, Has.Query);
        var resources = List(ref r, Has.Resources);
        var patients = List(ref r, Has.Patients);
        var description = Optional(ref r, Has.Description);
        var type = List(ref r, Has.Type);
        var subtypeSystem = Optional(ref r, Has.SubtypeSystem);
        var decisions = List(ref r, Has.Decisions);
        if (!r.AtEnd || type.Count is not (0 or 3)) throw new FormatException("The audit record is damaged.");
        var caller = new Caller(kind, subject, displayName, new HashSet<string>(roles), [], Organization: organization,
            Practitioner: practitioner, Patient: patient, PurposeOfUse: purpose, ClientId: client);
        return new AuditDraft(id, new DateTimeOffset(ticks, TimeSpan.Zero), new Interaction(code, action, null, null, operation), status,
            caller, address, query, resources, patients, description, type.Count == 3 ? new Coding(type[0], type[1], type[2]) : null,
            subtypeSystem, decisions);
    }

    /// <summary>Version 1: the same fields as a JSON object (rows stored before the binary record).</summary>
    private static AuditDraft DecodeJson(byte[] stored, string id)
    {
        using var doc = JsonDocument.Parse(stored);
        var e = doc.RootElement;
        if (e.GetProperty("v").GetInt32() != JsonVersion) throw new FormatException("Unknown audit record version.");
        var roles = new HashSet<string>(List(e, "ro"));
        var caller = new Caller((CallerKind)e.GetProperty("k").GetInt32(), e.GetProperty("sub").GetString()!, Text(e, "dn"), roles, [],
            Organization: Text(e, "org"), Practitioner: Text(e, "pr"), Patient: Text(e, "pa"), PurposeOfUse: Text(e, "pou"), ClientId: Text(e, "cl"));
        var interaction = new Interaction(e.GetProperty("i").GetString()!, e.GetProperty("a").GetString()!, null, null, Text(e, "op"));
        var type = List(e, "ty");
        return new AuditDraft(id, new DateTimeOffset(e.GetProperty("t").GetInt64(), TimeSpan.Zero), interaction,
            e.GetProperty("s").GetInt32(), caller, Text(e, "ip"), Text(e, "q"), List(e, "r"), List(e, "p"), Text(e, "de"),
            type.Count == 3 ? new Coding(type[0], type[1], type[2]) : null, Text(e, "ss"), List(e, "dc"));
    }

    /// <summary>Writes into a reused buffer (grown as needed); texts are a varint byte length and UTF-8.</summary>
    private ref struct Writer(byte[] buffer)
    {
        public byte[] Buffer = buffer;
        private int _at;
        public readonly ReadOnlySpan<byte> Written => Buffer.AsSpan(0, _at);

        private Span<byte> Take(int n)
        {
            if (_at + n > Buffer.Length) Array.Resize(ref Buffer, Math.Max(2 * Buffer.Length, _at + n));
            var span = Buffer.AsSpan(_at, n);
            _at += n;
            return span;
        }

        public void Byte(byte v) => Take(1)[0] = v;
        public void Int64(long v) => BinaryPrimitives.WriteInt64LittleEndian(Take(8), v);

        public void UInt32(uint v)
        {
            for (; v >= 0x80; v >>= 7) Byte((byte)(v | 0x80));
            Byte((byte)v);
        }

        public void Text(string v)
        {
            // Most texts are short: their length fits one byte whatever their UTF-8 length, so they take one pass.
            if (v.Length <= 127 / 3)
            {
                var span = Take(1 + 3 * v.Length);
                var written = Encoding.UTF8.GetBytes(v, span[1..]);
                span[0] = (byte)written;
                _at -= span.Length - 1 - written;
                return;
            }
            var n = Encoding.UTF8.GetByteCount(v);
            UInt32((uint)n);
            Encoding.UTF8.GetBytes(v, Take(n));
        }

        public void Texts(IReadOnlyCollection<string> values)
        {
            UInt32((uint)values.Count);
            foreach (var v in values) Text(v);
        }
    }

    /// <summary>Reads what <see cref="Writer"/> wrote; anything out of bounds is a damaged record.</summary>
    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private ReadOnlySpan<byte> _rest = data;
        public readonly bool AtEnd => _rest.IsEmpty;

        private ReadOnlySpan<byte> Take(int n)
        {
            if (n < 0 || n > _rest.Length) throw new FormatException("The audit record is damaged.");
            var span = _rest[..n];
            _rest = _rest[n..];
            return span;
        }

        public byte Byte() => Take(1)[0];
        public long Int64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

        public uint UInt32()
        {
            uint v = 0;
            for (var shift = 0; shift < 35; shift += 7)
            {
                var b = Byte();
                v |= (uint)(b & 0x7F) << shift;
                if (b < 0x80) return v;
            }
            throw new FormatException("The audit record is damaged.");
        }

        public int Int32() => UInt32() is var v && v <= int.MaxValue ? (int)v : throw new FormatException("The audit record is damaged.");
        public string Text() => Encoding.UTF8.GetString(Take(Int32()));

        public List<string> Texts()
        {
            var count = Int32();
            if (count > _rest.Length) throw new FormatException("The audit record is damaged.");
            var list = new List<string>(count);
            for (var i = 0; i < count; i++) list.Add(Text());
            return list;
        }
    }

    private static string? Text(JsonElement e, string name) => e.TryGetProperty(name, out var v) ? v.GetString() : null;

    private static List<string> List(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) ? v.EnumerateArray().Select(x => x.GetString()!).ToList() : [];
}

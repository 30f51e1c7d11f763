using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace FhirArchive.Storage.Audit;

/// <summary>An event as the journal holds it: its row (sequence number and SM3 link included) and its entities.</summary>
public sealed record AuditJournalEntry(AuditRecordRow Record, IReadOnlyList<AuditEntityRow> Entities);

/// <summary>
/// The audit trail's durable queue, like a database WAL: every event is appended here (one write, optionally one
/// fsync per group of events) before its request is answered, and written to the database behind it. After a crash
/// the events the database lacks are replayed from here. Frames: u32 body length, body, u64 check of the body; the
/// body holds the row's columns and entities. A frame cut short by a crash fails its length or check and ends the
/// journal there (it was never acknowledged).
/// </summary>
public sealed class AuditJournal : IDisposable
{
    private const int Overhead = 4 + 8;
    private readonly string _path;
    private SafeFileHandle _file;
    private long _length;
    private long _synced;

    public AuditJournal(string path)
    {
        _path = path;
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _file = Open(path);
        _length = _synced = RandomAccess.GetLength(_file);
    }

    public long Length => Volatile.Read(ref _length);

    /// <summary>Appends whole frames at the end (one append at a time); on failure the file is cut back so no partial frame stays behind.</summary>
    public void Append(ReadOnlySpan<byte> frames, bool sync)
    {
        var end = _length;
        try
        {
            RandomAccess.Write(_file, frames, end);
            if (sync) RandomAccess.FlushToDisk(_file);
        }
        catch
        {
            try { RandomAccess.SetLength(_file, end); } catch (IOException) { }
            throw;
        }
        Volatile.Write(ref _length, end + frames.Length);
        if (sync) Volatile.Write(ref _synced, end + frames.Length);
    }

    /// <summary>Puts what was appended so far on disk; may run beside an append.</summary>
    public void Sync()
    {
        var length = Length;
        if (Volatile.Read(ref _synced) >= length) return;
        RandomAccess.FlushToDisk(_file);
        Volatile.Write(ref _synced, length);
    }

    /// <summary>Every whole frame from the start; a torn or damaged tail is cut off (it was never acknowledged).</summary>
    public List<AuditJournalEntry> ReadAll()
    {
        var bytes = new byte[_length];
        var read = 0;
        while (read < bytes.Length)
        {
            var n = RandomAccess.Read(_file, bytes.AsSpan(read), read);
            if (n == 0) break;
            read += n;
        }
        var entries = new List<AuditJournalEntry>();
        var at = 0;
        while (TryDecode(bytes.AsSpan(at, read - at), out var entry, out var used))
        {
            entries.Add(entry);
            at += used;
        }
        if (at < bytes.Length)
        {
            RandomAccess.SetLength(_file, at);
            _length = _synced = at;
        }
        return entries;
    }

    /// <summary>
    /// Starts the journal afresh holding only <paramref name="keep"/> (what the database lacks, or at least the head,
    /// so the chain's end stays known), once the database durably holds everything before it. Written beside and
    /// renamed over, so a crash leaves one or the other whole. No append may run meanwhile.
    /// </summary>
    public void Restart(IReadOnlyList<AuditJournalEntry> keep)
    {
        var next = _path + ".next";
        var buffer = new ArrayBufferWriter<byte>();
        foreach (var e in keep) Encode(e.Record, e.Entities, buffer);
        using (var f = File.OpenHandle(next, FileMode.Create, FileAccess.Write))
        {
            RandomAccess.Write(f, buffer.WrittenSpan, 0);
            RandomAccess.FlushToDisk(f);
        }
        File.Move(next, _path, overwrite: true);
        var old = _file;
        _file = Open(_path);
        _length = _synced = buffer.WrittenCount;
        old.Dispose();
    }

    public void Dispose() => _file.Dispose();

    private static SafeFileHandle Open(string path) => File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);

    public static void Encode(AuditRecordRow r, IReadOnlyList<AuditEntityRow> entities, ArrayBufferWriter<byte> output)
    {
        var size = 8 + 8 + 4 + 4 + r.Hash.Length + 4 + r.Data.Length + 4
            + Utf8(r.EventId) + Utf8(r.Action) + Utf8(r.Subtype) + Utf8(r.Agent) + Utf8(r.Organization);
        foreach (var e in entities) size += Utf8(e.Role) + Utf8(e.Reference);
        var frame = output.GetSpan(Overhead + size)[..(Overhead + size)];
        BinaryPrimitives.WriteInt32LittleEndian(frame, size);
        var body = frame.Slice(4, size);
        var w = body;
        Int64(ref w, r.Seq);
        Int64(ref w, r.Recorded);
        Int32(ref w, r.Outcome);
        Bytes(ref w, r.Hash);
        Text(ref w, r.EventId);
        Text(ref w, r.Action);
        Text(ref w, r.Subtype);
        Text(ref w, r.Agent);
        Text(ref w, r.Organization);
        Bytes(ref w, r.Data);
        Int32(ref w, entities.Count);
        foreach (var e in entities)
        {
            Text(ref w, e.Role);
            Text(ref w, e.Reference);
        }
        BinaryPrimitives.WriteUInt64LittleEndian(frame[(4 + size)..], Check(body));
        output.Advance(Overhead + size);
    }

    private static bool TryDecode(ReadOnlySpan<byte> s, out AuditJournalEntry entry, out int used)
    {
        entry = null!;
        used = 0;
        if (s.Length < Overhead) return false;
        var size = BinaryPrimitives.ReadInt32LittleEndian(s);
        if (size <= 0 || size > s.Length - Overhead) return false;
        var body = s.Slice(4, size);
        if (BinaryPrimitives.ReadUInt64LittleEndian(s[(4 + size)..]) != Check(body)) return false;
        try
        {
            var r = body;
            var row = new AuditRecordRow { Seq = ReadInt64(ref r), Recorded = ReadInt64(ref r), Outcome = ReadInt32(ref r) };
            row.Hash = ReadBytes(ref r);
            row.EventId = ReadText(ref r)!;
            row.Action = ReadText(ref r)!;
            row.Subtype = ReadText(ref r)!;
            row.Agent = ReadText(ref r);
            row.Organization = ReadText(ref r);
            row.Data = ReadBytes(ref r);
            var count = ReadInt32(ref r);
            var entities = new List<AuditEntityRow>(count);
            for (var i = 0; i < count; i++)
                entities.Add(new AuditEntityRow { Seq = row.Seq, Role = ReadText(ref r)!, Reference = ReadText(ref r)! });
            entry = new AuditJournalEntry(row, entities);
            used = Overhead + size;
            return true;
        }
        catch (ArgumentOutOfRangeException)
        {
            return false;
        }
    }

    /// <summary>A fast 64-bit check against torn and damaged frames (integrity against tampering is the SM3 chain's job).</summary>
    private static ulong Check(ReadOnlySpan<byte> body)
    {
        var h = 0x9E3779B97F4A7C15UL ^ (ulong)body.Length;
        var i = 0;
        for (; i + 8 <= body.Length; i += 8)
            h = ulong.RotateLeft((h ^ BinaryPrimitives.ReadUInt64LittleEndian(body[i..])) * 0xFF51AFD7ED558CCDUL, 29);
        for (; i < body.Length; i++) h = (h ^ body[i]) * 0x100000001B3UL;
        h ^= h >> 33;
        h *= 0xC4CEB9FE1A85EC53UL;
        return h ^ (h >> 33);
    }

    private static int Utf8(string? s) => 4 + (s is null ? 0 : Encoding.UTF8.GetByteCount(s));

    private static void Int64(ref Span<byte> w, long v) { BinaryPrimitives.WriteInt64LittleEndian(w, v); w = w[8..]; }
    private static void Int32(ref Span<byte> w, int v) { BinaryPrimitives.WriteInt32LittleEndian(w, v); w = w[4..]; }

    private static void Bytes(ref Span<byte> w, ReadOnlySpan<byte> v)
    {
        Int32(ref w, v.Length);
        v.CopyTo(w);
        w = w[v.Length..];
    }

    private static void Text(ref Span<byte> w, string? v)
    {
        if (v is null) { Int32(ref w, -1); return; }
        var n = Encoding.UTF8.GetBytes(v, w[4..]);
        Int32(ref w, n);
        w = w[n..];
    }

    private static long ReadInt64(ref ReadOnlySpan<byte> r) { var v = BinaryPrimitives.ReadInt64LittleEndian(r); r = r[8..]; return v; }
    private static int ReadInt32(ref ReadOnlySpan<byte> r) { var v = BinaryPrimitives.ReadInt32LittleEndian(r); r = r[4..]; return v; }

    private static byte[] ReadBytes(ref ReadOnlySpan<byte> r)
    {
        var n = ReadInt32(ref r);
        var v = r[..n].ToArray();
        r = r[n..];
        return v;
    }

    private static string? ReadText(ref ReadOnlySpan<byte> r)
    {
        var n = ReadInt32(ref r);
        if (n < 0) return null;
        var v = Encoding.UTF8.GetString(r[..n]);
        r = r[n..];
        return v;
    }
}

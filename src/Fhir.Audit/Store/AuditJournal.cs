using System.Buffers;
using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace FhirArchive.Audit.Store;

/// <summary>An event as the journal holds it: its row (sequence number and SM3 link included) and its entities.</summary>
public sealed record AuditJournalEntry(AuditRecordRow Record, IReadOnlyList<AuditEntityRow> Entities);

/// <summary>A frame of a <see cref="JournalBatch"/>: where its bytes are in the batch, and its sequence number.</summary>
public readonly record struct JournalFrame(int Start, int Length, long Seq);

/// <summary>
/// What a frame is filed under and searched by, read in place from its bytes (nothing is copied or allocated): its
/// sequence number, time, outcome, action, subtype, agent and entities (texts as UTF-8).
/// </summary>
public ref struct FrameFields
{
    private ReadOnlySpan<byte> _entities;
    private int _left;

    internal FrameFields(long seq, long recorded, int outcome, ReadOnlySpan<byte> action, ReadOnlySpan<byte> subtype,
        ReadOnlySpan<byte> agent, bool hasAgent, ReadOnlySpan<byte> entities, int count)
    {
        Seq = seq;
        Recorded = recorded;
        Outcome = outcome;
        Action = action;
        Subtype = subtype;
        Agent = agent;
        HasAgent = hasAgent;
        _entities = entities;
        _left = count;
    }

    public long Seq { get; }
    public long Recorded { get; }
    public int Outcome { get; }
    public ReadOnlySpan<byte> Action { get; }
    public ReadOnlySpan<byte> Subtype { get; }
    public ReadOnlySpan<byte> Agent { get; }
    public bool HasAgent { get; }

    /// <summary>The next entity's role and reference; false after the last.</summary>
    public bool NextEntity(out ReadOnlySpan<byte> role, out ReadOnlySpan<byte> reference)
    {
        role = reference = default;
        if (_left <= 0) return false;
        _left--;
        role = AuditJournal.ReadSpan(ref _entities, out _);
        reference = AuditJournal.ReadSpan(ref _entities, out _);
        return true;
    }
}

/// <summary>Whole frames read from the journal: their bytes (pooled, returned on dispose), each frame, and the offset after them.</summary>
public sealed class JournalBatch(byte[] bytes, List<JournalFrame> frames, long next) : IDisposable
{
    private byte[]? _bytes = bytes;
    public ReadOnlyMemory<byte> Bytes => _bytes ?? throw new ObjectDisposedException(nameof(JournalBatch));
    public List<JournalFrame> Frames { get; } = frames;
    public long Next { get; } = next;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _bytes, null) is { } b) System.Buffers.ArrayPool<byte>.Shared.Return(b);
    }
}

/// <summary>
/// The audit trail's durable queue, like a database WAL: every event is appended here before its request is
/// answered, and written to the database behind it. After a crash the events the database lacks are replayed from
/// here. Frames: u32 body length, body, u64 check of the body; the body holds the row's columns and entities. A frame
/// cut short by a crash fails its length or check and ends the journal there (it was never acknowledged).
/// Appends are copied into a shared memory mapping of the file: once copied, the bytes are the operating system's
/// (they survive a crash of the server) without a system call per event; <see cref="Sync"/> puts them on disk.
/// The stretch ahead of the appends is written with zeros (allocated) a megabyte at a time before it is written
/// through the mapping, so a full disk fails that step with an IOException instead of faulting a write into a hole.
/// A clean close cuts the file to its frames.
/// </summary>
public sealed class AuditJournal : IDisposable
{
    private const int Overhead = 4 + 8;
    private const int AllocationStep = 1 << 20;
    /// <summary>How far ahead of the appends the writer behind keeps the file allocated.</summary>
    private const long ReserveAhead = 4L << 20;
    private static readonly byte[] Zeros = new byte[AllocationStep];
    private readonly string _path;
    private readonly long _initialCapacity;
    // Taken by whatever replaces the mapping or the file (growth, restart, close) and by syncs; appends write into
    // the mapping without it (they never run beside a growth or restart, which happen on the appending thread).
    private readonly object _mapLock = new();
    // Taken by whoever writes the zeros ahead (the writer behind, or an append that outran it). Appends write only
    // below the published allocated end, the zeros only above it, so the two never touch the same bytes.
    private readonly object _allocLock = new();
    private SafeFileHandle _file;
    private MemoryMappedFile? _map;
    private MemoryMappedViewAccessor? _view;
    private long _capacity;
    private long _allocated;
    private long _length;
    private long _synced;

    /// <param name="capacity">How much of the file is mapped at first (it grows when the appends reach it).</param>
    public AuditJournal(string path, long capacity = 64L << 20)
    {
        _path = path;
        _initialCapacity = Math.Max(capacity, 2 * AllocationStep);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        try
        {
            _file = Open(path);
        }
        catch (IOException e) when (File.Exists(path))
        {
            throw new InvalidOperationException(
                $"Another process holds the audit journal {path}: one server instance per data folder and database writes the audit trail.", e);
        }
        _length = _synced = RandomAccess.GetLength(_file);
        DropTornTail();
        // What lies beyond the frames is written before use (also a torn tail's leftovers).
        _allocated = _length;
        Map(Math.Max(_initialCapacity, 2 * _length));
    }

    public long Length => Volatile.Read(ref _length);

    /// <summary>Appends one whole frame at the end (one append at a time); returns the end after it.</summary>
    public long Append(ReadOnlySpan<byte> frame)
    {
        var end = _length;
        var after = end + frame.Length;
        if (after > _capacity)
            lock (_mapLock) Map(Math.Max(2 * _capacity, after + AllocationStep));
        if (after > Volatile.Read(ref _allocated))
            lock (_allocLock) Allocate(after);
        _view!.SafeMemoryMappedViewHandle.WriteSpan((ulong)end, frame);
        Volatile.Write(ref _length, after);
        return after;
    }

    /// <summary>Keeps the next few megabytes allocated ahead of the appends (called by the writer behind, off their path).</summary>
    public void Reserve()
    {
        lock (_allocLock)
            if (Volatile.Read(ref _allocated) - Length < ReserveAhead / 2) Allocate(Length + ReserveAhead);
    }

    /// <summary>Puts what was appended so far on disk; may run beside an append.</summary>
    public void Sync()
    {
        // Under the lock: a restart between reading the length and flushing would start the offsets again.
        lock (_mapLock)
        {
            var length = Length;
            if (_view is null || _synced >= length) return;
            if (OperatingSystem.IsLinux())
            {
                // Linux keeps a shared mapping's pages in the file's page cache, dirty-tracked, so fdatasync writes
                // them (msync would be a whole fsync more). It skips the timestamps the mapped writes touch, and with
                // them the file system's journal commit for those (measured here: 10–30% less CPU per call than fsync).
                if (FileDataSync((int)_file.DangerousGetHandle()) != 0)
                    throw new IOException($"fdatasync of the audit journal failed (errno {Marshal.GetLastPInvokeError()}).");
            }
            else
            {
                // The view's flush writes the pages; the file's flush its size and blocks.
                _view.Flush();
                RandomAccess.FlushToDisk(_file);
            }
            _synced = length;
        }
    }

    [DllImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static extern int FileDataSync(int fd);

    /// <summary>
    /// The whole frames from <paramref name="offset"/> within about <paramref name="maxBytes"/> (at least one, however
    /// long), as bytes, with each frame's place in them and its sequence number.
    /// </summary>
    public JournalBatch ReadBatch(long offset, int maxBytes)
    {
        var end = Length;
        var n = (int)Math.Min(maxBytes, end - offset);
        var bytes = ArrayPool<byte>.Shared.Rent(Math.Max(n, Overhead));
        n = ReadAt(bytes.AsSpan(0, n), offset);
        // One frame longer than the batch: read it whole.
        if (n >= 4 && Overhead + (long)BinaryPrimitives.ReadInt32LittleEndian(bytes) is var size && size > n && size <= end - offset)
        {
            ArrayPool<byte>.Shared.Return(bytes);
            bytes = ArrayPool<byte>.Shared.Rent((int)size);
            n = ReadAt(bytes.AsSpan(0, (int)size), offset);
        }
        var frames = new List<JournalFrame>();
        var at = 0;
        while (WholeFrame(bytes.AsSpan(at, n - at)) is var used and > 0)
        {
            frames.Add(new JournalFrame(at, used, BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(at + 4))));
            at += used;
        }
        return new JournalBatch(bytes, frames, offset + at);
    }

    /// <summary>The fields of one whole frame (as a <see cref="JournalBatch"/> holds it: its check already holds).</summary>
    public static FrameFields FieldsOf(ReadOnlySpan<byte> frame)
    {
        var r = frame.Slice(4, frame.Length - Overhead);
        var seq = ReadInt64(ref r);
        var recorded = ReadInt64(ref r);
        var outcome = ReadInt32(ref r);
        ReadSpan(ref r, out _); // link
        ReadSpan(ref r, out _); // id
        var action = ReadSpan(ref r, out _);
        var subtype = ReadSpan(ref r, out _);
        var agent = ReadSpan(ref r, out var hasAgent);
        ReadSpan(ref r, out _); // organization
        ReadSpan(ref r, out _); // record
        var count = ReadInt32(ref r);
        return new FrameFields(seq, recorded, outcome, action, subtype, agent, hasAgent, r, count);
    }

    /// <summary>Where each whole, intact frame of a block lies, in order; a damaged frame ends the list (see <see cref="TryDecodeAll"/>).</summary>
    public static List<(int Start, int Length)> FramesOf(ReadOnlySpan<byte> block)
    {
        var frames = new List<(int, int)>();
        for (var at = 0; WholeFrame(block[at..]) is var used and > 0; at += used) frames.Add((at, used));
        return frames;
    }

    /// <summary>One whole frame decoded in full.</summary>
    public static AuditJournalEntry Decode(ReadOnlySpan<byte> frame) =>
        TryDecode(frame, true, out var entry, out _) ? entry : throw new FormatException("The audit frame is damaged.");

    /// <summary>The length of the whole, intact frame at the start of <paramref name="s"/>; 0 if it is cut short or fails its check.</summary>
    private static int WholeFrame(ReadOnlySpan<byte> s)
    {
        if (s.Length < Overhead) return 0;
        var size = BinaryPrimitives.ReadInt32LittleEndian(s);
        if (size <= 0 || size > s.Length - Overhead) return 0;
        var body = s.Slice(4, size);
        return BinaryPrimitives.ReadUInt64LittleEndian(s[(4 + size)..]) == Check(body) && Fits(body) ? Overhead + size : 0;
    }

    /// <summary>
    /// Whether every field of a body lies within it, in the order <see cref="Encode"/> writes them: what passes the
    /// check but was written by someone else (a stored block is anyone's with database access) is no frame either,
    /// so reading one, in place or in full, never runs past its body.
    /// </summary>
    private static bool Fits(ReadOnlySpan<byte> r)
    {
        // Sequence number, time, outcome; then the link, id, action, subtype, agent, organization and record (the link
        // and the record are bytes, the rest texts, whose negative length is none).
        if (r.Length < 20) return false;
        r = r[20..];
        for (var field = 0; field < 7; field++)
            if (!Skips(ref r, nullable: field is not (0 or 6))) return false;
        if (r.Length < 4) return false;
        var count = BinaryPrimitives.ReadInt32LittleEndian(r);
        r = r[4..];
        // Each entity is two texts of at least a length each.
        if (count < 0 || count > r.Length / 8) return false;
        for (var i = 0; i < 2 * count; i++)
            if (!Skips(ref r, nullable: true)) return false;
        return true;
    }

    private static bool Skips(ref ReadOnlySpan<byte> r, bool nullable)
    {
        if (r.Length < 4) return false;
        var n = BinaryPrimitives.ReadInt32LittleEndian(r);
        r = r[4..];
        if (n < 0) return nullable;
        if (n > r.Length) return false;
        r = r[n..];
        return true;
    }

    /// <summary>A length-prefixed field in place (a length of -1 is a null text: empty, and <paramref name="present"/> false).</summary>
    internal static ReadOnlySpan<byte> ReadSpan(scoped ref ReadOnlySpan<byte> r, out bool present)
    {
        var n = ReadInt32(ref r);
        present = n >= 0;
        if (n < 0) return default;
        var v = r[..n];
        r = r[n..];
        return v;
    }

    /// <summary>Decodes a block's frames in full into <paramref name="into"/>; false if it ends in bytes that are no whole, intact frame.</summary>
    public static bool TryDecodeAll(ReadOnlySpan<byte> block, List<AuditJournalEntry> into)
    {
        var end = 0;
        foreach (var (start, length) in FramesOf(block))
        {
            into.Add(Decode(block.Slice(start, length)));
            end = start + length;
        }
        return end == block.Length;
    }

    private const int ReadChunk = 1 << 20;

    /// <summary>Every whole frame from <paramref name="offset"/> with its offset, not decoded in full (read at a start).</summary>
    public IEnumerable<(long Offset, AuditJournalEntry Entry)> Frames(long offset)
    {
        while (true)
        {
            var entries = new List<(long, AuditJournalEntry)>();
            using (var batch = ReadBatch(offset, ReadChunk))
            {
                foreach (var f in batch.Frames)
                {
                    TryDecode(batch.Bytes.Span.Slice(f.Start, f.Length), false, out var entry, out _);
                    entries.Add((offset + f.Start, entry));
                }
                offset = batch.Next;
            }
            if (entries.Count == 0) yield break;
            foreach (var e in entries) yield return e;
        }
    }

    private int ReadAt(Span<byte> into, long offset)
    {
        var read = 0;
        while (read < into.Length)
        {
            var n = RandomAccess.Read(_file, into[read..], offset + read);
            if (n == 0) break;
            read += n;
        }
        return read;
    }

    /// <summary>Cuts a torn or damaged tail off (it was never acknowledged): the journal ends after its last whole frame.</summary>
    private void DropTornTail()
    {
        long at = 0;
        while (true)
        {
            using var batch = ReadBatch(at, ReadChunk);
            if (batch.Frames.Count == 0) break;
            at = batch.Next;
        }
        if (at < _length)
        {
            RandomAccess.SetLength(_file, at);
            _length = _synced = at;
        }
    }

    /// <summary>
    /// Starts the journal afresh holding only what is from <paramref name="from"/> on (what the database lacks, or at
    /// least the head, so the chain's end stays known), once the database durably holds everything before it.
    /// Written beside and renamed over, so a crash leaves one or the other whole. No append or sync may run meanwhile.
    /// </summary>
    public void Restart(long from)
    {
        var next = _path + ".next";
        var keep = new byte[_length - from];
        ReadAt(keep, from);
        using (var f = File.OpenHandle(next, FileMode.Create, FileAccess.Write))
        {
            RandomAccess.Write(f, keep, 0);
            RandomAccess.FlushToDisk(f);
        }
        lock (_mapLock)
        {
            Unmap();
            File.Move(next, _path, overwrite: true);
            _file.Dispose();
            _file = Open(_path);
            _length = _synced = keep.Length;
            _allocated = keep.Length;
            Map(_initialCapacity);
        }
    }

    /// <summary>Closes the journal, cut to its whole frames.</summary>
    public void Dispose()
    {
        lock (_mapLock)
        {
            if (_view is null) return;
            _view.Flush();
            Unmap();
            try { RandomAccess.SetLength(_file, _length); } catch (IOException) { }
            _file.Dispose();
        }
    }

    /// <summary>Exclusively: a second writer would fork the chain.</summary>
    private static SafeFileHandle Open(string path) => File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);

    /// <summary>Maps <paramref name="capacity"/> bytes; the file is extended (as a hole) to cover them.</summary>
    private void Map(long capacity)
    {
        Unmap();
        if (RandomAccess.GetLength(_file) < capacity) RandomAccess.SetLength(_file, capacity);
        _map = MemoryMappedFile.CreateFromFile(_file, null, capacity, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: true);
        _view = _map.CreateViewAccessor(0, capacity, MemoryMappedFileAccess.ReadWrite);
        Volatile.Write(ref _capacity, capacity);
    }

    private void Unmap()
    {
        _view?.Dispose();
        _map?.Dispose();
        _view = null;
        _map = null;
    }

    /// <summary>Writes zeros from the allocated end on, at least a step, up to <paramref name="upTo"/> (within the mapping). Under <see cref="_allocLock"/>.</summary>
    private void Allocate(long upTo)
    {
        var from = _allocated;
        if (upTo <= from) return;
        var to = Math.Min(Volatile.Read(ref _capacity), Math.Max(upTo, from + AllocationStep));
        for (var at = from; at < to; at += Zeros.Length)
            RandomAccess.Write(_file, Zeros.AsSpan(0, (int)Math.Min(Zeros.Length, to - at)), at);
        Volatile.Write(ref _allocated, Math.Max(from, to));
    }

    /// <summary>One event's frame: its sequence number, link, searched columns, data and entities (each pair once).</summary>
    public static void Encode(long seq, byte[] hash, AuditAppend e, ArrayBufferWriter<byte> output)
    {
        var eventId = AuditStore.EventIdOf(seq);
        var size = 8 + 8 + 4 + 4 + hash.Length + 4 + e.Data.Length + 4
            + Utf8(eventId) + Utf8(e.Action) + Utf8(e.Subtype) + Utf8(e.Agent) + Utf8(e.Organization);
        var entities = 0;
        for (var i = 0; i < e.Entities.Count; i++)
            if (FirstOf(e.Entities, i))
            {
                size += Utf8(e.Entities[i].Role) + Utf8(e.Entities[i].Reference);
                entities++;
            }
        var frame = output.GetSpan(Overhead + size)[..(Overhead + size)];
        BinaryPrimitives.WriteInt32LittleEndian(frame, size);
        var body = frame.Slice(4, size);
        var w = body;
        Int64(ref w, seq);
        Int64(ref w, e.Recorded);
        Int32(ref w, e.Outcome);
        Bytes(ref w, hash);
        Text(ref w, eventId);
        Text(ref w, e.Action);
        Text(ref w, e.Subtype);
        Text(ref w, e.Agent);
        Text(ref w, e.Organization);
        Bytes(ref w, e.Data);
        Int32(ref w, entities);
        for (var i = 0; i < e.Entities.Count; i++)
            if (FirstOf(e.Entities, i))
            {
                Text(ref w, e.Entities[i].Role);
                Text(ref w, e.Entities[i].Reference);
            }
        BinaryPrimitives.WriteUInt64LittleEndian(frame[(4 + size)..], Check(body));
        output.Advance(Overhead + size);
    }

    /// <summary>The (role, reference) pair with the sequence number is an entity row's key: each pair once.</summary>
    private static bool FirstOf(IReadOnlyList<(string Role, string Reference)> entities, int i)
    {
        for (var j = 0; j < i; j++)
            if (entities[j] == entities[i]) return false;
        return true;
    }

    /// <summary>
    /// One frame from the start of <paramref name="s"/>; false if it is cut short or fails its check. Not
    /// <paramref name="full"/>: only what finding and searching it needs (sequence number, time, outcome, link,
    /// agent, entities), not its record or the columns searched in it.
    /// </summary>
    private static bool TryDecode(ReadOnlySpan<byte> s, bool full, out AuditJournalEntry entry, out int used)
    {
        entry = null!;
        used = WholeFrame(s);
        if (used == 0) return false;
        // A whole frame's fields fit its body (see Fits): nothing here reads past it.
        var r = s.Slice(4, used - Overhead);
        var row = new AuditRecordRow { Seq = ReadInt64(ref r), Recorded = ReadInt64(ref r), Outcome = ReadInt32(ref r) };
        row.Hash = ReadBytes(ref r);
        // Frames name the id; only an id other than the sequence number is kept on the row.
        var eventId = ReadText(ref r, full);
        row.EventId = eventId is null || eventId == AuditStore.EventIdOf(row.Seq) ? null : eventId;
        row.Action = ReadText(ref r, full) ?? "";
        row.Subtype = ReadText(ref r, full) ?? "";
        row.Agent = ReadText(ref r);
        row.Organization = ReadText(ref r, full);
        row.Data = full ? ReadBytes(ref r) : Skip(ref r);
        var count = ReadInt32(ref r);
        var entities = new List<AuditEntityRow>(count);
        for (var i = 0; i < count; i++)
            entities.Add(new AuditEntityRow { Seq = row.Seq, Role = ReadText(ref r)!, Reference = ReadText(ref r)! });
        if (full) row.Entities = AuditRecordRow.EntitiesText(entities);
        entry = new AuditJournalEntry(row, entities);
        return true;
    }

    /// <summary>A fast 64-bit check against torn and damaged frames (integrity against tampering is the SM3 chain's job).</summary>
    internal static ulong Check(ReadOnlySpan<byte> body)
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

    private static string? ReadText(ref ReadOnlySpan<byte> r, bool keep = true)
    {
        var n = ReadInt32(ref r);
        if (n < 0) return null;
        var v = keep ? Encoding.UTF8.GetString(r[..n]) : null;
        r = r[n..];
        return v;
    }

    private static byte[] Skip(ref ReadOnlySpan<byte> r)
    {
        var n = ReadInt32(ref r);
        r = r[n..];
        return [];
    }
}

using System.Security.Cryptography;
using FhirArchive.Fhir.Model;
using Microsoft.Extensions.Caching.Memory;

namespace FhirArchive.Archive.Masking;

/// <summary>What masking made of a resource's JSON for one view: null <see cref="Json"/> when it changed nothing.</summary>
public sealed record ShapedAnswer(byte[]? Json, bool Masked, bool Withheld);

/// <summary>
/// A bounded cache of what masking made of a resource, so that a resource read again is not parsed, walked and
/// serialised again. Keyed by the content itself (the first 128 bits of the SHA-256 of the JSON as shown to the masking
/// policy — a stored version, or what an earlier policy made of it), the view and the caller's own identifier systems:
/// masking is a function of exactly these (<see cref="PersonDataMasker.Mask"/>), so a hit is the answer the walk would
/// give. The view and the own systems are decided for every request, never cached here. Bounded by bytes (the shaped
/// answers it holds and a fixed cost per entry); the least used entries go first when it is full.
/// </summary>
public sealed class ShapedAnswers
{
    /// <summary>The most bytes held (shaped answers and entries).</summary>
    public const long CapacityBytes = 64L * 1024 * 1024;
    /// <summary>What an entry costs beside the bytes it holds (key, value, the cache's own entry).</summary>
    private const int EntryCost = 256;

    private readonly MemoryCache _cache = new(new MemoryCacheOptions { SizeLimit = CapacityBytes, CompactionPercentage = 0.25 });

    private readonly record struct AnswerKey(UInt128 Content, MaskView View, string Own);
    private readonly record struct SystemsKey(UInt128 Content);

    /// <summary>The content key of a resource's JSON.</summary>
    public static UInt128 ContentKey(ReadOnlySpan<byte> json)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(json, hash);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt128LittleEndian(hash);
    }

    /// <summary>The key of a caller's own identifier systems (order-independent; empty for none).</summary>
    public static string OwnKey(IReadOnlySet<string>? own) => own is not { Count: > 0 } ? "" : string.Join('\n', own.Order(StringComparer.Ordinal));

    public bool TryGet(UInt128 content, MaskView view, string own, out ShapedAnswer answer) =>
        _cache.TryGetValue(new AnswerKey(content, view, own), out answer!);

    public void Set(UInt128 content, MaskView view, string own, ShapedAnswer answer) =>
        _cache.Set(new AnswerKey(content, view, own), answer, Entry(EntryCost + (answer.Json?.Length ?? 0)));

    /// <summary>The identifier systems of the content (<see cref="PersonDataMasker.IdentifierSystems"/>), read once per content.</summary>
    public IReadOnlyList<string> IdentifierSystems(UInt128 content, Func<ElementNode> parse)
    {
        if (_cache.TryGetValue(new SystemsKey(content), out IReadOnlyList<string>? systems)) return systems!;
        systems = PersonDataMasker.IdentifierSystems(parse()).ToArray();
        _cache.Set(new SystemsKey(content), systems, Entry(EntryCost + systems.Sum(s => 2 * s.Length)));
        return systems;
    }

    private static MemoryCacheEntryOptions Entry(long size) => new() { Size = size };
}

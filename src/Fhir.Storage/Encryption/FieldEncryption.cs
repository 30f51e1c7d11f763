using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Text;
using System.Text.RegularExpressions;
using FhirArchive.Crypto;
using FhirArchive.Fhir.Model;
using FhirArchive.Storage.Indexing;
using Microsoft.EntityFrameworkCore;

namespace FhirArchive.Storage.Encryption;

/// <summary>
/// Field encryption at rest (<see cref="FieldEncryptionOptions"/>). A resource of a type that has protected paths
/// (Patient, RelatedPerson, Practitioner, Person by default) is stored encrypted whole: its Brotli bytes sealed with
/// SM4-GCM under the newest data key, the key id in the version row's KeyId, the sealed bytes bound to the row's
/// type, id and version. A read opens them and serves the JSON bytes as before, without parsing them (whole-resource,
/// not value by value: a read stays one decryption of a few hundred bytes, and the narrative, extensions and contained
/// resources that repeat a number are covered too). The search-index rows of protected values hold their blind index
/// (<see cref="Blind"/>, a keyed HMAC-SM3) and searches compute it for the searched value: exact matches work, by one
/// index probe as before; partial matches of protected values cannot.
/// </summary>
public sealed partial class FieldEncryption
{
    /// <summary>The prefix of a blind-index value (then 32 lower-case hex digits: 128 bits of HMAC-SM3).</summary>
    public const string BlindPrefix = "bi:";

    private readonly DataKeys? _keys;
    private readonly FrozenDictionary<string, string[]> _pathsByType;
    private readonly SearchParameterRegistry _registry;
    private readonly ISearchExpressionEvaluator _evaluator;
    private readonly IDbContextFactory<FhirDbContext>? _factory;
    private readonly TimeSpan _refresh;
    private readonly ConcurrentDictionary<string, FrozenSet<string>> _blindedParams = new(StringComparer.Ordinal);
    private readonly Lock _reload = new();
    private long _loadedAt;

    public FieldEncryption(FieldEncryptionOptions options, SearchParameterRegistry registry, ISearchExpressionEvaluator evaluator,
        IDbContextFactory<FhirDbContext>? factory = null)
    {
        _registry = registry;
        _evaluator = evaluator;
        _factory = factory;
        _refresh = options.KeyRefreshInterval;
        _keys = options.Enabled ? new DataKeys(options.ReadKeyEncryptionKey()) : null;
        _pathsByType = options.EffectivePaths.Select(p => p.Trim()).Where(p => p.Contains('.'))
            .GroupBy(p => p[..p.IndexOf('.')]).ToFrozenDictionary(g => g.Key, g => g.Distinct().ToArray());
    }

    /// <summary>Encryption off (no key-encryption key configured): everything is stored and searched in clear.</summary>
    public static FieldEncryption Off { get; } = new(new FieldEncryptionOptions(), SearchParameterRegistry.R4, new FhirPathSearchEvaluator());

    public bool Enabled => _keys is not null;

    /// <summary>Whether versions of this type are stored encrypted.</summary>
    public bool Encrypts(string type) => _keys is not null && _pathsByType.ContainsKey(type);

    /// <summary>The id of the data key new writes use.</summary>
    public int ActiveKeyId => _keys?.ActiveId ?? 0;

    /// <summary>Reads the data keys (creating the first ones in a new database): at start-up, after the migrations.</summary>
    internal async Task LoadKeysAsync(FhirDbContext db, CancellationToken ct)
    {
        if (_keys is null) return;
        await _keys.LoadAsync(db, ct);
        Volatile.Write(ref _loadedAt, Environment.TickCount64);
    }

    /// <summary>
    /// Refuses a start that would mix clear and encrypted data, before the keys are loaded (and created): a server
    /// without the key-encryption key on a database that holds encrypted data (reads would fail, searches miss, new
    /// residents and one-person-one-record keys go in clear); a key on a database with sealed versions but no data
    /// keys (a new index key would never find them); a key turned on over clear versions of protected types (their
    /// index rows and unique keys stay clear: unfindable by identifier, duplicates accepted). No pass seals clear versions.
    /// </summary>
    internal async Task CheckStartAsync(FhirDbContext db, CancellationToken ct)
    {
        var types = _pathsByType.Keys.ToList();
        var hasKeys = await db.Set<DataKeyRow>().AnyAsync(ct);
        var hasSealed = await db.Resources.AnyAsync(r => types.Contains(r.ResourceType) && r.KeyId != null, ct);
        if (_keys is null)
        {
            if (hasKeys || hasSealed)
                throw new InvalidOperationException("Storage:FieldEncryption: this database holds encrypted data (data keys or sealed versions) and no " +
                    "key-encryption key is configured (Storage:FieldEncryption:KeyEncryptionKey or …KeyEncryptionKeyFile): refusing to start. " +
                    "本数据库含加密数据，但未配置密钥加密密钥，拒绝启动。");
            return;
        }
        if (!hasKeys && hasSealed)
            throw new InvalidOperationException("Storage:FieldEncryption: this database holds sealed versions but no data keys (table DataKey is empty): " +
                "new keys would never open them nor find them by the blind index; restore the DataKey table. 数据库含加密数据但缺少数据密钥表，拒绝启动。");
        if (await db.Resources.AnyAsync(r => types.Contains(r.ResourceType) && r.KeyId == null && r.Data != null, ct))
            throw new InvalidOperationException($"Storage:FieldEncryption: this database holds versions of protected types ({string.Join(", ", types)}) stored " +
                "in clear; turning encryption on over them would leave them unfindable by identifier and accept duplicate residents. Start it with " +
                "encryption on over an empty database and load the data again. 数据库已有明文的受保护资源，不能直接开启字段加密，拒绝启动。");
    }

    /// <summary>Whether the keys should be read again (another server may have rotated): at the start of a write.</summary>
    internal bool RefreshDue => _keys is not null && Environment.TickCount64 - Volatile.Read(ref _loadedAt) > _refresh.TotalMilliseconds;

    /// <summary>
    /// Adds a data key and makes it the one new writes use; what was written under older keys stays readable. Other
    /// servers on the database write under it within <see cref="FieldEncryptionOptions.KeyRefreshInterval"/>.
    /// </summary>
    public async Task<int> RotateAsync(CancellationToken ct = default)
    {
        var keys = _keys ?? throw new InvalidOperationException("Field encryption is off: there is no key to rotate.");
        await using var db = await (_factory ?? throw new InvalidOperationException("No database to keep the keys in.")).CreateDbContextAsync(ct);
        var id = await keys.RotateAsync(db, ct);
        Volatile.Write(ref _loadedAt, Environment.TickCount64);
        return id;
    }

    /// <summary>Seals a version's compressed bytes under the active data key.</summary>
    internal (int KeyId, byte[] Data) Seal(string type, string id, int version, byte[] compressed)
    {
        var keys = _keys!;
        var keyId = keys.ActiveId;
        return (keyId, Sm4.Seal(keys.Get(keyId)!, compressed, Binding(type, id, version)));
    }

    /// <summary>Opens a sealed version (a key added by another server since is read first).</summary>
    internal byte[] Open(string type, string id, int version, int keyId, byte[] data)
    {
        var keys = _keys ?? throw new InvalidOperationException($"{type}/{id} is stored encrypted (key {keyId}), and field encryption is not configured.");
        var key = keys.Get(keyId);
        if (key is null && _factory is not null)
        {
            lock (_reload)
            {
                if (keys.Get(keyId) is null)
                {
                    using var db = _factory.CreateDbContext();
                    keys.LoadAsync(db, CancellationToken.None).GetAwaiter().GetResult();
                }
            }
            key = keys.Get(keyId);
        }
        if (key is null) throw new InvalidOperationException($"{type}/{id}: data key {keyId} is not in the database.");
        return Sm4.Open(key, data, Binding(type, id, version));
    }

    private static byte[] Binding(string type, string id, int version) => Encoding.UTF8.GetBytes($"{type}/{id}/_history/{version}");

    /// <summary>
    /// The blind index of a value in a domain: "bi:" and the first 128 bits of HMAC-SM3 under the index key over
    /// domain ‖ 0x00 ‖ value, in lower-case hex (so string normalisation leaves it as it is). Equal values give equal
    /// indexes within one domain only: a number as a Patient's identifier and as a RelatedPerson's phone give unrelated
    /// tags (<see cref="IndexDomain"/>, <see cref="UniqueDomain"/>). The value cannot be read back.
    /// </summary>
    public string Blind(string domain, string value)
    {
        var keys = _keys ?? throw new InvalidOperationException("Field encryption is off.");
        return BlindPrefix + KeyedTag(keys.IndexKey, domain, value);
    }

    /// <summary>
    /// The first 128 bits of HMAC-SM3 under <paramref name="key"/> over domain ‖ 0x00 ‖ value, in lower-case hex: the
    /// blind index's tag, also for a keyed hash under another key (an access request's identifier with encryption off).
    /// </summary>
    public static string KeyedTag(byte[] key, string domain, string value)
    {
        var d = Encoding.UTF8.GetBytes(domain);
        var message = new byte[d.Length + 1 + Encoding.UTF8.GetByteCount(value)];
        d.CopyTo(message, 0);
        Encoding.UTF8.GetBytes(value, message.AsSpan(d.Length + 1));
        return Convert.ToHexStringLower(Sm3.Hmac(key, message), 0, 16);
    }

    /// <summary>The domain of a search-index row: its resource type and its parameter ("Patient.identifier"; suffixes such as ":of-type" count as their parameter; "*" when the type is unknown).</summary>
    public static string IndexDomain(string? type, string param) => $"{type ?? "*"}.{param.Split(':')[0]}";

    /// <summary>The domain of a one-person-one-record key: its scope.</summary>
    public static string UniqueDomain(string scope) => "unique:" + scope;

    /// <summary>The clear values at the protected paths of this resource (empty when encryption is off or its type has none).</summary>
    public HashSet<string> ProtectedValues(ElementNode resource)
    {
        var values = new HashSet<string>(StringComparer.Ordinal);
        if (_keys is null || !_pathsByType.TryGetValue(resource.Type ?? resource.Name, out var paths)) return values;
        foreach (var path in paths)
        {
            IEnumerable<ElementNode> nodes;
            try { nodes = _evaluator.Select(resource, path).ToList(); }
            catch (Exception) { continue; } // a path the engine cannot evaluate protects nothing here; the resource is still encrypted whole
            foreach (var n in nodes)
                if (n.Value is { Length: > 0 } v) values.Add(v);
        }
        return values;
    }

    /// <summary>
    /// Whether the index rows of this parameter may hold blind indexes for this type (any type when null): its
    /// expression selects a protected path or an element containing one ("Patient.telecom.where(system='phone')"
    /// covers Patient.telecom.value). ":of-type" and other suffixes count as their parameter.
    /// </summary>
    public bool IsBlinded(string? type, string param)
    {
        if (_keys is null) return false;
        var code = param.Split(':')[0];
        if (type is not null) return BlindedParams(type).Contains(code);
        foreach (var t in _pathsByType.Keys)
            if (BlindedParams(t).Contains(code)) return true;
        return false;
    }

    private FrozenSet<string> BlindedParams(string type) => _blindedParams.GetOrAdd(type, t =>
    {
        if (!_pathsByType.TryGetValue(t, out var paths)) return FrozenSet<string>.Empty;
        return _registry.For(t).Where(p => p.Expression is { } e && Covers(e, paths)).Select(p => p.Code).ToFrozenSet(StringComparer.Ordinal);
    });

    /// <summary>Whether one of the expression's union parts, read as a plain path, lies on a protected path.</summary>
    private static bool Covers(string expression, string[] paths)
    {
        foreach (var part in SearchParameterRegistry.SplitTopLevel(expression, '|'))
        {
            var plain = Functions().Replace(part.Trim().Trim('(', ')'), "");
            // A bare type ("Patient.extension(…)" reduced to "Patient") says nothing about which element it reads.
            if (!plain.Contains('.')) continue;
            foreach (var path in paths)
                if (path == plain || path.StartsWith(plain + ".", StringComparison.Ordinal) || plain.StartsWith(path + ".", StringComparison.Ordinal))
                    return true;
        }
        return false;
    }

    /// <summary>Function calls and what follows the first one: "Patient.telecom.where(system='phone')" → "Patient.telecom".</summary>
    [GeneratedRegex(@"\.(where|ofType|as|resolve|extension|exists|first)\(.*$")]
    private static partial Regex Functions();
}

using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace FhirArchive.Auth.Tokens;

/// <summary>An authorisation code waiting for its token request (single use, short-lived).</summary>
public sealed record AuthorizationCode(TokenPrincipal Principal, string ClientId, string RedirectUri, string CodeChallenge, DateTimeOffset ExpiresAt);

/// <summary>A refresh token: the grant it renews, its rotation family, its end.</summary>
public sealed record RefreshGrant(TokenPrincipal Principal, string ClientId, string Family, DateTimeOffset ExpiresAt);

/// <summary>
/// The authorisation server's short-lived state, in memory: codes, refresh tokens (stored by hash; rotated on use,
/// and a reused rotated token revokes its whole family), the deny-list of revoked access-token ids, and the ids of
/// client assertions already seen (replay). A restart logs everyone out, which is acceptable for this state.
/// </summary>
public sealed class GrantStore(TimeProvider clock)
{
    private readonly ConcurrentDictionary<string, AuthorizationCode> _codes = new();
    private readonly ConcurrentDictionary<string, RefreshGrant> _refresh = new();
    private readonly ConcurrentDictionary<string, string> _rotated = new(); // hash of a used refresh token → family
    private readonly ConcurrentDictionary<string, DateTimeOffset> _revokedJti = new();
    private readonly ConcurrentDictionary<string, DateTimeOffset> _seenAssertions = new();

    public static string NewHandle() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string Hash(string handle) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(handle)));

    public string AddCode(AuthorizationCode code)
    {
        var handle = NewHandle();
        _codes[Hash(handle)] = code;
        return handle;
    }

    public AuthorizationCode? TakeCode(string handle) =>
        _codes.TryRemove(Hash(handle), out var c) && c.ExpiresAt > clock.GetUtcNow() ? c : null;

    public string AddRefresh(RefreshGrant grant)
    {
        var handle = NewHandle();
        _refresh[Hash(handle)] = grant;
        return handle;
    }

    public enum RefreshUse { Ok, Unknown, Reused }

    /// <summary>Takes a refresh token for rotation. A token already rotated away revokes every token of its family.</summary>
    public (RefreshUse, RefreshGrant?) TakeRefresh(string handle, string clientId)
    {
        var h = Hash(handle);
        // Another client presenting it gets nothing and does not use it up.
        if (_refresh.TryGetValue(h, out var held) && held.ClientId != clientId) return (RefreshUse.Unknown, null);
        if (_refresh.TryRemove(h, out var g))
        {
            _rotated[h] = g.Family;
            return g.ExpiresAt > clock.GetUtcNow() ? (RefreshUse.Ok, g) : (RefreshUse.Unknown, null);
        }
        if (_rotated.TryGetValue(h, out var family))
        {
            RevokeFamily(family);
            return (RefreshUse.Reused, null);
        }
        return (RefreshUse.Unknown, null);
    }

    public RefreshGrant? PeekRefresh(string handle) =>
        _refresh.TryGetValue(Hash(handle), out var g) && g.ExpiresAt > clock.GetUtcNow() ? g : null;

    public bool RevokeRefresh(string handle) => _refresh.TryRemove(Hash(handle), out _);

    private void RevokeFamily(string family)
    {
        foreach (var (k, g) in _refresh)
            if (g.Family == family) _refresh.TryRemove(k, out _);
    }

    public void RevokeAccessToken(string jti, DateTimeOffset expiresAt)
    {
        _revokedJti[jti] = expiresAt;
        Sweep(_revokedJti);
    }

    public bool IsRevoked(string jti) => _revokedJti.ContainsKey(jti);

    /// <summary>False when this assertion id was already used (until its expiry).</summary>
    public bool UseAssertionId(string clientId, string jti, DateTimeOffset expiresAt)
    {
        Sweep(_seenAssertions);
        return _seenAssertions.TryAdd(clientId + " " + jti, expiresAt);
    }

    private void Sweep(ConcurrentDictionary<string, DateTimeOffset> d)
    {
        var now = clock.GetUtcNow();
        foreach (var (k, until) in d)
            if (until < now - TimeSpan.FromMinutes(5)) d.TryRemove(k, out _);
    }
}

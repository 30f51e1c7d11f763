using System.Collections.Concurrent;
using FhirArchive.Auth.State;

namespace FhirArchive.Auth.Tokens;

/// <summary>
/// The revoked access-token ids and grants, asked on every request: answered from memory, refreshed from the database at most
/// every <see cref="AuthOptions.RevocationRefreshInterval"/> (a query for the rows revoked since the last one, with an
/// overlap for late commits and clock differences between instances). A revocation made here counts at once; one
/// made by another server instance on the same database counts within the interval; all of them survive a restart.
/// </summary>
public sealed class RevocationList(IRevocationState store, AuthOptions options, TimeProvider clock)
{
    private static readonly TimeSpan Overlap = TimeSpan.FromMinutes(1);

    // A revoked grant is a row like a token id, its id behind this prefix (no token id has a space).
    private const string GrantPrefix = "grant ";

    private readonly ConcurrentDictionary<string, DateTimeOffset> _revoked = new();
    private readonly ConcurrentDictionary<string, DateTimeOffset> _revokedGrants = new();
    private readonly SemaphoreSlim _firstLoad = new(1, 1);
    private volatile bool _loaded;
    private long _nextRefreshTicks;
    private DateTimeOffset _since = DateTimeOffset.MinValue;
    private int _refreshing;

    public async ValueTask<bool> IsRevokedAsync(string jti)
    {
        if (!_loaded || clock.GetUtcNow().UtcTicks >= Interlocked.Read(ref _nextRefreshTicks)) await RefreshAsync();
        return _revoked.ContainsKey(jti);
    }

    /// <summary>Whether the token itself (its jti) or the grant it was issued under is revoked.</summary>
    public async ValueTask<bool> IsRevokedAsync(TokenPrincipal token)
    {
        if (!_loaded || clock.GetUtcNow().UtcTicks >= Interlocked.Read(ref _nextRefreshTicks)) await RefreshAsync();
        return token.TokenId is { } jti && _revoked.ContainsKey(jti) || token.GrantId is { } grant && _revokedGrants.ContainsKey(grant);
    }

    public async Task RevokeAsync(string jti, DateTimeOffset expiresAt)
    {
        await store.RevokeTokenIdAsync(jti, expiresAt.UtcTicks, clock.GetUtcNow().UtcTicks);
        _revoked[jti] = expiresAt;
    }

    /// <summary>Revokes every access token carrying this grant id, until <paramref name="lastExpiry"/> (the latest any of them ends).</summary>
    public async Task RevokeGrantAsync(string grantId, DateTimeOffset lastExpiry)
    {
        await store.RevokeTokenIdAsync(GrantPrefix + grantId, lastExpiry.UtcTicks, clock.GetUtcNow().UtcTicks);
        _revokedGrants[grantId] = lastExpiry;
    }

    private async Task RefreshAsync()
    {
        if (!_loaded)
        {
            // Everyone waits for the first load: until then nothing is known.
            await _firstLoad.WaitAsync();
            try
            {
                if (!_loaded) await LoadAsync();
                _loaded = true;
            }
            finally { _firstLoad.Release(); }
            return;
        }
        // One refresh at a time; meanwhile the others answer from what is known.
        if (Interlocked.Exchange(ref _refreshing, 1) == 1) return;
        try { await LoadAsync(); }
        finally { Interlocked.Exchange(ref _refreshing, 0); }
    }

    private async Task LoadAsync()
    {
        var now = clock.GetUtcNow();
        var since = _since == DateTimeOffset.MinValue ? DateTimeOffset.MinValue : _since - Overlap;
        foreach (var row in await store.RevokedSinceAsync(since.UtcTicks, (now - options.ClockSkew).UtcTicks))
        {
            var expires = new DateTimeOffset(row.ExpiresAt, TimeSpan.Zero);
            if (row.TokenId.StartsWith(GrantPrefix, StringComparison.Ordinal)) _revokedGrants[row.TokenId[GrantPrefix.Length..]] = expires;
            else _revoked[row.TokenId] = expires;
        }
        _since = now;
        Interlocked.Exchange(ref _nextRefreshTicks, (now + options.RevocationRefreshInterval).UtcTicks);
    }

    /// <summary>Drops ids whose tokens can no longer validate anyway.</summary>
    public void ForgetExpired()
    {
        var cutoff = clock.GetUtcNow() - options.ClockSkew;
        foreach (var list in new[] { _revoked, _revokedGrants })
            foreach (var (id, expires) in list)
                if (expires < cutoff) list.TryRemove(id, out _);
    }
}

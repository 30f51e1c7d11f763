using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using FhirArchive.Auth.State;

namespace FhirArchive.Auth.Tokens;

/// <summary>An authorisation code waiting for its token request (single use, short-lived).</summary>
public sealed record AuthorizationCode(TokenPrincipal Principal, string ClientId, string RedirectUri, string CodeChallenge, DateTimeOffset ExpiresAt);

/// <summary>A refresh token: the grant it renews, its rotation family (the grant id its access tokens carry), its end.</summary>
public sealed record RefreshGrant(TokenPrincipal Principal, string ClientId, string Family, DateTimeOffset ExpiresAt);

/// <summary>
/// The authorisation server's grant state, in the database (so it survives a restart and every server instance on
/// the database sees the same): codes and refresh tokens stored by SHA-256 hash only (rotated on use; a reused
/// rotated token or a reused code revokes the whole grant), revoked access-token and grant ids (<see cref="RevocationList"/>),
/// and the ids of client assertions already seen (replay). Expired rows are deleted by <see cref="AuthStateCleanup"/>.
/// </summary>
public sealed class GrantStore(IGrantState store, RevocationList revocations, AuthOptions options, TimeProvider clock)
{
    public static string NewHandle() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    internal static string Hash(string handle) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(handle)));

    private long Now => clock.GetUtcNow().UtcTicks;

    private static DateTimeOffset Time(long ticks) => new(ticks, TimeSpan.Zero);

    public async Task<string> AddCodeAsync(AuthorizationCode code)
    {
        var handle = NewHandle();
        await store.AddCodeAsync(new AuthCodeRow
        {
            Hash = Hash(handle), ClientId = code.ClientId, Payload = JsonSerializer.Serialize(code), ExpiresAt = code.ExpiresAt.UtcTicks,
        });
        return handle;
    }

    /// <summary>The code's grant, used up by this call (on every instance); null when unknown, used or expired.
    /// A used code is remembered as long as the grant issued from it may live, so its reuse can end that grant.</summary>
    public async Task<AuthorizationCode?> TakeCodeAsync(string handle)
    {
        var hash = Hash(handle);
        if (await store.TakeCodeAsync(hash, Now) is not { } row) return null;
        await store.UseOnceAsync(UsedCodeKey(hash), (clock.GetUtcNow() + options.RefreshTokenLifetime).UtcTicks, Now);
        return JsonSerializer.Deserialize<AuthorizationCode>(row.Payload);
    }

    /// <summary>RFC 6749 §4.1.2: a code presented after its use revokes the grant issued from it (access and refresh
    /// tokens); true when the code was indeed issued and used, false for one never seen (or forgotten).</summary>
    public async Task<bool> RevokeGrantOfUsedCodeAsync(string handle)
    {
        if (!await store.WasUsedAsync(UsedCodeKey(Hash(handle)), Now)) return false;
        await RevokeGrantAsync(GrantOfCode(handle));
        return true;
    }

    /// <summary>The grant id of the tokens issued from a code (and the rotation family of their refresh tokens): derived
    /// from the code, so its reuse finds them, but not the code's stored hash.</summary>
    public static string GrantOfCode(string handle) => Hash("grant " + handle);

    private static string UsedCodeKey(string codeHash) => "code-used " + codeHash;

    /// <summary>Ends a grant: its live refresh tokens, and its access tokens (by the grant id they carry) until the last
    /// of them would have expired anyway (no new one is issued once the refresh tokens are gone).</summary>
    public async Task RevokeGrantAsync(string grantId)
    {
        await store.RevokeFamilyAsync(grantId);
        await revocations.RevokeGrantAsync(grantId, clock.GetUtcNow() + options.AccessTokenLifetime);
    }

    public async Task<string> AddRefreshAsync(RefreshGrant grant)
    {
        var handle = NewHandle();
        await store.AddRefreshAsync(new RefreshTokenRow
        {
            Hash = Hash(handle), ClientId = grant.ClientId, Family = grant.Family,
            Payload = JsonSerializer.Serialize(grant.Principal), ExpiresAt = grant.ExpiresAt.UtcTicks,
        });
        return handle;
    }

    public enum RefreshUse { Ok, Unknown, Reused }

    /// <summary>Takes a refresh token for rotation. A token already rotated away revokes every token of its family.</summary>
    public async Task<(RefreshUse, RefreshGrant?)> TakeRefreshAsync(string handle, string clientId)
    {
        var h = Hash(handle);
        var row = await store.FindRefreshAsync(h);
        // Another client presenting it gets nothing and does not use it up.
        if (row is null || row.ClientId != clientId) return (RefreshUse.Unknown, null);
        if (row.UsedAt is null && await store.UseRefreshAsync(h, Now))
            return row.ExpiresAt > Now ? (RefreshUse.Ok, ToGrant(row)) : (RefreshUse.Unknown, null);
        // Used before, here or on another instance (or a concurrent rotation won): a theft signal.
        await RevokeGrantAsync(row.Family);
        return (RefreshUse.Reused, null);
    }

    /// <summary>A live refresh token's grant (not used, not expired), without using it.</summary>
    public async Task<RefreshGrant?> PeekRefreshAsync(string handle) =>
        await store.FindRefreshAsync(Hash(handle)) is { UsedAt: null } row && row.ExpiresAt > Now ? ToGrant(row) : null;

    /// <summary>The client a refresh token was issued to, used or not (so a public client's reuse is still detected).</summary>
    public async Task<string?> ClientOfRefreshAsync(string handle) =>
        await store.FindRefreshAsync(Hash(handle)) is { } row && row.ExpiresAt > Now ? row.ClientId : null;

    private static RefreshGrant ToGrant(RefreshTokenRow row) =>
        new(JsonSerializer.Deserialize<TokenPrincipal>(row.Payload)!, row.ClientId, row.Family, Time(row.ExpiresAt));

    public Task RevokeAccessTokenAsync(string jti, DateTimeOffset expiresAt) => revocations.RevokeAsync(jti, expiresAt);

    /// <summary>False when this assertion id was already used (until its expiry), on any instance.</summary>
    public Task<bool> UseAssertionIdAsync(string clientId, string jti, DateTimeOffset expiresAt) =>
        store.UseOnceAsync("client-assertion " + clientId + " " + jti, expiresAt.UtcTicks, Now);

    /// <summary>Deletes the state that can no longer matter; returns the number of rows deleted.</summary>
    public Task<int> DeleteExpiredAsync()
    {
        var now = clock.GetUtcNow();
        revocations.ForgetExpired();
        // A token expired for longer than the clock skew never validates again, revoked or not.
        return store.DeleteExpiredAsync(now.UtcTicks, (now - options.ClockSkew).UtcTicks, (now - options.LockoutWindow).UtcTicks);
    }
}

using Microsoft.IdentityModel.Tokens;

namespace FhirArchive.Auth.Accounts;

/// <summary>
/// The clients registered in configuration (<see cref="AuthOptions.Clients"/>), checked at start-up: a mistake (no
/// credentials for a system, an unknown role, a key set that is unreadable, empty or holds a private key) stops the
/// server with the reason rather than leaving a client that cannot or should not authenticate.
/// </summary>
public static class ConfiguredClients
{
    /// <summary>What a role may reach: its scope ceiling and the purposes of use it may claim.</summary>
    public sealed record RoleRule(IReadOnlyList<string> Ceiling, IReadOnlyList<string> Purposes);

    public static void AddTo(InMemoryAuthDirectory directory, AuthOptions options, string dataFolder, Func<string, RoleRule?> ruleOf)
    {
        foreach (var c in options.Clients) directory.Add(ToRegistration(c, dataFolder, ruleOf));
    }

    public static ClientRegistration ToRegistration(ClientOptions c, string dataFolder, Func<string, RoleRule?> ruleOf)
    {
        string Where() => $"Security:Clients '{c.ClientId}'";
        if (string.IsNullOrWhiteSpace(c.ClientId)) throw new InvalidOperationException("Security:Clients: a client has no ClientId.");
        var rules = c.Roles.Select(r => ruleOf(r) ?? throw new InvalidOperationException($"{Where()}: unknown role '{r}'.")).ToList();
        var jwks = KeySet(c, dataFolder, Where);
        if (c.SecretHash is not null && !c.SecretHash.StartsWith("pbkdf2-sha256$", StringComparison.Ordinal))
            throw new InvalidOperationException($"{Where()}: SecretHash must be a PBKDF2 hash (pbkdf2-sha256$...), not a secret.");
        if (rules.Count > 0 && jwks is null && c.SecretHash is null)
            throw new InvalidOperationException($"{Where()}: a client with roles acts for itself and needs Jwks, JwksFile or SecretHash.");
        var ceiling = rules.SelectMany(r => r.Ceiling).Distinct().ToList();
        // Configured scopes are cut to the roles' ceiling (a typo cannot widen it).
        var scopes = c.Scopes.Count == 0 ? ceiling : Scopes.ScopeGrant.Grant(c.Scopes, ceiling, person: false);
        var allowed = rules.SelectMany(r => r.Purposes).Distinct().ToList();
        var purposes = c.PurposesOfUse.Count == 0 ? allowed : c.PurposesOfUse.Where(allowed.Contains).ToList();
        return new ClientRegistration(c.ClientId, c.Name ?? c.ClientId, c.SecretHash, jwks, c.RedirectUris, c.Roles, scopes, purposes,
            c.Organization, c.Jurisdiction);
    }

    private static JsonWebKeySet? KeySet(ClientOptions c, string dataFolder, Func<string> where)
    {
        if (c.Jwks is not null && c.JwksFile is not null) throw new InvalidOperationException($"{where()}: give Jwks or JwksFile, not both.");
        var json = c.Jwks ?? (c.JwksFile is { } file ? File.ReadAllText(Path.IsPathRooted(file) ? file : Path.Combine(dataFolder, file)) : null);
        if (json is null) return null;
        JsonWebKeySet set;
        try { set = new JsonWebKeySet(json); }
        catch (ArgumentException e) { throw new InvalidOperationException($"{where()}: the key set is not a JWKS: {e.Message}", e); }
        if (set.Keys.Count == 0 || set.GetSigningKeys().Count == 0) throw new InvalidOperationException($"{where()}: the key set has no usable signing key.");
        // A private key in a client's registration means the client's secret has been handed out.
        if (set.Keys.Any(k => k.D is not null || k.K is not null))
            throw new InvalidOperationException($"{where()}: the key set holds a private or symmetric key; register the public keys only.");
        return set;
    }
}

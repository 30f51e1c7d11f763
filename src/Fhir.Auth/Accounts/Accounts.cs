using Microsoft.IdentityModel.Tokens;

namespace FhirArchive.Auth.Accounts;

/// <summary>
/// A person who logs in. What the person may reach: the scope ceiling (requested scopes are cut down to it),
/// the purposes of use the role may claim (the first is the default), and the FHIR links (own record, ward,
/// practitioner, institution, division).
/// </summary>
public sealed record UserAccount(
    string Username,
    string DisplayName,
    string PasswordHash,
    string? TotpSecret,
    IReadOnlyList<string> Roles,
    IReadOnlyList<string> ScopeCeiling,
    IReadOnlyList<string> PurposesOfUse,
    string? FhirUser = null,
    string? Patient = null,
    string? Organization = null,
    string? Jurisdiction = null);

/// <summary>
/// A registered client: a confidential system (secret or JWKS for private_key_jwt) or a public app (PKCE only).
/// System clients act for themselves (client_credentials) within their ceiling and institution.
/// </summary>
public sealed record ClientRegistration(
    string ClientId,
    string Name,
    string? SecretHash,
    JsonWebKeySet? Jwks,
    IReadOnlyList<string> RedirectUris,
    IReadOnlyList<string> Roles,
    IReadOnlyList<string> ScopeCeiling,
    IReadOnlyList<string> PurposesOfUse,
    string? Organization = null,
    string? Jurisdiction = null)
{
    public bool IsConfidential => SecretHash is not null || Jwks is not null;
    /// <summary>Only confidential clients may use client_credentials.</summary>
    public bool CanActForItself => IsConfidential && Roles.Count > 0;
}

/// <summary>Where accounts and clients come from (the demo set-up fills the in-memory one).</summary>
public interface IAuthDirectory
{
    UserAccount? FindUser(string username);
    ClientRegistration? FindClient(string clientId);
}

public sealed class InMemoryAuthDirectory : IAuthDirectory
{
    private readonly Dictionary<string, UserAccount> _users = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, ClientRegistration> _clients = new(StringComparer.Ordinal);

    public void Add(UserAccount user) { lock (_users) _users[user.Username] = user; }
    public void Add(ClientRegistration client) { lock (_clients) _clients[client.ClientId] = client; }

    public UserAccount? FindUser(string username) { lock (_users) return _users.GetValueOrDefault(username); }
    public ClientRegistration? FindClient(string clientId) { lock (_clients) return _clients.GetValueOrDefault(clientId); }
}

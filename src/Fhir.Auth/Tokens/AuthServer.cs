using FhirArchive.Auth.Accounts;
using FhirArchive.Auth.Scopes;

namespace FhirArchive.Auth.Tokens;

/// <summary>An OAuth error (RFC 6749 §5.2): the code, a description, and the HTTP status to answer with.</summary>
public sealed class OAuthException(string error, string description, int status = 400) : Exception(description)
{
    public string Error { get; } = error;
    public int Status { get; } = status;
}

/// <summary>
/// The grants: client authentication, password + one-time-code login with lockout, authorisation codes with PKCE,
/// client_credentials, refresh rotation, revocation and introspection. HTTP lives in <see cref="Endpoints.AuthEndpoints"/>.
/// </summary>
public sealed class AuthServer(
    AuthOptions options, IAuthDirectory directory, TokenService tokens, GrantStore grants, ClientAssertions assertions,
    LoginThrottle throttle, IAuthEvents events, TimeProvider clock)
{
    public IAuthDirectory Directory => directory;

    /// <summary>The token endpoint's answer (RFC 6749 §5.1 plus SMART's patient).</summary>
    public sealed record TokenResponse(string AccessToken, int ExpiresIn, string Scope, string? RefreshToken, string? IdToken, string? Patient);

    // ---- client authentication ----

    /// <summary>client_secret_basic, client_secret_post, private_key_jwt, or a public client naming itself.</summary>
    public async Task<ClientRegistration> AuthenticateClientAsync(ClientCredentials c, string tokenEndpoint, bool requireConfidential)
    {
        ClientRegistration? client;
        if (c.AssertionType is not null || c.Assertion is not null)
        {
            if (c.AssertionType != ClientAssertions.AssertionType || c.Assertion is null)
                throw new OAuthException("invalid_client", "client_assertion_type must be " + ClientAssertions.AssertionType, 401);
            var (found, error) = await assertions.ValidateAsync(c.Assertion, tokenEndpoint, directory);
            client = found ?? throw new OAuthException("invalid_client", error!, 401);
            if (c.ClientId is not null && c.ClientId != client.ClientId) throw new OAuthException("invalid_client", "client_id does not match the assertion", 401);
        }
        else
        {
            client = c.ClientId is null ? null : directory.FindClient(c.ClientId);
            if (client is null)
            {
                // As for people: a secret for an unknown client costs what a wrong one for a known client does.
                if (c.Secret is not null) PasswordHasher.VerifyOrSpend(c.Secret, null);
                throw new OAuthException("invalid_client", "unknown client", 401);
            }
            if (client.SecretHash is not null)
            {
                if (c.Secret is null || !PasswordHasher.Verify(c.Secret, client.SecretHash))
                    throw new OAuthException("invalid_client", "client authentication failed", 401);
            }
            else if (client.IsConfidential) throw new OAuthException("invalid_client", "this client authenticates with private_key_jwt", 401);
        }
        if (requireConfidential && !client.IsConfidential) throw new OAuthException("invalid_client", "a confidential client is required", 401);
        return client;
    }

    /// <summary>The public client a refresh token was issued to (confidential clients must authenticate).</summary>
    public async Task<ClientRegistration> PublicClientOfAsync(string? refreshToken)
    {
        var clientId = refreshToken is null ? null : await grants.ClientOfRefreshAsync(refreshToken);
        if (clientId is null) throw new OAuthException("invalid_grant", "unknown or expired refresh token");
        var client = directory.FindClient(clientId);
        if (client is null || client.IsConfidential) throw new OAuthException("invalid_client", "client authentication is required", 401);
        return client;
    }

    // ---- client_credentials ----

    public async Task<TokenResponse> ClientCredentialsAsync(ClientRegistration client, string? scope, string? purpose, string baseUrl)
    {
        if (!client.CanActForItself) throw new OAuthException("unauthorized_client", "this client may not use client_credentials");
        var granted = ScopeGrant.Grant(ScopeGrant.Split(scope), client.ScopeCeiling, person: false).Where(s => s.StartsWith("system/", StringComparison.Ordinal)).ToList();
        if (granted.Count == 0) throw new OAuthException("invalid_scope", "none of the requested scopes may be granted to this client (system/... scopes within its ceiling)");
        var principal = new TokenPrincipal(client.ClientId, false, client.Name, client.Roles, granted, client.ClientId,
            client.Organization, null, null, client.Jurisdiction, Purpose(purpose, client.PurposesOfUse));
        return await IssueAsync(principal, client.ClientId, baseUrl, refresh: false, idToken: false, "client_credentials");
    }

    // ---- people: login, code, token ----

    /// <summary>What the login page posts back besides the credentials (the original authorize request).</summary>
    public sealed record AuthorizeRequest(string? ResponseType, string? ClientId, string? RedirectUri, string? Scope, string? State,
        string? Aud, string? CodeChallenge, string? CodeChallengeMethod, string? PurposeOfUse);

    /// <summary>Checks that cannot be reported to the redirect URI (unknown client or redirect): shown on the page.</summary>
    public ClientRegistration CheckClientAndRedirect(AuthorizeRequest r)
    {
        var client = r.ClientId is null ? null : directory.FindClient(r.ClientId);
        if (client is null) throw new OAuthException("invalid_client", "unknown client_id");
        if (r.RedirectUri is null || !client.RedirectUris.Any(u => RedirectMatches(u, r.RedirectUri))) throw new OAuthException("invalid_request", "redirect_uri is not registered for this client");
        return client;
    }

    /// <summary>Exactly the registered URI; for a loopback one, any port (RFC 8252 §7.3: native apps listen on an ephemeral port).</summary>
    public static bool RedirectMatches(string registered, string actual)
    {
        if (registered == actual) return true;
        if (!Uri.TryCreate(registered, UriKind.Absolute, out var reg) || !Uri.TryCreate(actual, UriKind.Absolute, out var act)) return false;
        return reg.IsLoopback && reg.Scheme == "http" && act.Scheme == "http" && reg.Host == act.Host
            && reg.AbsolutePath == act.AbsolutePath && act.Query.Length == 0 && act.Fragment.Length == 0 && act.UserInfo.Length == 0;
    }

    /// <summary>Checks reported back to the client through the redirect URI.</summary>
    public void CheckRequest(AuthorizeRequest r, string baseUrl)
    {
        if (r.ResponseType != "code") throw new OAuthException("unsupported_response_type", "response_type must be code");
        if (r.CodeChallengeMethod != "S256" || string.IsNullOrEmpty(r.CodeChallenge)) throw new OAuthException("invalid_request", "PKCE with code_challenge_method=S256 is required");
        if (r.Aud is not null && r.Aud.TrimEnd('/') != baseUrl) throw new OAuthException("invalid_request", $"aud must be this FHIR server ({baseUrl})");
    }

    /// <summary>Password, then one-time code; failures count towards the lockout. Returns the code to redirect with.</summary>
    public async Task<string> LoginAsync(AuthorizeRequest r, ClientRegistration client, string username, string password, string? otp, string? remote)
    {
        var user = directory.FindUser(username);
        if (await throttle.LockedUntilAsync(username) is { } until)
        {
            // The same password work as any other attempt: how long the answer takes says nothing about the account.
            PasswordHasher.VerifyOrSpend(password, null);
            await events.LoginFailedAsync(username, client.ClientId, "locked", remote);
            throw new OAuthException("access_denied", $"账户已锁定，请于 {until.ToOffset(TimeSpan.FromHours(8)):HH:mm} 后重试 / account locked until {until:HH:mm} UTC");
        }
        string? reason = null;
        long? step = null;
        // An unknown username costs a password verification too (timing must not tell which accounts exist).
        if (!PasswordHasher.VerifyOrSpend(password, user?.PasswordHash) || user is null) reason = "bad-password";
        else if (user.TotpSecret is not null && ((step = Totp.Verify(user.TotpSecret, otp ?? "", clock.GetUtcNow())) is null || !await throttle.UseTotpStepAsync(username, step.Value)))
            reason = "bad-otp";
        if (reason is not null)
        {
            await events.LoginFailedAsync(username, client.ClientId, reason, remote);
            if (await throttle.FailAsync(username) is { } lockedUntil) await events.AccountLockedAsync(username, lockedUntil, remote);
            throw new OAuthException("access_denied", "用户名、密码或动态验证码错误 / wrong username, password or one-time code");
        }
        await throttle.SucceedAsync(username);
        await events.LoginSucceededAsync(username, client.ClientId, remote);
        var u = user!;
        var granted = ScopeGrant.Grant(ScopeGrant.Split(r.Scope), u.ScopeCeiling, person: true);
        var purpose = Purpose(r.PurposeOfUse, u.PurposesOfUse);
        var principal = new TokenPrincipal(u.Username, true, u.DisplayName, u.Roles, granted, client.ClientId,
            u.Organization, u.FhirUser, u.Patient, u.Jurisdiction, purpose);
        return await grants.AddCodeAsync(new AuthorizationCode(principal, client.ClientId, r.RedirectUri!, r.CodeChallenge!, clock.GetUtcNow() + options.AuthorizationCodeLifetime));
    }

    public async Task<TokenResponse> ExchangeCodeAsync(ClientRegistration client, string? code, string? redirectUri, string? verifier, string baseUrl)
    {
        if (code is null) throw new OAuthException("invalid_grant", "code is required");
        var grant = await grants.TakeCodeAsync(code);
        if (grant is null && await grants.RevokeGrantOfUsedCodeAsync(code))
        {
            // A second use means the code leaked: whoever redeemed it first loses what it got (RFC 6749 §4.1.2).
            await events.TokenRevokedAsync(null, client.ClientId, "grant (authorization code reuse detected)");
            throw new OAuthException("invalid_grant", "authorization code already used: the tokens issued for it are revoked");
        }
        if (grant is null || grant.ClientId != client.ClientId) throw new OAuthException("invalid_grant", "unknown, used or expired authorization code");
        if (grant.RedirectUri != redirectUri) throw new OAuthException("invalid_grant", "redirect_uri does not match the authorization request");
        if (!Pkce.Matches(verifier, grant.CodeChallenge)) throw new OAuthException("invalid_grant", "code_verifier does not match the code_challenge");
        var p = grant.Principal with { GrantId = GrantStore.GrantOfCode(code) };
        var refresh = p.Scopes.Contains("offline_access") || p.Scopes.Contains("online_access");
        return await IssueAsync(p, client.ClientId, baseUrl, refresh, p.Scopes.Contains("openid"), "authorization_code");
    }

    /// <summary>Rotation: the used refresh token dies and a new one is issued; a second use of it revokes the grant.</summary>
    public async Task<TokenResponse> RefreshAsync(ClientRegistration client, string? refreshToken, string? scope, string baseUrl)
    {
        if (refreshToken is null) throw new OAuthException("invalid_request", "refresh_token is required");
        var (use, grant) = await grants.TakeRefreshAsync(refreshToken, client.ClientId);
        if (use == GrantStore.RefreshUse.Reused)
        {
            await events.TokenRevokedAsync(null, client.ClientId, "refresh-family (reuse detected)");
            throw new OAuthException("invalid_grant", "refresh token already used: the grant is revoked");
        }
        if (grant is null || grant.ClientId != client.ClientId) throw new OAuthException("invalid_grant", "unknown or expired refresh token");
        // The tokens renewed from a grant stay in it (revoked with it).
        var p = grant.Principal with { GrantId = grant.Family };
        if (scope is not null)
        {
            // A refresh may narrow the scopes, never widen them.
            var narrowed = ScopeGrant.Split(scope).Where(p.Scopes.Contains).ToList();
            p = p with { Scopes = narrowed };
        }
        var response = await IssueAsync(p, client.ClientId, baseUrl, refresh: false, idToken: false, "refresh_token");
        var next = await grants.AddRefreshAsync(grant with { Principal = p, ExpiresAt = clock.GetUtcNow() + options.RefreshTokenLifetime });
        return response with { RefreshToken = next };
    }

    private async Task<TokenResponse> IssueAsync(TokenPrincipal p, string clientId, string baseUrl, bool refresh, bool idToken, string grantType)
    {
        var (token, expires) = tokens.CreateAccessToken(p, baseUrl);
        string? refreshToken = refresh
            ? await grants.AddRefreshAsync(new RefreshGrant(p, clientId, p.GrantId ?? GrantStore.NewHandle(), clock.GetUtcNow() + options.RefreshTokenLifetime))
            : null;
        await events.TokenIssuedAsync(p, grantType);
        return new TokenResponse(token, (int)(expires - clock.GetUtcNow()).TotalSeconds, string.Join(' ', p.Scopes), refreshToken,
            idToken ? tokens.CreateIdToken(p, baseUrl, clientId) : null, p.Patient?.Replace("Patient/", ""));
    }

    // ---- revocation and introspection ----

    /// <summary>RFC 7009: always succeeds for the caller; revokes an access token (its jti), or a refresh token with
    /// its grant: the access tokens issued under it end too (§2.1).</summary>
    public async Task RevokeAsync(ClientRegistration client, string? token, string baseUrl)
    {
        if (string.IsNullOrEmpty(token)) throw new OAuthException("invalid_request", "token is required");
        if (await grants.PeekRefreshAsync(token) is { } g)
        {
            if (g.ClientId != client.ClientId) return;
            await grants.RevokeGrantAsync(g.Family);
            await events.TokenRevokedAsync(g.Principal.Subject, client.ClientId, "refresh_token");
            return;
        }
        var v = await tokens.ValidateAsync(token, baseUrl);
        if (v.Principal is { TokenId: { } jti, ExpiresAt: { } exp } p && (p.ClientId == client.ClientId || client.Roles.Count > 0 && p.ClientId is null))
        {
            await grants.RevokeAccessTokenAsync(jti, exp);
            await events.TokenRevokedAsync(p.Subject, client.ClientId, "access_token");
        }
    }

    /// <summary>RFC 7662: active tokens are described; anything else is just {"active": false}.</summary>
    public async Task<Dictionary<string, object?>> IntrospectAsync(string? token, string baseUrl)
    {
        var inactive = new Dictionary<string, object?> { ["active"] = false };
        if (string.IsNullOrEmpty(token)) return inactive;
        if (await grants.PeekRefreshAsync(token) is { } g)
            return Describe(g.Principal, "refresh_token", g.ExpiresAt, baseUrl);
        var v = await tokens.ValidateAsync(token, baseUrl);
        return v.Principal is { } p ? Describe(p, "access_token", p.ExpiresAt, baseUrl) : inactive;
    }

    private static Dictionary<string, object?> Describe(TokenPrincipal p, string kind, DateTimeOffset? exp, string baseUrl) => new()
    {
        ["active"] = true,
        ["scope"] = string.Join(' ', p.Scopes),
        ["client_id"] = p.ClientId,
        ["sub"] = p.Subject,
        ["token_type"] = kind == "access_token" ? "Bearer" : "refresh_token",
        ["exp"] = exp?.ToUnixTimeSeconds(),
        ["iat"] = p.IssuedAt?.ToUnixTimeSeconds(),
        ["iss"] = p.Issuer ?? baseUrl,
        ["aud"] = baseUrl,
        ["jti"] = p.TokenId,
        ["patient"] = p.Patient,
        ["fhirUser"] = p.FhirUser,
        ["roles"] = p.Roles,
        ["purpose_of_use"] = p.PurposeOfUse,
    };

    /// <summary>The requested purpose of use if the role may claim it, else the role's default.</summary>
    private static string? Purpose(string? requested, IReadOnlyList<string> allowed)
    {
        if (requested is null) return allowed.FirstOrDefault();
        if (!allowed.Contains(requested)) throw new OAuthException("invalid_request", $"purpose_of_use {requested} may not be claimed by this account (allowed: {string.Join(", ", allowed)})");
        return requested;
    }
}

/// <summary>The client credentials found on a token, revoke or introspect request.</summary>
public sealed record ClientCredentials(string? ClientId, string? Secret, string? AssertionType, string? Assertion);

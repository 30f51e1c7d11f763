namespace FhirArchive.Auth;

/// <summary>
/// What the authorisation server reports for the audit trail: logins, lockouts, tokens issued and revoked.
/// The default does nothing; the audit feature registers its own.
/// </summary>
public interface IAuthEvents
{
    ValueTask LoginSucceededAsync(string username, string clientId, string? remoteAddress);
    ValueTask LoginFailedAsync(string username, string clientId, string reason, string? remoteAddress);
    ValueTask AccountLockedAsync(string username, DateTimeOffset until, string? remoteAddress);
    ValueTask TokenIssuedAsync(TokenPrincipal principal, string grantType);
    ValueTask TokenRevokedAsync(string? subject, string? clientId, string tokenKind);
    ValueTask TokenRejectedAsync(string reason, string? remoteAddress);
}

public sealed class NoAuthEvents : IAuthEvents
{
    public ValueTask LoginSucceededAsync(string username, string clientId, string? remoteAddress) => ValueTask.CompletedTask;
    public ValueTask LoginFailedAsync(string username, string clientId, string reason, string? remoteAddress) => ValueTask.CompletedTask;
    public ValueTask AccountLockedAsync(string username, DateTimeOffset until, string? remoteAddress) => ValueTask.CompletedTask;
    public ValueTask TokenIssuedAsync(TokenPrincipal principal, string grantType) => ValueTask.CompletedTask;
    public ValueTask TokenRevokedAsync(string? subject, string? clientId, string tokenKind) => ValueTask.CompletedTask;
    public ValueTask TokenRejectedAsync(string reason, string? remoteAddress) => ValueTask.CompletedTask;
}

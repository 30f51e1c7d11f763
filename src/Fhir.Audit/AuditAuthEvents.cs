using FhirArchive.Auth;
using FhirArchive.Rest.Access;

namespace FhirArchive.Audit;

/// <summary>
/// The authorisation server's security events as audit events of their own (DICOM "User Authentication" with
/// Login, or a local token subtype), naming the user or client, so logins, refusals, lockouts and token grants are
/// traceable beside the HTTP requests that carried them.
/// </summary>
public sealed class AuditAuthEvents(AuditTrail trail, TimeProvider clock) : IAuthEvents
{
    private const string Dicom = "http://dicom.nema.org/resources/ontology/DCM";
    private const string TokenSubtypes = "http://fhirarchive.cn/fhir/CodeSystem/auth-event";
    private static readonly Coding Authentication = new(Dicom, "110114", "User Authentication");

    public ValueTask LoginSucceededAsync(string username, string clientId, string? remoteAddress) =>
        Record(Person(username, clientId), new("110122", "E", null, null, null), Dicom, 200, remoteAddress, "login succeeded");

    public ValueTask LoginFailedAsync(string username, string clientId, string reason, string? remoteAddress) =>
        Record(Person(username, clientId), new("110122", "E", null, null, null), Dicom, 401, remoteAddress, $"login failed: {reason}");

    public ValueTask AccountLockedAsync(string username, DateTimeOffset until, string? remoteAddress) =>
        Record(Person(username, null), new("account-locked", "E", null, null, null), TokenSubtypes, 401, remoteAddress, $"account locked until {until:O}");

    public ValueTask TokenIssuedAsync(TokenPrincipal principal, string grantType) =>
        Record(new Caller(principal.IsPerson ? CallerKind.Person : CallerKind.System, principal.Subject, principal.DisplayName,
                principal.Roles.ToHashSet(), principal.Scopes, principal.Organization, ClientId: principal.ClientId),
            new("token-issued", "E", null, null, null), TokenSubtypes, 200, null, $"token issued ({grantType}): {string.Join(' ', principal.Scopes)}");

    public ValueTask TokenRevokedAsync(string? subject, string? clientId, string tokenKind) =>
        Record(new Caller(CallerKind.System, subject ?? clientId ?? "unknown", null, new HashSet<string>(), [], ClientId: clientId),
            new("token-revoked", "E", null, null, null), TokenSubtypes, 200, null, $"{tokenKind} revoked");

    public ValueTask TokenRejectedAsync(string reason, string? remoteAddress) =>
        Record(Caller.Anonymous, new("token-rejected", "E", null, null, null), TokenSubtypes, 401, remoteAddress, $"token rejected: {reason}");

    private static Caller Person(string username, string? clientId) =>
        new(CallerKind.Person, username, null, new HashSet<string>(), [], ClientId: clientId);

    private async ValueTask Record(Caller caller, Interaction what, string subtypeSystem, int status, string? address, string description) =>
        await trail.RecordAsync(new AuditDraft(null, clock.GetUtcNow(), what, status, caller, address, null, [], [],
            description, Authentication, subtypeSystem), []);
}

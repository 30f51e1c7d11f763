using System.Text.Json;
using FhirArchive.Rest.Access;

namespace FhirArchive.Rest.Subscriptions;

/// <summary>
/// The subscriber as stored with its Subscription: the caller of the write (who, roles, scopes, institution, purpose),
/// and the request context the access policies decide for when a notification is sent.
/// </summary>
public static class SubscriberCodec
{
    private sealed record Stored(CallerKind Kind, string Subject, string? DisplayName, string[] Roles, string[] Scopes,
        string? Organization, string? Practitioner, string? Patient, string? Jurisdiction, string? PurposeOfUse, string? ClientId, string? FhirUser);

    public static string Write(Caller c) => JsonSerializer.Serialize(new Stored(c.Kind, c.Subject, c.DisplayName, [.. c.Roles], [.. c.Scopes],
        c.Organization, c.Practitioner, c.Patient, c.Jurisdiction, c.PurposeOfUse, c.ClientId, c.FhirUser));

    public static Caller Read(string json)
    {
        var s = JsonSerializer.Deserialize<Stored>(json) ?? throw new InvalidOperationException("Empty subscriber.");
        return new Caller(s.Kind, s.Subject, s.DisplayName, s.Roles.ToHashSet(), s.Scopes, s.Organization, s.Practitioner, s.Patient,
            s.Jurisdiction, s.PurposeOfUse, s.ClientId, s.FhirUser);
    }

    /// <summary>A request context of the subscriber, for the same access decisions a read of theirs gets (ReadGuard).</summary>
    public static HttpContext ContextOf(Caller subscriber, IServiceProvider services)
    {
        var http = new DefaultHttpContext { RequestServices = services };
        http.SetCaller(subscriber);
        return http;
    }
}

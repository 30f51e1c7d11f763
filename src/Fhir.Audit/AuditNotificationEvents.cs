using FhirArchive.Rest.Access;
using FhirArchive.Rest.Subscriptions;
using FhirArchive.Storage;

namespace FhirArchive.Audit;

/// <summary>
/// Each Subscription notification attempt as an audit event of its own: a disclosure to the subscriber — DICOM
/// "Export" (data leaving the server), subtype the channel (local code system), action R, the subscriber as the
/// agent, the endpoint as its address, the resource sent and the Subscription as entities (searchable with
/// <c>AuditEvent?entity=</c>), the endpoint's HTTP status as the outcome. One journal append per attempt; the
/// resource is not parsed again for its patient.
/// </summary>
public sealed class AuditNotificationEvents(AuditTrail trail, TimeProvider clock, IConfiguration configuration) : INotificationAudit
{
    public const string Subtypes = "http://fhirarchive.cn/fhir/CodeSystem/notification-event";
    private static readonly Coding Export = new("http://dicom.nema.org/resources/ontology/DCM", "110106", "Export");
    private readonly bool _enabled = configuration.GetValue("Audit:Enabled", true);

    public ValueTask NotifiedAsync(Caller subscriber, string subscriptionId, string channel, StoredResource shown, string target, int status, string? failure)
    {
        if (!_enabled) return ValueTask.CompletedTask;
        var resource = $"{shown.ResourceType}/{shown.Id}";
        var description = $"Subscription/{subscriptionId} {channel} notification of {resource}/_history/{shown.Version} to {target}"
            + (failure is null ? "" : $": {failure}");
        var subscription = $"Subscription/{subscriptionId}";
        return trail.RecordAsync(new AuditDraft(null, clock.GetUtcNow(), new Interaction(channel, "R", shown.ResourceType, shown.Id, null),
                status == 0 ? 502 : status, subscriber, target, null, [resource, subscription], [], description, Export, Subtypes),
            [("resource", resource), ("resource", subscription)]);
    }
}

using System.Globalization;
using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Writing;

namespace FhirArchive.Archive.Records;

/// <summary>
/// Source labels (数源单位 + 采集时间): whatever a caller acting for an institution writes carries that institution in
/// meta.source (any value in the payload is replaced: it comes from the caller, not the body) and gets a companion
/// Provenance in the same transaction: target the written version, agents the practitioner and the institution,
/// recorded now, occurred at the service time when the resource has one. Without an institution nothing is stamped.
/// </summary>
public sealed class SourceLabelInterceptor(TimeProvider clock) : IWriteInterceptor
{
    public ValueTask BeforeWriteAsync(WriteContext context)
    {
        if (context.Resource is not { } resource || InstitutionOf(context) is not { } org) return ValueTask.CompletedTask;
        var meta = resource.Child("meta") ?? resource.Add("meta");
        meta.RemoveAll("source");
        meta.Add("source", org);
        return ValueTask.CompletedTask;
    }

    public async ValueTask AfterWriteAsync(WriteContext context)
    {
        // Provenances (ours or a client's) and companion writes get no Provenance of their own: no endless chains.
        if (context.Resource is not { } resource || context.Parent is not null || context.ResourceType == "Provenance") return;
        if (InstitutionOf(context) is not { } org) return;
        var caller = context.Http!.GetCaller();
        var now = FhirInstant.Of(clock.GetUtcNow());
        var provenance = ElementNode.CreateResource("Provenance");
        provenance.Add("target").Add("reference", $"{context.ResourceType}/{context.Id}/_history/{context.Version}");
        provenance.Add("occurred", RecordScope.ServiceTime(resource) ?? now, "dateTime");
        provenance.Add("recorded", now);
        var activity = provenance.Add("activity").Add("coding");
        activity.Add("system", "http://terminology.hl7.org/CodeSystem/v3-DataOperation");
        activity.Add("code", context.CreatesResource ? "CREATE" : "UPDATE");
        var agent = provenance.Add("agent");
        AddAgentType(agent, "author");
        agent.Add("who").Add("reference", caller.Practitioner ?? org);
        if (caller.Practitioner is not null) agent.Add("onBehalfOf").Add("reference", org);
        await context.CreateCompanionAsync(provenance);
    }

    /// <summary>
    /// A Provenance agent for the person (or client) who acted: who = their Practitioner, else the signed-in user or
    /// client by identifier and name as the audit trail names them (never their institution in their place);
    /// onBehalfOf = the institution they act for.
    /// </summary>
    internal static ElementNode AddAgent(ElementNode provenance, string type, Caller caller)
    {
        var agent = provenance.Add("agent");
        AddAgentType(agent, type);
        var who = agent.Add("who");
        if (caller.Practitioner is { } practitioner) who.Add("reference", practitioner);
        else
        {
            var identifier = who.Add("identifier");
            identifier.Add("system", caller.SubjectSystem);
            identifier.Add("value", caller.Subject);
            who.Add("display", caller.DisplayName ?? caller.Subject);
        }
        if (caller.Organization is { } org) agent.Add("onBehalfOf").Add("reference", org);
        return agent;
    }

    internal static void AddAgentType(ElementNode agent, string code)
    {
        var coding = agent.Add("type").Add("coding");
        coding.Add("system", "http://terminology.hl7.org/CodeSystem/provenance-participant-type");
        coding.Add("code", code);
    }

    /// <summary>The institution the caller acts for ("Organization/…"); the server's own writes and anonymous callers have none.</summary>
    private static string? InstitutionOf(WriteContext context) => context.Http?.GetCaller().Organization;
}

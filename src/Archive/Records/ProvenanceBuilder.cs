using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Access;
using FhirArchive.Storage;

namespace FhirArchive.Archive.Records;

/// <summary>
/// The Provenances the server writes (a write's source label, a record's status change, an approved correction, a
/// revoked authorisation), built one way: the written version they are about, when it occurred and was recorded,
/// the activity, why, who acted, and what it came from.
/// </summary>
public sealed class ProvenanceBuilder
{
    public const string DataOperation = "http://terminology.hl7.org/CodeSystem/v3-DataOperation";
    private const string ParticipantType = "http://terminology.hl7.org/CodeSystem/provenance-participant-type";

    private readonly ElementNode _provenance = ElementNode.CreateResource("Provenance");

    /// <summary>A Provenance of <paramref name="target"/>'s version: <paramref name="occurred"/> a FHIR dateTime, <paramref name="recorded"/> an instant.</summary>
    public ProvenanceBuilder(StoredResource target, string occurred, string recorded)
    {
        _provenance.Add("target").Add("reference", VersionOf(target));
        _provenance.Add("occurred", occurred, "dateTime");
        _provenance.Add("recorded", recorded);
    }

    public ProvenanceBuilder Activity(string system, string code)
    {
        var coding = _provenance.Add("activity").Add("coding");
        coding.Add("system", system);
        coding.Add("code", code);
        return this;
    }

    /// <summary>The reason as text; none when null.</summary>
    public ProvenanceBuilder Reason(string? text)
    {
        if (text is not null) _provenance.Add("reason").Add("text", text);
        return this;
    }

    /// <summary>An agent by reference (<paramref name="who"/>), else by name, optionally on behalf of an institution.</summary>
    public ProvenanceBuilder Agent(string type, string? who, string? display = null, string? onBehalfOf = null)
    {
        var agent = AddAgent(type);
        var node = agent.Add("who");
        if (who is not null) node.Add("reference", who);
        else node.Add("display", display);
        if (onBehalfOf is not null) agent.Add("onBehalfOf").Add("reference", onBehalfOf);
        return this;
    }

    /// <summary>Whoever acted for an institution: their Practitioner on behalf of it, else the institution itself, else the caller by name.</summary>
    public ProvenanceBuilder Actor(string type, Caller caller) =>
        Agent(type, caller.Practitioner ?? caller.Organization, caller.DisplayName ?? caller.Subject, caller.Practitioner is null ? null : caller.Organization);

    /// <summary>
    /// The person (or client) who acted: who = their Practitioner, else the signed-in user or client by identifier and
    /// name as the audit trail names them (never their institution in their place); onBehalfOf = the institution they act for.
    /// </summary>
    public ProvenanceBuilder Person(string type, Caller caller)
    {
        var agent = AddAgent(type);
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
        return this;
    }

    /// <summary>What it came from: <paramref name="what"/> a reference, in the given role (revision, source…).</summary>
    public ProvenanceBuilder Entity(string role, string what)
    {
        var entity = _provenance.Add("entity");
        entity.Add("role", role);
        entity.Add("what").Add("reference", what);
        return this;
    }

    public ElementNode Build() => _provenance;

    /// <summary>Type/id/_history/version.</summary>
    public static string VersionOf(StoredResource r) => $"{r.ResourceType}/{r.Id}/_history/{r.Version}";

    private ElementNode AddAgent(string type)
    {
        var agent = _provenance.Add("agent");
        var coding = agent.Add("type").Add("coding");
        coding.Add("system", ParticipantType);
        coding.Add("code", type);
        return agent;
    }
}

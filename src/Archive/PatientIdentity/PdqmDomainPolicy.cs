using FhirArchive.Fhir.Outcomes;
using FhirArchive.Fhir.Serialization.Json;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;

namespace FhirArchive.Archive.PatientIdentity;

/// <summary>
/// IHE PDQm ITI-78 (2:3.78.4.1.2.3 and 3.78.4.1.3): a Patient search that names identifier domains — an identifier
/// value that is a system alone, "urn:oid:1.2.3|", OR-ed with commas — asks for the Patients' identifiers of those
/// domains only. Case 2: every domain is one the server recognises (<see cref="IdentifierDomains"/>): the matches are
/// shown with the other domains' identifiers left out. Case 4: a domain it does not recognise: the preferred answer,
/// 404 with the issue "targetSystem not found" (severity warning, code not-found), before anything is searched.
/// </summary>
/// <remarks>
/// An access policy because the answer is the engine's search: it never hides nor refuses what the consent rules
/// decide (it runs first, registered with the module, and only takes identifiers away); an identifier=system|value
/// (a patient's identifier, not a domain) asks for nothing of this.
/// </remarks>
public sealed class PdqmDomainPolicy(IdentifierDomains domains) : IAccessPolicy
{
    private const string Requested = "pdqm-domains";

    public async ValueTask OnStartAsync(AccessContext context)
    {
        if (context is not { Interaction: "search-type", ResourceType: "Patient", SearchParameters: { } parameters }) return;
        var systems = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, value) in parameters)
        {
            if (name != "identifier") continue;
            var items = value.Split(',');
            if (!items.All(i => i.EndsWith('|') && i.Length > 1 && i.IndexOf('|') == i.Length - 1)) continue;
            systems.UnionWith(items.Select(i => i[..^1]));
        }
        if (systems.Count == 0) return;
        var requested = new List<IdentifierDomain>();
        foreach (var system in systems)
            requested.Add(await domains.FindAsync(system, context.Http.RequestAborted)
                ?? throw new FhirException(404, [new FhirIssue(IssueSeverity.Warning, "not-found",
                    $"{PixQueryEndpoint.TargetNotFound}: the identifier domain '{system}' is not one this server recognises / 不识别的标识域", "identifier")]));
        context.Items[Requested] = requested;
    }

    public ValueTask<StoredResource?> ShowAsync(AccessContext context, StoredResource resource)
    {
        if (resource is not { ResourceType: "Patient", Json: { } json } || !context.Items.TryGetValue(Requested, out var value) || value is not List<IdentifierDomain> requested)
            return ValueTask.FromResult<StoredResource?>(resource);
        var node = FhirFormats.ParseStored(json);
        // A domain's identifiers under any of its system URIs (an OID and its URL alias).
        var others = node.ChildrenNamed("identifier").Where(i => i.Child("system")?.Value is not { } s || !requested.Any(d => d.Names(s))).ToList();
        if (others.Count == 0) return ValueTask.FromResult<StoredResource?>(resource);
        foreach (var identifier in others) node.Remove(identifier);
        return ValueTask.FromResult<StoredResource?>(resource with { Json = FhirJsonSerializer.SerializeToUtf8Bytes(node) });
    }

    public ValueTask OnEndAsync(AccessContext context) => ValueTask.CompletedTask;

    public bool MayHide(Caller caller, string? type) => false;
}

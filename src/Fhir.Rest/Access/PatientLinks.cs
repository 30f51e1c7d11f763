using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Search;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;
using FhirArchive.Storage.Indexing;

namespace FhirArchive.Rest.Access;

/// <summary>
/// What a resource says about whose record it belongs to, read from the official definitions: the Patient
/// compartment's parameters (evaluated with their SearchParameter expressions), granular scope queries, and the
/// linked residents' administrative division (Address extension cn-division-code, GB/T 2260).
/// </summary>
public sealed class PatientLinks(SearchParameterRegistry registry, ISearchExpressionEvaluator evaluator, IResourceStore store)
{
    public const string DivisionExtension = "http://fhirarchive.cn/fhir/StructureDefinition/cn-division-code";
    private const string DivisionPath = $"address.extension.where(url='{DivisionExtension}').value.code";

    /// <summary>
    /// The ids of the Patients the resource belongs to: its Patient compartment links, and the Patients it points at
    /// through the elements <see cref="RecordData"/> names; null when its type is no one's record data at all.
    /// </summary>
    public List<string>? PatientIds(ElementNode resource)
    {
        var type = resource.Type!;
        if (type == "Patient") return resource.ResourceId is { } self ? [self] : [];
        if (!RecordData.Is(type)) return null;
        var ids = new List<string>();
        foreach (var p in Compartments.Params("Patient", type) ?? [])
        {
            if (registry.Get(type, p)?.Expression is not { } expr) continue;
            foreach (var n in evaluator.Select(resource, expr))
            {
                var reference = n.Type == "Reference" ? n.Child("reference")?.Value : n.Value;
                if (reference is not null && ReferenceParts.TryParse(reference, out var t, out var id) && t == "Patient") ids.Add(id);
            }
        }
        foreach (var (t, id, _) in PointedAt(resource))
            if (t == "Patient" && !ids.Contains(id)) ids.Add(id);
        return ids;
    }

    /// <summary>
    /// The record data (other than Patients) the resource points at through the elements <see cref="RecordData"/>
    /// names (Provenance.target, Task.focus, List.entry…): it may be shown only where each of these may.
    /// </summary>
    public static IEnumerable<(string Type, string Id, string? Version)> Pointers(ElementNode resource) =>
        PointedAt(resource).Where(r => r.Type != "Patient" && RecordData.Is(r.Type));

    /// <summary>The record data (other than Patients) the resource cites in the elements <see cref="RecordData.CitingElements"/> names.</summary>
    public static IEnumerable<(string Type, string Id, string? Version)> Citations(ElementNode resource) =>
        RecordData.CitingElements(resource.Type!).SelectMany(e => ReferencesUnder(resource, e))
            .Select(r => r.Target).Where(r => r.Type != "Patient" && RecordData.Is(r.Type));

    /// <summary>
    /// Cuts out each top-level element (a reasonReference, a diagnosis) that cites one of <paramref name="hidden"/>;
    /// whether anything was cut.
    /// </summary>
    public static bool CutCitations(ElementNode resource, IReadOnlySet<(string Type, string Id, string? Version)> hidden)
    {
        var cut = false;
        foreach (var element in RecordData.CitingElements(resource.Type!))
            foreach (var (top, target) in ReferencesUnder(resource, element).ToList())
                if (hidden.Contains(target)) cut |= resource.Remove(top);
        return cut;
    }

    private static IEnumerable<(string Type, string Id, string? Version)> PointedAt(ElementNode resource) =>
        RecordData.PointingElements(resource.Type!).SelectMany(e => ReferencesUnder(resource, e)).Select(r => r.Target);

    /// <summary>Each literal reference under the top-level elements of that name, with the element holding it.</summary>
    private static IEnumerable<(ElementNode Top, (string Type, string Id, string? Version) Target)> ReferencesUnder(ElementNode resource, string element)
    {
        foreach (var top in resource.ChildrenNamed(element))
            foreach (var n in top.Descendants().Prepend(top))
                if (n.Type == "Reference" && n.Child("reference")?.Value is { } reference
                    && ReferenceParts.TryParse(reference, out var t, out var id, out var version))
                    yield return (top, (t, id, version));
    }

    /// <summary>In the compartment of Patient/<paramref name="patientId"/>; types outside the compartment (Organization, Practitioner, terminology) are not patient data.</summary>
    public bool InCompartment(ElementNode resource, string? patientId)
    {
        var ids = PatientIds(resource);
        return ids is null || (patientId is not null && ids.Contains(patientId));
    }

    /// <summary>A granular scope's query ("category=laboratory", "code=http://loinc.org|8480-6"), each parameter matched as a token.</summary>
    public bool Matches(ElementNode resource, string query)
    {
        foreach (var (name, values) in Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(query))
        {
            if (registry.Get(resource.Type!, name)?.Expression is not { } expr) return false;
            var tokens = evaluator.Select(resource, expr).SelectMany(Tokens).ToList();
            var wanted = values.SelectMany(v => (v ?? "").Split(',')).ToList();
            if (!wanted.Any(w => tokens.Any(t => TokenMatches(t, w)))) return false;
        }
        return true;
    }

    private static IEnumerable<(string? System, string? Code)> Tokens(ElementNode n) => n.Type switch
    {
        "CodeableConcept" => n.ChildrenNamed("coding").Select(c => (c.Child("system")?.Value, c.Child("code")?.Value)),
        "Coding" => [(n.Child("system")?.Value, n.Child("code")?.Value)],
        "Identifier" => [(n.Child("system")?.Value, n.Child("value")?.Value)],
        _ => n.Value is null ? [] : [((string?)null, n.Value)],
    };

    private static bool TokenMatches((string? System, string? Code) t, string wanted)
    {
        var bar = wanted.IndexOf('|');
        if (bar < 0) return t.Code == wanted;
        var system = wanted[..bar];
        return t.Code == wanted[(bar + 1)..] && (system.Length == 0 ? t.System is null : t.System == system);
    }

    /// <summary>
    /// Whether the resource's residents live in the division (a code prefix: 110105 county, 110100 city, 110000
    /// province). Resources that are no resident's data pass; a resident without a division code is outside every one.
    /// </summary>
    public async ValueTask<bool> InDivisionAsync(ElementNode resource, string division, IDictionary<string, object?> cache, CancellationToken ct)
    {
        var ids = PatientIds(resource);
        if (ids is null) return true;
        var prefix = DivisionPrefix(division);
        foreach (var id in ids.Distinct())
        {
            var key = "division:" + id;
            if (!cache.TryGetValue(key, out var codes))
            {
                var patient = resource.Type == "Patient" && resource.ResourceId == id ? resource
                    : await store.ReadAsync("Patient", id, ct) is { Json: { } json } ? FhirFormats.ParseStored(json) : null;
                cache[key] = codes = patient is null ? new List<string>() : evaluator.Select(patient, DivisionPath).Select(n => n.Value).OfType<string>().ToList();
            }
            if (((List<string>)codes!).Any(c => c.StartsWith(prefix, StringComparison.Ordinal))) return true;
        }
        return false;
    }

    /// <summary>GB/T 2260 codes are six digits with trailing "00" pairs for the province and city levels.</summary>
    public static string DivisionPrefix(string code)
    {
        var p = code;
        while (p.Length > 2 && p.EndsWith("00", StringComparison.Ordinal)) p = p[..^2];
        return p;
    }
}

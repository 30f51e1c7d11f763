using System.Collections.Concurrent;
using System.Text.Json;
using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Search;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Storage;
using FhirArchive.Storage.Indexing;
using Microsoft.Extensions.Caching.Memory;

namespace FhirArchive.Rest.Access;

/// <summary>
/// What a resource says about whose record it belongs to, read from the official definitions: the Patient
/// compartment's parameters (evaluated with their SearchParameter expressions), granular scope queries, and the
/// linked residents' administrative division (Address extension cn-division-code, GB/T 2260).
/// "Which patients is this resource about" is answered here only: exactly from the element model for access
/// decisions (<see cref="PatientIds"/>), and cheaply from the stored JSON for the audit (<see cref="PatientsOf(StoredResource)"/>).
/// </summary>
public sealed class PatientLinks(SearchParameterRegistry registry, ISearchExpressionEvaluator evaluator, IResourceStore store)
{
    public const string DivisionExtension = "http://fhirarchive.cn/fhir/StructureDefinition/cn-division-code";
    private const string DivisionPath = $"address.extension.where(url='{DivisionExtension}').value.code";
    private const int MaxPatients = 50;
    private readonly ConcurrentDictionary<string, HashSet<string>> _elements = new();
    private readonly MemoryCache _patientsByRow = new(new MemoryCacheOptions { SizeLimit = 200_000 });

    /// <summary>
    /// The patient id given for a Patient a resource names or carries that is not on this server (another server's
    /// Patient, a stored Bundle's urn:uuid reference no entry holds, a carried Patient with no id of ours): no record of
    /// ours is it, so it cannot be decided as one — the consent rules show such a resource only to callers who see
    /// every record (fail closed). Not a FHIR id, so no stored Patient has it.
    /// </summary>
    public const string ForeignPatient = "(not-on-this-server)";

    /// <summary>
    /// The ids of the Patients the resource belongs to: its Patient compartment links, and the Patients it points at
    /// through the elements <see cref="RecordData"/> names; null when its type is no one's record data at all.
    /// A reference counts as ours when it is relative or under <paramref name="baseUrl"/> (the server's FHIR base,
    /// <see cref="FhirHeaders.BaseUrl"/>; null: relative ones only); another server's Patient is <see cref="ForeignPatient"/>.
    /// </summary>
    public List<string>? PatientIds(ElementNode resource, string? baseUrl) =>
        PatientIds(resource, baseUrl, (reference, node) => PatientOf(reference, baseUrl) ?? Unresolved(reference, node));

    private List<string>? PatientIds(ElementNode resource, string? baseUrl, Func<string, ElementNode, string?> patientOf)
    {
        var type = resource.Type!;
        if (type == "Patient") return resource.ResourceId is { } self ? [self] : [];
        if (type == "Bundle") return CarriedPatientIds(resource, baseUrl);
        if (!RecordData.Is(type)) return null;
        var ids = new List<string>();
        foreach (var p in Compartments.Params("Patient", type) ?? [])
        {
            if (registry.Get(type, p)?.Expression is not { } expr) continue;
            foreach (var n in evaluator.Select(resource, expr))
                if ((n.Type == "Reference" ? n.Child("reference")?.Value : n.Value) is { } reference && patientOf(reference, n) is { } id && !ids.Contains(id))
                    ids.Add(id);
        }
        foreach (var element in RecordData.PointingElements(type))
            foreach (var node in LiteralReferenceNodes(resource.ChildrenNamed(element)))
                if (patientOf(node.Reference, node.Node) is { } id && !ids.Contains(id)) ids.Add(id);
        // A Binary is record data only through its securityContext: one naming a Patient belongs to that record; one
        // naming a document is decided as that document (ReadGuard's pointer check), in whatever compartment it is.
        if (type == "Binary" && ids.Count == 0) return null;
        return ids;
    }

    /// <summary>
    /// The Patient a reference names: ours (<see cref="ReferenceParts.Local"/>) by its id, another server's as
    /// <see cref="ForeignPatient"/>; null when it names no Patient (or nothing a server could resolve: contained, logical).
    /// </summary>
    private static string? PatientOf(string reference, string? baseUrl)
    {
        if (ReferenceParts.Local(reference, baseUrl ?? "") is { } local) return local.Type == "Patient" ? local.Id : null;
        return !reference.StartsWith('#') && !reference.StartsWith("urn:", StringComparison.Ordinal)
            && ReferenceParts.TryParse(reference, out var type, out _) && type == "Patient" ? ForeignPatient : null;
    }

    /// <summary>
    /// A logical reference (urn:uuid:…, urn:oid:…) left in a stored resource outside a Bundle names nothing any server
    /// resolves: it may be a Patient no one can decide, so unless its Reference.type says it is not a Patient it counts
    /// as <see cref="ForeignPatient"/> (fail closed) instead of making the resource no one's record.
    /// </summary>
    private static string? Unresolved(string reference, ElementNode node) =>
        reference.StartsWith("urn:", StringComparison.Ordinal) && node.Type == "Reference" && node.Child("type")?.Value is null or "Patient"
            ? ForeignPatient : null;

    /// <summary>Each literal reference value in the elements and their descendants.</summary>
    private static IEnumerable<string> LiteralReferences(IEnumerable<ElementNode> elements) =>
        LiteralReferenceNodes(elements).Select(r => r.Reference);

    private static IEnumerable<(ElementNode Node, string Reference)> LiteralReferenceNodes(IEnumerable<ElementNode> elements) =>
        elements.SelectMany(e => e.Descendants().Prepend(e))
            .Where(n => n.Type == "Reference" && n.Child("reference")?.Value is not null).Select(n => (n, n.Child("reference")!.Value!));

    /// <summary>
    /// A stored Bundle (a document, a collection) carries records itself: it belongs to each Patient among its entries
    /// and to each entry's own Patients (what <see cref="PatientIds"/> says of it), with every reference of an entry
    /// resolved as the Bundle rules say: to another entry by its fullUrl (urn:uuid:…, or absolute), a relative one
    /// against the entry's own absolute fullUrl (so it names that server's resource). A carried Patient or a reference
    /// that is not on this server — another base, a urn:uuid no entry holds, a Patient entry with no id of ours — makes
    /// it <see cref="ForeignPatient"/>'s too. So a Bundle is shown only to a caller who may see every record it carries.
    /// </summary>
    private List<string> CarriedPatientIds(ElementNode bundle, string? baseUrl)
    {
        var ids = new List<string>();
        void Add(string id)
        {
            if (id.Length > 0 && !ids.Contains(id)) ids.Add(id);
        }
        var entries = bundle.ChildrenNamed("entry").Select(e => (FullUrl: e.Child("fullUrl")?.Value, Resource: e.Child("resource")))
            .Where(e => e.Resource?.Type is not null).ToList();
        var fullUrls = entries.Select(e => e.FullUrl).OfType<string>().ToHashSet(StringComparer.Ordinal);
        var patients = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (fullUrl, resource) in entries.Where(e => e.Resource!.Type == "Patient"))
        {
            var id = fullUrl is not null && Absolute(fullUrl)
                ? PatientOf(fullUrl, baseUrl) ?? ForeignPatient
                : resource!.ResourceId ?? ForeignPatient;
            Add(id);
            if (fullUrl is not null) patients[fullUrl] = id;
        }
        foreach (var (fullUrl, resource) in entries.Where(e => e.Resource!.Type != "Patient"))
        {
            var entryBase = fullUrl is not null && Absolute(fullUrl) ? ServerBase(fullUrl) : null;
            string? PatientOfEntry(string reference)
            {
                if (patients.TryGetValue(reference, out var carried)) return carried;
                if (reference.StartsWith("urn:", StringComparison.Ordinal)) return fullUrls.Contains(reference) ? null : ForeignPatient;
                if (entryBase is not null && !Absolute(reference) && !reference.StartsWith('#'))
                {
                    var resolved = entryBase + "/" + reference;
                    return patients.TryGetValue(resolved, out var named) ? named : PatientOf(resolved, baseUrl);
                }
                return PatientOf(reference, baseUrl);
            }
            foreach (var id in PatientIds(resource!, baseUrl, (reference, _) => PatientOfEntry(reference)) ?? []) Add(id);
            foreach (var reference in LiteralReferences([resource!]))
                if (PatientOfEntry(reference) is { } id) Add(id);
        }
        return ids;
    }

    private static bool Absolute(string url) => url.Contains("://", StringComparison.Ordinal);

    /// <summary>The base of an absolute resource URL ("https://x/fhir/Observation/1[/_history/2]" → "https://x/fhir"); null when it names none.</summary>
    private static string? ServerBase(string url)
    {
        var parts = url.Split('/');
        var cut = parts.Length > 4 && parts[^2] == "_history" ? 4 : 2;
        return parts.Length > cut + 2 ? string.Join('/', parts[..^cut]) : null;
    }

    /// <summary>
    /// The Patients ("Patient/1") a stored version is about, read straight from its JSON bytes: every Patient
    /// reference under the top-level elements the compartment's parameters and <see cref="RecordData"/> name (at most
    /// <see cref="MaxPatients"/>). Cheap enough for every audited read, with no parse into the element model; a stored
    /// version never changes, so its answer is kept by row id.
    /// </summary>
    public IReadOnlyCollection<string> PatientsOf(StoredResource r)
    {
        if (r.RowId <= 0) return PatientsOf(r.ResourceType, r.Id, r.Json);
        if (_patientsByRow.TryGetValue(r.RowId, out (string Id, IReadOnlyCollection<string> Patients) hit) && hit.Id == r.Id) return hit.Patients;
        var patients = PatientsOf(r.ResourceType, r.Id, r.Json);
        _patientsByRow.Set(r.RowId, (r.Id, patients), new MemoryCacheEntryOptions { Size = 1 });
        return patients;
    }

    private IReadOnlyCollection<string> PatientsOf(string type, string id, byte[]? json)
    {
        if (type == "Patient") return [$"Patient/{id}"];
        if (json is null) return [];
        var names = _elements.GetOrAdd(type, LinkingElements);
        if (names.Count == 0) return [];
        var found = new HashSet<string>();
        var r = new Utf8JsonReader(json);
        if (!r.Read() || r.TokenType != JsonTokenType.StartObject) return found;
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            var name = r.GetString()!;
            r.Read();
            if (names.Contains(name)) CollectPatients(ref r, found);
            else r.Skip();
        }
        return found;
    }

    /// <summary>Reads the current value (object, array or primitive) and notes each "reference" to a Patient.</summary>
    private static void CollectPatients(ref Utf8JsonReader r, HashSet<string> found)
    {
        if (r.TokenType is not (JsonTokenType.StartObject or JsonTokenType.StartArray)) return;
        var depth = r.CurrentDepth;
        while (r.Read() && r.CurrentDepth > depth)
        {
            if (r.TokenType != JsonTokenType.PropertyName || !r.ValueTextEquals("reference"u8)) continue;
            r.Read();
            if (r.TokenType == JsonTokenType.String && found.Count < MaxPatients && r.GetString() is { } reference
                && ReferenceParts.TryParse(reference, out var type, out var id) && type == "Patient" && id.Length > 0)
                found.Add("Patient/" + id);
        }
    }

    /// <summary>The top-level elements the Patient compartment's parameters name for the type, and those <see cref="RecordData"/> names as pointing at record data (Task.for…).</summary>
    private HashSet<string> LinkingElements(string type)
    {
        var names = new HashSet<string>(RecordData.PointingElements(type), StringComparer.Ordinal);
        foreach (var code in Compartments.Params("Patient", type) ?? [])
        {
            if (registry.Get(type, code)?.Expression is not { } expression) continue;
            foreach (var part in SearchParameterRegistry.SplitTopLevel(expression, '|'))
            {
                var p = part.Trim().TrimStart('(');
                if (!p.StartsWith(type + ".", StringComparison.Ordinal)) continue;
                var element = new string(p[(type.Length + 1)..].TakeWhile(char.IsAsciiLetterOrDigit).ToArray());
                if (element.Length > 0) names.Add(element);
            }
        }
        return names;
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
    public bool InCompartment(ElementNode resource, string? patientId, string? baseUrl)
    {
        var ids = PatientIds(resource, baseUrl);
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
    public async ValueTask<bool> InDivisionAsync(ElementNode resource, string division, string? baseUrl, IDictionary<string, object?> cache, CancellationToken ct)
    {
        var ids = PatientIds(resource, baseUrl);
        if (ids is null) return true;
        var prefix = DivisionPrefix(division);
        foreach (var id in ids.Distinct().Where(id => id != ForeignPatient))
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

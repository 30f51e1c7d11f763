using System.Collections.Concurrent;
using System.Text.Json;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Search;
using FhirArchive.Storage;
using FhirArchive.Storage.Indexing;

namespace FhirArchive.Audit;

/// <summary>
/// Which patients a stored resource is about, read straight from its JSON bytes: the top-level elements named by the
/// official Patient compartment's parameters for that type (e.g. Observation.subject, Encounter.subject) and by
/// <see cref="RecordData"/> (Task.for, Provenance.target…), and every "Patient/…" reference found under them. Cheap enough for every audited read; no parse into the element model.
/// </summary>
public sealed class PatientReferences(SearchParameterRegistry registry)
{
    private const int MaxPatients = 50;
    private const int MaxCached = 200_000;
    private readonly ConcurrentDictionary<string, HashSet<string>> _elements = new();
    private readonly ConcurrentDictionary<long, (string Id, IReadOnlyCollection<string> Patients)> _cache = new();

    /// <summary>A stored version never changes: its patients are kept by row id (bounded), so repeated reads skip the JSON.</summary>
    public IReadOnlyCollection<string> Of(StoredResource r)
    {
        if (r.RowId <= 0) return Of(r.ResourceType, r.Id, r.Json);
        if (_cache.TryGetValue(r.RowId, out var hit) && hit.Id == r.Id) return hit.Patients;
        var patients = Of(r.ResourceType, r.Id, r.Json);
        if (_cache.Count >= MaxCached) _cache.Clear();
        _cache[r.RowId] = (r.Id, patients);
        return patients;
    }

    public IReadOnlyCollection<string> Of(string type, string id, byte[]? json)
    {
        if (type == "Patient") return [$"Patient/{id}"];
        if (json is null) return [];
        var names = _elements.GetOrAdd(type, ElementsFor);
        if (names.Count == 0) return [];
        var found = new HashSet<string>();
        var r = new Utf8JsonReader(json);
        if (!r.Read() || r.TokenType != JsonTokenType.StartObject) return found;
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            var name = r.GetString()!;
            r.Read();
            if (names.Contains(name)) CollectReferences(ref r, found);
            else r.Skip();
        }
        return found;
    }

    /// <summary>Reads the current value (object, array or primitive) and notes each "reference": "Patient/x".</summary>
    private static void CollectReferences(ref Utf8JsonReader r, HashSet<string> found)
    {
        if (r.TokenType is not (JsonTokenType.StartObject or JsonTokenType.StartArray)) return;
        var depth = r.CurrentDepth;
        while (r.Read() && r.CurrentDepth > depth)
        {
            if (r.TokenType != JsonTokenType.PropertyName || !r.ValueTextEquals("reference"u8)) continue;
            r.Read();
            if (r.TokenType == JsonTokenType.String && found.Count < MaxPatients &&
                r.GetString() is { } reference && PatientPart(reference) is { } p)
                found.Add(p);
        }
    }

    /// <summary>"Patient/1", "https://host/fhir/Patient/1/_history/2" → "Patient/1".</summary>
    private static string? PatientPart(string reference)
    {
        int at;
        if (reference.StartsWith("Patient/", StringComparison.Ordinal)) at = 0;
        else
        {
            var i = reference.LastIndexOf("/Patient/", StringComparison.Ordinal);
            if (i < 0) return null;
            at = i + 1;
        }
        var rest = reference.AsSpan(at + "Patient/".Length);
        var slash = rest.IndexOf('/');
        var id = slash < 0 ? rest : rest[..slash];
        return id.IsEmpty ? null : "Patient/" + id.ToString();
    }

    /// <summary>The compartment's elements and those <see cref="RecordData"/> names as pointing at record data (Task.for…).</summary>
    private HashSet<string> ElementsFor(string type)
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
}

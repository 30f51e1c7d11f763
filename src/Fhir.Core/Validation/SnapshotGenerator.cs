using System.Text.Json.Nodes;
using FhirArchive.Fhir.Definitions;

namespace FhirArchive.Fhir.Validation;

/// <summary>
/// Builds a profile's snapshot from its differential and its base's snapshot: changed elements are merged
/// into the base ones, new slices copy the sliced element (with its children), and elements inside a data
/// type (Patient.identifier:idcard.system) unfold that type's own snapshot first. Works on the JSON of the
/// StructureDefinitions; a profile on another profile needs the base's snapshot from <paramref name="resolve"/>.
/// </summary>
public sealed class SnapshotGenerator(Func<string, JsonObject?>? resolve = null)
{
    private const string CoreBase = "http://hl7.org/fhir/StructureDefinition/";

    /// <summary>The profile with its snapshot; throws <see cref="SnapshotException"/> on a differential it cannot place.</summary>
    public JsonObject Generate(JsonObject profile)
    {
        var baseUrl = profile["baseDefinition"]?.GetValue<string>() ?? throw new SnapshotException("The profile has no baseDefinition");
        var baseSd = Resolve(baseUrl) ?? throw new SnapshotException($"The base {baseUrl} is not known");
        var snapshot = ((JsonArray)baseSd["snapshot"]!["element"]!).Select(e => (JsonObject)e!.DeepClone()).ToList();

        // Differentials without ids: an element under a slice belongs to the slice last opened at its path.
        var openSlices = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var node in (JsonArray?)profile["differential"]?["element"] ?? [])
        {
            var diff = (JsonObject)node!;
            var id = ChoiceAsSlice(snapshot, UsableId(diff) ?? IdOf(diff, openSlices), diff["type"] is JsonArray { Count: 1 });
            var target = Find(snapshot, id) ?? Place(snapshot, id) ?? throw new SnapshotException($"Cannot place differential element {id}");
            Merge(target, diff);
        }

        var result = (JsonObject)profile.DeepClone();
        result["snapshot"] = new JsonObject { ["element"] = new JsonArray(snapshot.Select(e => (JsonNode)e).ToArray()) };
        return result;
    }

    private JsonObject? Resolve(string url)
    {
        url = url.Split('|')[0];
        if (resolve?.Invoke(url) is { } found) return found;
        return url.StartsWith(CoreBase, StringComparison.Ordinal) ? CoreDefinition(url[CoreBase.Length..]) : null;
    }

    private static readonly Lazy<Dictionary<string, string>> CoreSources = new(() =>
        new[] { "Bundle-types.json", "Bundle-resources.json" }
            .SelectMany(FhirDefinitions.DefinitionResources)
            .Where(r => r.GetProperty("resourceType").GetString() == "StructureDefinition")
            .ToDictionary(r => r.GetProperty("id").GetString()!, r => r.GetRawText(), StringComparer.Ordinal));

    /// <summary>A core type's StructureDefinition (a fresh copy: callers change it).</summary>
    private static JsonObject? CoreDefinition(string typeName) =>
        CoreSources.Value.TryGetValue(typeName, out var json) ? (JsonObject)JsonNode.Parse(json)! : null;

    /// <summary>
    /// The differential's id when it agrees with its path (the id without its ":slice" parts is the path); an id
    /// that names another element is a mistake of the author, and the path is what counts (as for the R4 tools).
    /// </summary>
    private static string? UsableId(JsonObject diff)
    {
        if (diff["id"]?.GetValue<string>() is not { } id) return null;
        if (diff["path"]?.GetValue<string>() is not { } path) return id;
        var withoutSlices = string.Join('.', id.Split('.').Select(s => s.IndexOf(':') is var c and >= 0 ? s[..c] : s));
        return withoutSlices == path ? id : null;
    }

    private static string IdOf(JsonObject diff, Dictionary<string, string> openSlices)
    {
        var path = diff["path"]?.GetValue<string>() ?? throw new SnapshotException("A differential element has neither id nor path");
        // The id of the parent: the path with each sliced ancestor replaced by its open slice ("Bundle.entry:Patient").
        var id = path;
        var dot = path.LastIndexOf('.');
        if (dot > 0)
        {
            var parent = path[..dot];
            var parentId = parent;
            for (var p = parent; p.Length > 0; p = p.LastIndexOf('.') is var i and > 0 ? p[..i] : "")
                if (openSlices.TryGetValue(p, out var sliceId))
                {
                    parentId = sliceId + parent[p.Length..];
                    break;
                }
            id = parentId + path[dot..];
        }
        if (diff["sliceName"]?.GetValue<string>() is { } slice)
        {
            id = $"{id}:{slice}";
            openSlices[path] = id;
            // Slices opened deeper down under an earlier slice of this path are closed now.
            foreach (var key in openSlices.Keys.Where(k => k.StartsWith(path + ".", StringComparison.Ordinal)).ToList()) openSlices.Remove(key);
        }
        else if (diff["slicing"] is not null || openSlices.ContainsKey(path))
            openSlices.Remove(path); // the base element itself again: later children are its own
        return id;
    }

    private static JsonObject? Find(List<JsonObject> snapshot, string id) =>
        snapshot.FirstOrDefault(e => e["id"]?.GetValue<string>() == id);

    private static int IndexOf(List<JsonObject> snapshot, string id) =>
        snapshot.FindIndex(e => e["id"]?.GetValue<string>() == id);

    /// <summary>Creates the element a differential names when the base has none: a new slice, or a data type's child.</summary>
    private JsonObject? Place(List<JsonObject> snapshot, string id)
    {
        var lastDot = id.LastIndexOf('.');
        if (lastDot < 0) return null;
        var colon = id.IndexOf(':', lastDot);
        if (colon >= 0) return AddSlice(snapshot, id, id[..colon], id[(colon + 1)..]);

        var parentId = id[..lastDot];
        var parentIndex = IndexOf(snapshot, parentId);
        if (parentIndex < 0 && Place(snapshot, parentId) is not null) parentIndex = IndexOf(snapshot, parentId);
        if (parentIndex < 0) return null;
        if (SubtreeEnd(snapshot, parentIndex) == parentIndex + 1) UnfoldType(snapshot, parentIndex);
        return Find(snapshot, id);
    }

    /// <summary>A slice starts as a copy of the sliced element and its children, placed after the last of its kin.</summary>
    private JsonObject? AddSlice(List<JsonObject> snapshot, string id, string slicedId, string sliceName)
    {
        if (IndexOf(snapshot, slicedId) < 0 && Place(snapshot, slicedId) is null) return null;
        // Placing the sliced element may have unfolded a profiled type that has this slice already.
        return Find(snapshot, id) ?? AddSliceOf(snapshot, id, slicedId, sliceName);
    }

    private static JsonObject AddSliceOf(List<JsonObject> snapshot, string id, string slicedId, string sliceName)
    {
        var b = IndexOf(snapshot, slicedId);

        var end = SubtreeEnd(snapshot, b);
        var copies = new List<JsonObject>();
        for (var i = b; i < end; i++)
        {
            var oldId = snapshot[i]["id"]!.GetValue<string>();
            // the sliced element's own children, not those of its other slices
            if (i > b && !oldId.StartsWith(slicedId + ".", StringComparison.Ordinal)) continue;
            var copy = (JsonObject)snapshot[i].DeepClone();
            copy["id"] = id + oldId[slicedId.Length..];
            if (i == b)
            {
                copy.Remove("slicing");
                copy["sliceName"] = sliceName;
            }
            copies.Add(copy);
        }
        snapshot.InsertRange(end, copies);
        return copies[0];
    }

    /// <summary>
    /// "Observation.valueQuantity" names the Quantity form of "Observation.value[x]": the snapshot holds it as
    /// the type slice "Observation.value[x]:valueQuantity" (typed Quantity; the choice sliced by type, closed),
    /// or as "Observation.value[x]" itself when that allows Quantity alone.
    /// </summary>
    private static string ChoiceAsSlice(List<JsonObject> snapshot, string id, bool diffNamesOneType)
    {
        var segments = id.Split('.');
        var built = segments[0];
        for (var i = 1; i < segments.Length; i++)
        {
            var segment = segments[i];
            var candidate = $"{built}.{segment}";
            if (!segment.Contains(':') && !segment.EndsWith("[x]", StringComparison.Ordinal) && IndexOf(snapshot, candidate) < 0)
            {
                foreach (var e in snapshot)
                {
                    var eid = e["id"]!.GetValue<string>();
                    if (!eid.StartsWith(built + ".", StringComparison.Ordinal) || !eid.EndsWith("[x]", StringComparison.Ordinal)) continue;
                    var name = eid[(built.Length + 1)..^3];
                    if (name.Contains('.') || name.Contains(':') || segment.Length <= name.Length || !segment.StartsWith(name, StringComparison.Ordinal)) continue;
                    var typeName = segment[name.Length..];
                    var types = ((JsonArray?)e["type"])?.Where(t => string.Equals(t!["code"]!.GetValue<string>(), typeName, StringComparison.OrdinalIgnoreCase)).ToList();
                    if (types is not { Count: 1 }) continue;
                    candidate = $"{eid}:{segment}";
                    if (IndexOf(snapshot, candidate) >= 0) break;
                    // A choice already narrowed to this type, or narrowed by this very element (as the R4
                    // generator does inside slices), is the element itself; otherwise the type gets a slice.
                    if (e["type"] is JsonArray { Count: 1 } || (i == segments.Length - 1 && diffNamesOneType))
                    {
                        candidate = eid;
                    }
                    else
                    {
                        e["slicing"] ??= new JsonObject
                        {
                            ["discriminator"] = new JsonArray(new JsonObject { ["type"] = "type", ["path"] = "$this" }),
                            ["ordered"] = false,
                            ["rules"] = "closed",
                        };
                        var slice = AddSliceOf(snapshot, candidate, eid, segment);
                        slice["type"] = new JsonArray(types[0]!.DeepClone());
                    }
                    break;
                }
            }
            built = candidate;
        }
        return built;
    }

    /// <summary>One past the last element under (or slicing) the element at <paramref name="index"/>.</summary>
    private static int SubtreeEnd(List<JsonObject> snapshot, int index)
    {
        var id = snapshot[index]["id"]!.GetValue<string>();
        var i = index + 1;
        while (i < snapshot.Count && snapshot[i]["id"]!.GetValue<string>() is var other
               && (other.StartsWith(id + ".", StringComparison.Ordinal) || other.StartsWith(id + ":", StringComparison.Ordinal)))
            i++;
        return i;
    }

    private static string? TypeCode(JsonObject element) =>
        element["type"] is JsonArray { Count: 1 } types ? types[0]!["code"]?.GetValue<string>() : null;

    /// <summary>
    /// Inserts a data type's elements under an element of that type (Identifier → .use, .system, ...): those of the
    /// profile the element's type names (its slices and constraints come along), else the core type's. A choice
    /// of several types unfolds what they all have, Element's id and extension.
    /// </summary>
    private void UnfoldType(List<JsonObject> snapshot, int index)
    {
        var element = snapshot[index];
        var type = TypeCode(element) ?? (element["type"] is JsonArray { Count: > 1 } ? "Element" : null)
            ?? throw new SnapshotException($"{element["id"]}: cannot unfold an element without a type");
        var typeSd = TypeProfile(element, type) ?? Resolve(CoreBase + type) ?? throw new SnapshotException($"{element["id"]}: unknown type {type}");
        var id = element["id"]!.GetValue<string>();
        var path = element["path"]!.GetValue<string>();
        var children = ((JsonArray)typeSd["snapshot"]!["element"]!).Skip(1).Select(e =>
        {
            var copy = (JsonObject)e!.DeepClone();
            copy["id"] = id + copy["id"]!.GetValue<string>()[type.Length..];
            copy["path"] = path + copy["path"]!.GetValue<string>()[type.Length..];
            return copy;
        });
        snapshot.InsertRange(index + 1, children);
    }

    /// <summary>The one profile the element's type names, when its snapshot is known and constrains that type.</summary>
    private JsonObject? TypeProfile(JsonObject element, string type)
    {
        if (element["type"] is not JsonArray { Count: 1 } types || types[0]?["profile"] is not JsonArray { Count: 1 } profiles) return null;
        if (profiles[0]?.GetValue<string>() is not { } url || Resolve(url) is not { } sd) return null;
        return sd["type"]?.GetValue<string>() == type && sd["snapshot"]?["element"] is JsonArray { Count: > 0 } ? sd : null;
    }

    private static void Merge(JsonObject target, JsonObject diff)
    {
        foreach (var (key, value) in diff)
        {
            if (key is "id" or "path" || value is null) continue;
            if (key == "constraint" && target["constraint"] is JsonArray existing)
            {
                foreach (var c in (JsonArray)value) existing.Add(c!.DeepClone());
                continue;
            }
            // A value fixed by the profile replaces any fixed/pattern the base had.
            if (key.StartsWith("fixed", StringComparison.Ordinal) || key.StartsWith("pattern", StringComparison.Ordinal))
                foreach (var old in target.Select(p => p.Key).Where(k => k.StartsWith("fixed", StringComparison.Ordinal) || k.StartsWith("pattern", StringComparison.Ordinal)).ToList())
                    target.Remove(old);
            target[key] = value.DeepClone();
        }
    }
}

public sealed class SnapshotException(string message) : Exception(message);

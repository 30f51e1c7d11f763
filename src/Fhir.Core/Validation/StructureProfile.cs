using FhirArchive.Fhir.Definitions;
using FhirArchive.Fhir.Model;

namespace FhirArchive.Fhir.Validation;

/// <summary>A slicing discriminator: how instances are told apart among the slices.</summary>
public sealed record Discriminator(string Type, string Path);

/// <summary>
/// One element of a profile's snapshot, arranged as a tree: <see cref="Children"/> are the elements under it,
/// <see cref="Slices"/> the named slices of it (each with its own children).
/// </summary>
public sealed class ProfileElement
{
    public required string Id { get; init; }
    public required string Path { get; init; }

    /// <summary>The element name without "[x]" (what instance nodes are named).</summary>
    public required string Name { get; init; }

    public string? SliceName { get; init; }
    public int Min { get; init; }

    /// <summary>-1 for "*".</summary>
    public int Max { get; init; }

    public ElementNode? Fixed { get; init; }
    public ElementNode? Pattern { get; init; }
    public IReadOnlyList<string> TypeCodes { get; init; } = [];

    /// <summary>Profiles the element's type must meet (type.profile: an extension's definition, a constrained type).</summary>
    public IReadOnlyList<string> TypeProfiles { get; init; } = [];
    /// <summary>Profiles a reference's target must meet (type.targetProfile).</summary>
    public IReadOnlyList<string> TargetProfiles { get; init; } = [];

    /// <summary>The binding the profile sets (strength, value set), if any.</summary>
    public (string Strength, string ValueSet)? Binding { get; init; }

    /// <summary>The invariants on the element (the base's as the snapshot repeats them, and the profile's own).</summary>
    public IReadOnlyList<Constraint> Constraints { get; init; } = [];

    private sealed record OwnConstraintCache(ElementDef? Definition, TypeDefinition? Type, IReadOnlyList<Constraint> Own);

    private OwnConstraintCache? _own; // one reference, replaced whole: safe to share between threads

    /// <summary>
    /// The constraints the base definition of the node does not have (by key, on the element or on its type): the
    /// profile's own. Cached for the last definition seen, as a profile element meets nodes of one definition.
    /// </summary>
    internal IReadOnlyList<Constraint> OwnConstraints(ElementNode node)
    {
        if (_own is { } c && ReferenceEquals(c.Definition, node.Definition) && ReferenceEquals(c.Type, node.TypeDef)) return c.Own;
        var own = Constraints.Where(k => !HasKey(node.Definition?.Constraints, k.Key) && !HasKey(node.TypeDef?.Root?.Constraints, k.Key)).ToList();
        _own = new OwnConstraintCache(node.Definition, node.TypeDef, own);
        return own;
    }

    private static bool HasKey(IReadOnlyList<Constraint>? list, string key)
    {
        if (list is null) return false;
        foreach (var c in list)
            if (c.Key == key) return true;
        return false;
    }

    /// <summary>minValue[x] / maxValue[x]: the bounds a value must lie within (same type as the element, or Quantity).</summary>
    public ElementNode? MinValue { get; init; }
    public ElementNode? MaxValue { get; init; }

    /// <summary>maxLength, and the minLength extension: bounds on a string value's length.</summary>
    public int? MaxLength { get; init; }
    public int? MinLength { get; init; }

    /// <summary>
    /// The element named by an elementdefinition-profile-element extension on type.profile ("profile#element id"):
    /// the element's rules come from that element of another profile (a section library, for instance).
    /// </summary>
    public (string Profile, string ElementId)? ProfileElementRef { get; init; }

    /// <summary>mustHaveValue (R5, carried in R4 by its cross-version extension): a primitive must have a value, not only extensions.</summary>
    public bool MustHaveValue { get; init; }

    /// <summary>valueAlternatives: extensions that may stand in for a missing primitive value (then one of them must be present).</summary>
    public IReadOnlyList<string> ValueAlternatives { get; init; } = [];

    /// <summary>narrative-language-control on a Narrative element: "_yes", "_no", "_resource" or language codes the narrative must have sections for.</summary>
    public IReadOnlyList<string> NarrativeLanguages { get; init; } = [];

    public IReadOnlyList<Discriminator> Discriminators { get; init; } = [];
    public bool ClosedSlicing { get; init; }

    public List<ProfileElement> Children { get; } = [];
    public List<ProfileElement> Slices { get; } = [];

    /// <summary>
    /// The element below this one at a discriminator path ("coding.code", "extension('url').value"), through
    /// children; extension('url') is the extension slice whose type names that definition.
    /// </summary>
    public ProfileElement? Descend(string path)
    {
        var e = this;
        foreach (var segment in PathSegments(path))
        {
            if (segment is "$this" or "resolve()" || segment.StartsWith("ofType(", StringComparison.Ordinal)) continue;
            if (segment.StartsWith("extension('", StringComparison.Ordinal) && segment.EndsWith("')", StringComparison.Ordinal))
            {
                var url = segment[11..^2];
                e = e.Children.FirstOrDefault(c => c.Name == "extension")?.Slices.FirstOrDefault(sl => sl.TypeProfiles.Any(p => p.Split('|')[0] == url));
            }
            else
            {
                var name = segment.EndsWith("[x]", StringComparison.Ordinal) ? segment[..^3] : segment;
                e = e.Children.FirstOrDefault(c => c.Name == name);
            }
            if (e is null) return null;
        }
        return e;
    }

    /// <summary>A path's steps; dots inside quotes (extension('http://...')) do not split.</summary>
    internal static IEnumerable<string> PathSegments(string path)
    {
        var start = 0;
        var inQuote = false;
        for (var i = 0; i < path.Length; i++)
        {
            if (path[i] == '\'') inQuote = !inQuote;
            else if (path[i] == '.' && !inQuote)
            {
                yield return path[start..i];
                start = i + 1;
            }
        }
        yield return path[start..];
    }

    public override string ToString() => Id;
}

/// <summary>
/// A profile (constraining StructureDefinition) read from its snapshot: what <see cref="ProfileValidator"/>
/// checks an instance against. Snapshots come with the official profiles; local profiles are generated.
/// </summary>
public sealed class StructureProfile
{
    private readonly Dictionary<string, ProfileElement> _byId;

    private StructureProfile(string url, string type, ProfileElement root, Dictionary<string, ProfileElement> byId)
    {
        Url = url;
        Type = type;
        Root = root;
        _byId = byId;
    }

    /// <summary>The snapshot element with this id ("Composition.section:codeA"), or null.</summary>
    public ProfileElement? Element(string id) => _byId.GetValueOrDefault(id);

    /// <summary>Where an extension definition may be used (context type "element" or "extension", and its expression).</summary>
    public IReadOnlyList<(string Type, string Expression)> Contexts { get; private init; } = [];

    /// <summary>FHIRPath conditions on the element an extension is used on (contextInvariant).</summary>
    public IReadOnlyList<string> ContextInvariants { get; private init; } = [];

    /// <summary>An extension definition whose extension changes the meaning of what holds it (a modifierExtension).</summary>
    public bool IsModifier { get; private init; }

    public string Url { get; }

    /// <summary>The resource or data type constrained ("Observation").</summary>
    public string Type { get; }

    public ProfileElement Root { get; }

    /// <summary>Reads a StructureDefinition (as parsed by the FHIR parsers) that has a snapshot.</summary>
    public static StructureProfile Load(ElementNode structureDefinition)
    {
        var url = structureDefinition.Child("url")?.Value ?? throw new ArgumentException("The StructureDefinition has no url");
        var type = structureDefinition.Child("type")?.Value ?? throw new ArgumentException($"{url}: no type");
        var snapshot = structureDefinition.Child("snapshot") ?? throw new ArgumentException($"{url}: no snapshot");
        var byId = new Dictionary<string, ProfileElement>(StringComparer.Ordinal);
        ProfileElement? root = null;
        foreach (var node in snapshot.ChildrenNamed("element"))
        {
            var e = Read(node);
            byId[e.Id] = e;
            if (root is null)
            {
                root = e;
                continue;
            }
            // Ids are dot-separated paths with ":slice" on sliced segments (slice names with dots are not supported).
            var lastDot = e.Id.LastIndexOf('.') + 1;
            var colon = e.Id.IndexOf(':', lastDot);
            if (colon >= 0 && e.SliceName is not null)
            {
                // "Observation.category:VSCat" is a slice of "Observation.category"
                var sliced = e.Id[..colon];
                if (byId.TryGetValue(sliced, out var baseElement)) baseElement.Slices.Add(e);
                continue;
            }
            if (lastDot > 0 && byId.TryGetValue(e.Id[..(lastDot - 1)], out var parent)) parent.Children.Add(e);
        }
        return new StructureProfile(url, type, root ?? throw new ArgumentException($"{url}: empty snapshot"), byId)
        {
            Contexts = structureDefinition.ChildrenNamed("context")
                .Select(c => (c.Child("type")?.Value ?? "element", c.Child("expression")?.Value ?? "")).ToList(),
            ContextInvariants = structureDefinition.ChildrenNamed("contextInvariant").Select(c => c.Value).OfType<string>().ToList(),
            IsModifier = snapshot.ChildrenNamed("element").FirstOrDefault()?.Child("isModifier")?.Value == "true",
        };
    }

    private const string ProfileElementExtension = "http://hl7.org/fhir/StructureDefinition/elementdefinition-profile-element";
    private const string MinLengthExtension = "http://hl7.org/fhir/StructureDefinition/minLength";
    private const string MustHaveValueExtension = "http://hl7.org/fhir/5.0/StructureDefinition/extension-ElementDefinition.mustHaveValue";
    private const string NarrativeLanguageExtension = "http://hl7.org/fhir/StructureDefinition/narrative-language-control";
    private const string ValueAlternativesExtension = "http://hl7.org/fhir/5.0/StructureDefinition/extension-ElementDefinition.valueAlternatives";

    private static IEnumerable<ElementNode> Extensions(ElementNode e, string url) =>
        e.ChildrenNamed("extension").Where(x => x.Child("url")?.Value == url);

    private static ProfileElement Read(ElementNode e)
    {
        var path = e.Child("path")?.Value ?? "";
        var name = path[(path.LastIndexOf('.') + 1)..];
        if (name.EndsWith("[x]", StringComparison.Ordinal)) name = name[..^3];
        var slicing = e.Child("slicing");
        var max = e.Child("max")?.Value;
        return new ProfileElement
        {
            Id = e.Child("id")?.Value ?? path,
            Path = path,
            Name = name,
            SliceName = e.Child("sliceName")?.Value,
            Min = int.TryParse(e.Child("min")?.Value, out var min) ? min : 0,
            Max = max is null or "*" ? -1 : int.TryParse(max, out var m) ? m : -1,
            Fixed = e.Child("fixed"),
            Pattern = e.Child("pattern"),
            TypeCodes = e.ChildrenNamed("type").Select(t => t.Child("code")?.Value).OfType<string>().ToList(),
            TypeProfiles = e.ChildrenNamed("type").SelectMany(t => t.ChildrenNamed("profile")).Select(p => p.Value).OfType<string>().ToList(),
            TargetProfiles = e.ChildrenNamed("type").SelectMany(t => t.ChildrenNamed("targetProfile")).Select(p => p.Value).OfType<string>().ToList(),
            Discriminators = slicing?.ChildrenNamed("discriminator")
                .Select(d => new Discriminator(d.Child("type")?.Value ?? "value", d.Child("path")?.Value ?? "$this")).ToList() ?? [],
            ClosedSlicing = slicing?.Child("rules")?.Value == "closed",
            Constraints = e.ChildrenNamed("constraint").Select(c => new Constraint(c.Child("key")?.Value ?? "", c.Child("severity")?.Value ?? "error",
                c.Child("human")?.Value ?? "", c.Child("expression")?.Value, c.Child("source")?.Value)).Where(c => c.Expression is not null).ToList(),
            MinValue = e.Child("minValue"),
            MaxValue = e.Child("maxValue"),
            MaxLength = int.TryParse(e.Child("maxLength")?.Value, out var maxLength) && maxLength > 0 ? maxLength : null,
            MinLength = Extensions(e, MinLengthExtension).Select(x => int.TryParse(x.Child("value")?.Value, out var n) ? n : (int?)null).FirstOrDefault(),
            ProfileElementRef = e.ChildrenNamed("type").SelectMany(t => t.ChildrenNamed("profile"))
                .Select(p => (p.Value, Extensions(p, ProfileElementExtension).FirstOrDefault()?.Child("value")?.Value))
                .Where(p => p.Item1 is not null && p.Item2 is not null).Select(p => ((string, string)?)(p.Item1!, p.Item2!)).FirstOrDefault(),
            MustHaveValue = Extensions(e, MustHaveValueExtension).Any(x => x.Child("value")?.Value == "true"),
            NarrativeLanguages = Extensions(e, NarrativeLanguageExtension).Select(x => x.Child("value")?.Value).OfType<string>().ToList(),
            ValueAlternatives = Extensions(e, ValueAlternativesExtension).Select(x => x.Child("value")?.Value).OfType<string>().ToList(),
            Binding = e.Child("binding") is { } b && b.Child("strength")?.Value is { } strength && b.Child("valueSet")?.Value is { } vs
                ? (strength, vs) : null,
        };
    }
}

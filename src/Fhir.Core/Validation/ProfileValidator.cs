using FhirArchive.Fhir.Definitions;
using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Outcomes;

namespace FhirArchive.Fhir.Validation;

/// <summary>
/// Checks an instance against a profile's snapshot: cardinality as the profile narrows it, fixed and pattern
/// values, allowed types of choice elements, and slicing (discriminators by value, pattern, type and exists;
/// closed slicing rejects what no slice takes). Base-definition rules are <see cref="InstanceValidator"/>'s job.
/// </summary>
public static class ProfileValidator
{
    /// <param name="settings">Profiles named by element types (extension definitions) are found through
    /// <see cref="ValidationSettings.ResolveProfile"/>, profile bindings checked through <see cref="ValidationSettings.CodeInValueSet"/>.</param>
    public static IReadOnlyList<FhirIssue> Validate(ElementNode instance, StructureProfile profile, ValidationSettings? settings = null)
    {
        var run = new Run(settings ?? new ValidationSettings());
        if (instance.Type != profile.Type)
            run.Issues.Add(new FhirIssue(IssueSeverity.Error, "structure", $"The profile {profile.Url} is for {profile.Type}, not {instance.Type}", instance.Location));
        else
            run.CheckNode(instance, profile.Root, profile.Url);
        return run.Issues;
    }

    private sealed class Run(ValidationSettings settings)
    {
        public readonly List<FhirIssue> Issues = [];

        private FhirPath.EvaluationContext? _context;

        /// <summary>
        /// Does the invariant hold (null: cannot tell)? A constraint a profile puts on a resource held inside the
        /// profiled one (Bundle.entry.resource, DomainResource.contained) sees the profiled resource as %resource.
        /// </summary>
        private bool? Holds(ElementNode node, ProfileElement e, Constraint c)
        {
            if (settings.CheckInvariant is { } custom) return custom(node, c);
            var nested = node.IsResource && e.Path.Contains('.') && node.Parent?.ContainingResource is { } outer ? outer : null;
            var context = nested is null ? _context ??= FhirPathInvariants.Context(settings.CodeInValueSet) : FhirPathInvariants.Context(settings.CodeInValueSet, nested);
            return FhirPathInvariants.Evaluate(node, c, context);
        }

        public void CheckNode(ElementNode node, ProfileElement e, string url)
        {
            var issues = Issues;
            if (e.Fixed is { } fixedValue && !Matches(node, fixedValue, exact: true))
                issues.Add(Error("value", $"The value must be exactly {Show(fixedValue)} ({url})", node.Location));
            if (e.Pattern is { } pattern && !Matches(node, pattern, exact: false))
                issues.Add(Error("value", $"The value must match the pattern {Show(pattern)} ({url})", node.Location));
            if (node.Definition is { IsChoice: true } && e.TypeCodes.Count > 0 && node.Type is { } t && !e.TypeCodes.Contains(t))
                issues.Add(Error("structure", $"The type {t} is not allowed here: {string.Join(", ", e.TypeCodes)} ({url})", node.Location));
            if (e.Binding is { } b && settings.CodeInValueSet is { } inValueSet && BindingCheck.Check(node, b.Strength, b.ValueSet, inValueSet) is { } bindingIssue)
                issues.Add(bindingIssue with { Message = $"{bindingIssue.Message} ({url})" });
            if (node.IsPrimitive) CheckPrimitive(node, e, url);
            if (e.MinValue is not null || e.MaxValue is not null) CheckBounds(node, e, url);
            if (e.Constraints.Count > 0) CheckConstraints(node, e, url);
            if (e.NarrativeLanguages.Count > 0 && node.Type == "Narrative")
                foreach (var problem in NarrativeLanguages.Problems(node, e.NarrativeLanguages))
                    issues.Add(Error("business-rule", $"{problem} ({url})", node.Location));

            foreach (var child in e.Children)
                CheckGroup(node, child, node.ChildrenNamed(child.Name).ToList(), url);

            if (node.Type == "Reference" && e.TargetProfiles.Count > 0) CheckTarget(node, e, url);
            if (node.IsResource && e.TypeProfiles.Count > 0 && node.Definition is not null)
            {
                var types = TypesOf(e.TypeProfiles);
                if (types.Count > 0 && node.Type is { } rt && !types.Contains(rt) && !types.Contains("Resource"))
                    issues.Add(Error("structure", $"The type {rt} is not allowed here: it must be {string.Join(", ", types)} ({url})", node.Location));
            }

            if (e.TypeProfiles.Count > 0) CheckTypeProfiles(node, e, url);
            if (ProfileElementOf(e) is var (library, element)) CheckNode(node, element, library.Url);
        }

        /// <summary>The element of another profile that type.profile names through the profile-element extension.</summary>
        private (StructureProfile, ProfileElement)? ProfileElementOf(ProfileElement e) =>
            e.ProfileElementRef is var (profileUrl, elementId) && settings.ResolveProfile?.Invoke(profileUrl) is { } library
            && library.Element(elementId) is { } element ? (library, element) : null;

        /// <summary>
        /// The profiles the element's type must meet (type.profile). Several profiles of one type are
        /// alternatives: meeting one of them is enough. An extension's own definition is left to the extension
        /// check of the instance walk when that walk runs (it checks every extension against its definition).
        /// </summary>
        private void CheckTypeProfiles(ElementNode node, ProfileElement e, string url)
        {
            List<StructureProfile>? candidates = null;
            foreach (var typeProfile in e.TypeProfiles)
            {
                if (settings.ExtensionsCheckedByWalk && IsOwnDefinition(node, typeProfile)) return;
                if (settings.ResolveProfile is not { } resolve) return;
                var p = resolve(typeProfile) ?? OfficialProfiles.Find(typeProfile);
                if (p is null && node.Type != "Extension" && !IsCoreType(typeProfile))
                    // The profile cannot be met or denied: as the reference validator does, that is an error (the
                    // profile set is incomplete). Unknown extensions are the extension check's to judge.
                    Issues.Add(Error("structure", $"The profile {typeProfile} that this element must meet is not known, so the element cannot be checked against it ({url})", node.Location));
                if (p is null || p.Type != node.Type) continue; // core types need no second look
                (candidates ??= []).Add(p);
            }
            if (candidates is null) return;
            if (candidates.Count == 1)
            {
                CheckNode(node, candidates[0].Root, candidates[0].Url);
                return;
            }
            List<FhirIssue>? closest = null;
            foreach (var p in candidates)
            {
                var alone = new Run(settings);
                alone.CheckNode(node, p.Root, p.Url);
                var errors = alone.Issues.Count(i => i.IsError);
                if (errors == 0)
                {
                    Issues.AddRange(alone.Issues);
                    return;
                }
                if (closest is null || errors < closest.Count(i => i.IsError)) closest = alone.Issues;
            }
            Issues.Add(Error("structure", $"The element meets none of the profiles it may meet: {string.Join(", ", candidates.Select(c => c.Url))} ({url})", node.Location));
            Issues.AddRange(closest!);
        }

        /// <summary>The specification's own namespace: core types, SimpleQuantity, and definitions of later versions not held here.</summary>
        private static bool IsCoreType(string url) => url.StartsWith("http://hl7.org/fhir/StructureDefinition/", StringComparison.Ordinal);

        /// <summary>An extension whose url is the definition named: the instance walk checks it against that definition.</summary>
        private static bool IsOwnDefinition(ElementNode node, string typeProfile)
        {
            if (node.Type != "Extension" || node.Definition?.Name is not ("extension" or "modifierExtension")) return false;
            var bar = typeProfile.IndexOf('|');
            var definition = bar >= 0 ? typeProfile.AsSpan(0, bar) : typeProfile.AsSpan();
            return node.Child("url")?.Value is { } extensionUrl && extensionUrl.Contains(':') && definition.SequenceEqual(extensionUrl);
        }

        /// <summary>A primitive's value: present when the profile requires it (or an allowed alternative), within its length bounds.</summary>
        private void CheckPrimitive(ElementNode node, ProfileElement e, string url)
        {
            if (node.Value is { } text)
            {
                if (e.MaxLength is { } max && text.Length > max)
                    Issues.Add(Error("value", $"The value is longer than the permitted maximum length of {max} ({url})", node.Location));
                if (e.MinLength is { } min && text.Length < min)
                    Issues.Add(Error("value", $"The value is shorter than the permitted minimum length of {min} ({url})", node.Location));
                return;
            }
            if (e.MustHaveValue)
                Issues.Add(Error("required", $"{e.Id} must have a value, not only extensions ({url})", node.Location));
            else if (e.ValueAlternatives.Count > 0 && !node.ChildrenNamed("extension").Any(x => x.Child("url")?.Value is { } u && e.ValueAlternatives.Contains(u)))
                Issues.Add(Error("required", $"{e.Id} has no value, so one of the extensions {string.Join(", ", e.ValueAlternatives)} must stand in for it ({url})", node.Location));
        }

        /// <summary>minValue[x] / maxValue[x]: numbers, dates and times by value, quantities after unit conversion.</summary>
        private void CheckBounds(ElementNode node, ProfileElement e, string url)
        {
            if (e.MinValue is { } min && ValueBounds.Compare(node, min) < 0)
                Issues.Add(Error("value", $"The value is less than the permitted minimum {Show(min)} ({url})", node.Location));
            if (e.MaxValue is { } max && ValueBounds.Compare(node, max) > 0)
                Issues.Add(Error("value", $"The value is greater than the permitted maximum {Show(max)} ({url})", node.Location));
        }

        /// <summary>
        /// The profile's invariants. Those the base definition has (same key on the element or on its type) are the
        /// instance walk's: the snapshot repeats them, and they are not evaluated twice.
        /// </summary>
        private void CheckConstraints(ElementNode node, ProfileElement e, string url)
        {
            if (!settings.EvaluateInvariants) return;
            foreach (var c in e.OwnConstraints(node))
            {
                if (Holds(node, e, c) == false)
                    Issues.Add(new FhirIssue(c.Severity == "error" ? IssueSeverity.Error : IssueSeverity.Warning, "invariant", $"{c.Key}: {c.Human} ({url})", node.Location));
            }
        }

        /// <summary>The instance nodes of one element: their count, their slices, then each node.</summary>
        private void CheckGroup(ElementNode parent, ProfileElement e, List<ElementNode> nodes, string url)
        {
            var issues = Issues;
            var where = $"{parent.Location}.{e.Name}";
            CheckCount(nodes.Count, e, where, url, issues);
            if (e.Slices.Count == 0)
            {
                foreach (var n in nodes) CheckNode(n, e, url);
                return;
            }

            var bySlice = e.Slices.ToDictionary(s => s, _ => new List<ElementNode>());
            foreach (var n in nodes)
            {
                var slice = e.Slices.FirstOrDefault(s => InSlice(n, s, e.Discriminators));
                if (slice is not null) bySlice[slice].Add(n);
                else if (e.ClosedSlicing)
                    issues.Add(Error("structure", $"No slice of {e.Id} takes this element, and the slicing is closed ({url})", n.Location));
                else
                    CheckNode(n, e, url);
            }
            foreach (var (slice, members) in bySlice)
            {
                CheckCount(members.Count, slice, $"{where}:{slice.SliceName}", url, issues);
                foreach (var n in members) CheckNode(n, slice, url);
            }
        }

        /// <summary>A reference whose target type the profile narrows (type.targetProfile).</summary>
        private void CheckTarget(ElementNode reference, ProfileElement e, string url)
        {
            if (reference.Child("reference")?.Value is not { } r || r.StartsWith("urn:", StringComparison.Ordinal)) return;
            var target = Resolve(reference)?.Type
                ?? (settings.TypesFromReferenceUrls && !r.StartsWith('#') && ReferenceParts.TryParse(r, out var t, out _) ? t : null);
            if (target is null) return;
            var allowed = TypesOf(e.TargetProfiles);
            if (allowed.Count == 0 || allowed.Contains(target) || allowed.Contains("Resource")) return;
            Issues.Add(Error("structure", $"A reference to a {target} is not allowed here: it must point to {string.Join(", ", allowed)} ({url})", reference.Location));
        }

        /// <summary>Does the node belong to the slice? Every discriminator must agree.</summary>
        private bool InSlice(ElementNode node, ProfileElement slice, IReadOnlyList<Discriminator> discriminators)
        {
            foreach (var d in discriminators)
            {
                switch (d.Type)
                {
                    case "value" or "pattern":
                        var (required, exact) = ValueAt(slice, d.Path);
                        // A slice whose rules are another profile's element (profile-element) takes its value from there.
                        if (required is null && ProfileElementOf(slice) is var (_, referenced)) (required, exact) = ValueAt(referenced, d.Path);
                        if (required is null)
                        {
                            // Extension slices by url: the slice names its definition in type.profile, not as a fixed url.
                            if (d.Path == "url" && slice.TypeCodes is ["Extension"] && slice.TypeProfiles.Count > 0)
                            {
                                var url = node.Child("url")?.Value;
                                if (!slice.TypeProfiles.Any(p => p.Split('|')[0] == url)) return false;
                            }
                            continue; // the slice does not constrain this path
                        }
                        if (!Navigate(node, d.Path).Any(v => Matches(v, required, exact))) return false;
                        break;
                    case "type":
                        var typed = d.Path == "$this" ? slice : slice.Descend(d.Path);
                        if (typed is null || typed.TypeCodes.Count == 0) continue;
                        var allowed = d.Path.EndsWith("resolve()", StringComparison.Ordinal) ? TypesOf(typed.TargetProfiles) : TypesOf(typed);
                        var values = Navigate(node, d.Path).ToList();
                        if (values.Count == 0 || !values.All(v => v.Type is { } t && allowed.Contains(t))) return false;
                        break;
                    case "profile":
                        var profiled = d.Path == "$this" ? slice : slice.Descend(d.Path);
                        var urls = (d.Path.EndsWith("resolve()", StringComparison.Ordinal) ? profiled?.TargetProfiles : profiled?.TypeProfiles) ?? [];
                        if (urls.Count == 0) continue;
                        var targets = Navigate(node, d.Path).ToList();
                        if (targets.Count == 0 || !targets.All(t => urls.Any(u => Conforms(t, u)))) return false;
                        break;
                    case "exists":
                        var target = d.Path == "$this" ? slice : slice.Descend(d.Path);
                        var exists = Navigate(node, d.Path).Any();
                        if (target is { Min: > 0 } && !exists || target is { Max: 0 } && exists) return false;
                        break;
                    default:
                        return false;
                }
            }
            return true;
        }

        /// <summary>Does the node meet the profile? A core type's URL asks for the type only; an unknown profile is not met.</summary>
        private bool Conforms(ElementNode node, string url)
        {
            // Slice membership asks for the whole answer, extension content included.
            if (settings.ResolveProfile?.Invoke(url) is { } p) return Validate(node, p, settings with { ExtensionsCheckedByWalk = false }).All(i => !i.IsError);
            return url.StartsWith("http://hl7.org/fhir/StructureDefinition/", StringComparison.Ordinal) && node.Type == url[(url.LastIndexOf('/') + 1)..];
        }

        /// <summary>The instance types an element admits: its type codes, or for a resource element the types its profiles constrain.</summary>
        private HashSet<string> TypesOf(ProfileElement e)
        {
            var types = new HashSet<string>(StringComparer.Ordinal);
            foreach (var code in e.TypeCodes)
            {
                if (code is "Resource" or "DomainResource" && e.TypeProfiles.Count > 0) types.UnionWith(TypesOf(e.TypeProfiles));
                else types.Add(code);
            }
            return types;
        }

        /// <summary>The types that profiles constrain (core type URLs name the type themselves).</summary>
        private HashSet<string> TypesOf(IReadOnlyList<string> profiles)
        {
            var types = new HashSet<string>(StringComparer.Ordinal);
            foreach (var p in profiles)
                if (settings.ResolveProfile?.Invoke(p)?.Type is { } t) types.Add(t);
                else if (p.StartsWith("http://hl7.org/fhir/StructureDefinition/", StringComparison.Ordinal)) types.Add(p[(p.LastIndexOf('/') + 1)..]);
            return types;
        }
    }

    private static void CheckCount(int count, ProfileElement e, string where, string url, List<FhirIssue> issues)
    {
        if (count < e.Min)
            issues.Add(Error("required", $"{e.Id}: minimum {e.Min}, found {count} ({url})", where));
        else if (e.Max >= 0 && count > e.Max)
            issues.Add(Error(e.Max == 0 ? "business-rule" : "structure", $"{e.Id}: maximum {e.Max}, found {count} ({url})", where));
    }

    /// <summary>The value a slice requires at a discriminator path: a fixed/pattern on the element there, or inside an ancestor's pattern.</summary>
    private static (ElementNode? Value, bool Exact) ValueAt(ProfileElement slice, string path)
    {
        if (path == "$this") return slice.Fixed is { } f ? (f, true) : (slice.Pattern, false);
        if (slice.Descend(path) is { } e && (e.Fixed ?? e.Pattern) is { } v) return (v, e.Fixed is not null);
        foreach (var own in new[] { slice.Fixed, slice.Pattern })
            if (own is not null && Navigate(own, path).FirstOrDefault() is { } inner) return (inner, ReferenceEquals(own, slice.Fixed));
        return (null, false);
    }

    private static IEnumerable<ElementNode> Navigate(ElementNode node, string path)
    {
        IEnumerable<ElementNode> current = [node];
        if (path == "$this") return current;
        foreach (var segment in ProfileElement.PathSegments(path))
        {
            if (segment == "$this") continue;
            if (segment == "resolve()")
            {
                current = current.Select(Resolve).OfType<ElementNode>().ToList();
                continue;
            }
            if (segment.StartsWith("extension('", StringComparison.Ordinal) && segment.EndsWith("')", StringComparison.Ordinal))
            {
                var url = segment[11..^2];
                current = current.SelectMany(n => n.ChildrenNamed("extension")).Where(x => x.Child("url")?.Value == url).ToList();
                continue;
            }
            var name = segment.EndsWith("[x]", StringComparison.Ordinal) ? segment[..^3] : segment;
            current = current.SelectMany(n => n.ChildrenNamed(name)).ToList();
        }
        return current;
    }

    /// <summary>
    /// The resource a Reference points to inside the instance: a contained resource ("#id") or another entry of
    /// the enclosing Bundle (by fullUrl, or by type and id). Null when it is not in the instance.
    /// </summary>
    internal static ElementNode? Resolve(ElementNode reference)
    {
        if (reference.Child("reference")?.Value is not { } r) return null;
        var container = reference.ContainingResource;
        if (r.StartsWith('#'))
        {
            while (container?.Parent?.ContainingResource is { } outer && container.Definition?.Name == "contained") container = outer;
            return container?.ChildrenNamed("contained").FirstOrDefault(c => c.ResourceId == r[1..]);
        }
        for (var n = container?.Parent; n is not null; n = n.Parent)
        {
            if (n.Type != "Bundle") continue;
            ReferenceParts.TryParse(r, out var type, out var id);
            foreach (var entry in n.ChildrenNamed("entry"))
            {
                if (entry.Child("resource") is not { } res) continue;
                var fullUrl = entry.Child("fullUrl")?.Value;
                if (fullUrl == r || fullUrl is not null && fullUrl.EndsWith("/" + r, StringComparison.Ordinal) || res.Type == type && res.ResourceId == id && id is not null)
                    return res;
            }
            return null;
        }
        return null;
    }

    /// <summary>fixed: the same value and the same children; pattern: at least what the pattern has.</summary>
    private static bool Matches(ElementNode actual, ElementNode expected, bool exact)
    {
        if (expected.HasValue && actual.Value != expected.Value) return false;
        if (exact && !expected.HasValue && actual.HasValue) return false;
        var expectedChildren = expected.Children;
        if (exact && actual.Children.Count(c => c.Name != "id") != expectedChildren.Count(c => c.Name != "id")) return false;
        foreach (var want in expectedChildren)
        {
            if (want.Name == "id") continue;
            if (!actual.ChildrenNamed(want.Name).Any(have => Matches(have, want, exact))) return false;
        }
        return true;
    }

    /// <summary>A compact rendering for messages: 'v', or {system: 'x', code: 'y'}.</summary>
    private static string Show(ElementNode value) =>
        value.HasValue ? $"'{value.Value}'" : "{" + string.Join(", ", value.Children.Select(c => $"{c.Name}: {Show(c)}")) + "}";

    private static FhirIssue Error(string code, string message, string location) => new(IssueSeverity.Error, code, message, location);
}

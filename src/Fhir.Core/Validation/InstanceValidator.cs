using FhirArchive.Fhir.Definitions;
using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Outcomes;

namespace FhirArchive.Fhir.Validation;

/// <summary>What the validator asks of the world outside the core: terminology and FHIRPath.</summary>
public sealed record ValidationSettings
{
    /// <summary>
    /// Is the code (with its system, null for a bare <c>code</c> element) in the value set? true, false, or
    /// null when the value set or code system is not held (then no issue is raised).
    /// </summary>
    public Func<string, string?, string, bool?>? CodeInValueSet { get; init; }

    /// <summary>
    /// Evaluates an invariant on a node: true (holds), false (violated), null (could not evaluate).
    /// Default: the FHIRPath engine, with memberOf() answered by <see cref="CodeInValueSet"/>.
    /// </summary>
    public Func<ElementNode, Constraint, bool?>? CheckInvariant { get; init; }

    /// <summary>Evaluate invariants at all (off for callers that check structure only).</summary>
    public bool EvaluateInvariants { get; init; } = true;

    /// <summary>
    /// Profiles every resource of a type must meet whether it claims them or not (ImplementationGuide.global):
    /// resource type → profile URLs.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> GlobalProfiles { get; init; } = new Dictionary<string, IReadOnlyList<string>>();

    /// <summary>Finds the profile a resource claims in meta.profile (null: not known).</summary>
    public Func<string, StructureProfile?>? ResolveProfile { get; init; }

    /// <summary>
    /// Finds a conformance resource by canonical URL (e.g. the Questionnaire a QuestionnaireResponse answers);
    /// null: not known, and the checks that need it are not made.
    /// </summary>
    public Func<string, ElementNode?>? ResolveResource { get; init; }

    /// <summary>
    /// The severity of an extension whose definition cannot be found (null: say nothing). The reference
    /// validator makes it an error; the default here is a warning, since records carry extensions from many sources.
    /// </summary>
    public IssueSeverity? UnknownExtensions { get; init; } = IssueSeverity.Warning;

    /// <summary>Unknown extensions from example domains (example.org, acme.com...) pass without an issue.</summary>
    public bool AllowExampleExtensions { get; init; } = true;

    /// <summary>URL prefixes whose unknown extensions pass without an issue (a partner's namespace, say).</summary>
    public IReadOnlyList<string> AllowedExtensionDomains { get; init; } = [];

    /// <summary>
    /// url, uri and canonical values may not point into the example domains (example.org, example.com, example.net):
    /// in production data such a URL is a placeholder left in.
    /// </summary>
    public bool RejectExampleUrls { get; init; }

    /// <summary>
    /// Judge a reference's target type from its URL ("Group/1" is a Group) when the target is not in the instance.
    /// Off: only references resolved inside the instance (contained, Bundle entries) are judged.
    /// </summary>
    public bool TypesFromReferenceUrls { get; init; } = true;

    /// <summary>Strings may not hold HTML-looking tags (injection into displays that do not escape them).</summary>
    public bool SecurityChecks { get; init; }

    /// <summary>Markdown may not hold raw HTML tags (it should be escaped by whoever renders it).</summary>
    public bool NoHtmlInMarkdown { get; init; }

    /// <summary>Stop after this many issues (one more, informational, says so).</summary>
    public int MaxIssues { get; init; } = 500;

    /// <summary>
    /// Set by the instance walk for the profile checks it starts: it checks every extension against its definition
    /// itself, so a profile's extension slice need not check the extension against that definition again.
    /// </summary>
    internal bool ExtensionsCheckedByWalk { get; init; }
}

/// <summary>
/// Validates an instance against the base FHIR definitions it was parsed with: cardinality, terminology
/// bindings (required: error, extensible: warning), reference target types, and invariants through the
/// <see cref="ValidationSettings.CheckInvariant"/> callback. Walks contained resources and Bundle entries too.
/// Structure and primitive lexical rules are the parsers' job: an instance reaching here was parsed already.
/// </summary>
public sealed partial class InstanceValidator(ValidationSettings? settings = null, FhirDefinitions? definitions = null)
{
    [System.Text.RegularExpressions.GeneratedRegex(@"<\s*/?\s*[a-zA-Z][a-zA-Z0-9-]*(\s[^<>]*)?/?>")]
    private static partial System.Text.RegularExpressions.Regex HtmlTag();

    private readonly ValidationSettings _settings = settings ?? new ValidationSettings();
    private ValidationSettings? _walkSettings;

    /// <summary>The settings the walk hands to the profile and extension checks it runs.</summary>
    private ValidationSettings WalkSettings => _walkSettings ??= _settings with { ExtensionsCheckedByWalk = true };
    private readonly FhirDefinitions _defs = definitions ?? FhirDefinitions.R4;
    private Func<ElementNode, Constraint, bool?>? _invariants;

    private Func<ElementNode, Constraint, bool?>? Invariants =>
        !_settings.EvaluateInvariants ? null : _invariants ??= _settings.CheckInvariant ?? FhirPathInvariants.Checker(_settings.CodeInValueSet);

    public IReadOnlyList<FhirIssue> Validate(ElementNode resource)
    {
        var run = new Run(this);
        run.Visit(resource);
        return run.Issues;
    }

    private sealed class Run(InstanceValidator v)
    {
        public readonly List<FhirIssue> Issues = [];

        private void Add(IssueSeverity severity, string code, string message, string location)
        {
            if (Issues.Count < v._settings.MaxIssues) Issues.Add(new FhirIssue(severity, code, message, location));
            else if (Issues.Count == v._settings.MaxIssues)
                Issues.Add(new FhirIssue(IssueSeverity.Information, "too-costly", $"More than {v._settings.MaxIssues} issues; the rest are not listed"));
        }

        public void Visit(ElementNode node)
        {
            var type = node.TypeDef;
            if (type is null) return; // unknown content kept by a lenient parse: the parser reported it

            CheckCardinality(node, type);
            if (node.Definition?.Binding is { } binding) CheckBinding(node, binding);
            if (node.Type == "Reference" && node.Definition is { } refDef) CheckReferenceTarget(node, refDef);
            if (node.Type == "canonical" && v._settings.TypesFromReferenceUrls && node.Definition is { Types: [{ TargetProfiles.Count: > 0 } canonicalType] })
                CheckCanonicalTarget(node, canonicalType.TargetProfiles);
            CheckInvariants(node, type);
            if (node.IsResource) CheckClaimedProfiles(node);
            if (node.Type == "Extension" && node.Definition?.Name is "extension" or "modifierExtension")
                ExtensionCheck.Check(node, v.WalkSettings, v._defs, v.Invariants, Add);
            if (node.IsResource && node.Type == "Bundle") BundleCheck.Check(node, v._defs, Add);
            if (node.Type == "Attachment" && AttachmentSize.Mismatch(node) is var (stated, actual))
                Add(IssueSeverity.Error, "value", $"The stated attachment size {stated} does not match the size of its data ({actual})", node.Location);
            if (node.IsPrimitive && (v._settings.SecurityChecks && node.Type == "string" || v._settings.NoHtmlInMarkdown && node.Type == "markdown")
                && node.Value is { } text && HtmlTag().IsMatch(text))
                Add(IssueSeverity.Error, "security", $"The {node.Type} contains what looks like an HTML tag, which is not allowed here", node.Location);
            if (node.IsPrimitive) CheckPrimitive(node);
            if (node.Type == "Coding" && UriRules.CodingSystemProblem(node) is { } systemProblem)
                Add(IssueSeverity.Error, "value", systemProblem, node.Location + ".system");
            if (node.IsResource && node.Type == "QuestionnaireResponse")
                Questionnaires.QuestionnaireResponseCheck.Check(node, v._settings.ResolveResource, v._settings.CodeInValueSet, Add);

            foreach (var child in node.Children) Visit(child);
        }

        /// <summary>FHIR caps strings at 1 MB; UUID URIs are lowercase.</summary>
        private void CheckPrimitive(ElementNode node)
        {
            if (!node.HasValue) return;
            if (node.Type is not ("base64Binary" or "xhtml") && node.ValueLongerThan(MaxStringLength))
                Add(IssueSeverity.Error, "too-long", $"The value is longer than the permitted maximum of 1 MB ({node.Value!.Length} characters)", node.Location);
            if (UriRules.UuidProblem(node) is { } problem) Add(IssueSeverity.Error, "value", problem, node.Location);
            if (v._settings.RejectExampleUrls && UriRules.IsExampleUrl(node))
                Add(IssueSeverity.Error, "value", $"Example URLs are not allowed here ({node.Value})", node.Location);
        }

        private const int MaxStringLength = 1024 * 1024;

        private void CheckClaimedProfiles(ElementNode resource)
        {
            List<string>? claimedUrls = null;
            foreach (var claimed in resource.Child("meta")?.ChildrenNamed("profile") ?? [])
            {
                if (claimed.Value is not { } url) continue;
                (claimedUrls ??= []).Add(url.Split('|')[0]);
                var profile = v._settings.ResolveProfile?.Invoke(url);
                if (profile is null)
                {
                    Add(IssueSeverity.Warning, "not-found", $"The profile {url} is not known here: checked against the base definition only", claimed.Location);
                    continue;
                }
                CheckProfile(resource, profile);
            }
            if (v._settings.GlobalProfiles.Count == 0 || resource.Type is not { } type || !v._settings.GlobalProfiles.TryGetValue(type, out var globals)) return;
            foreach (var url in globals)
            {
                if (claimedUrls?.Contains(url.Split('|')[0]) == true) continue; // checked as claimed
                if (v._settings.ResolveProfile?.Invoke(url) is { } profile) CheckProfile(resource, profile);
                else Add(IssueSeverity.Warning, "not-found", $"The global profile {url} for {type} is not known here", resource.Location);
            }
        }

        private void CheckProfile(ElementNode resource, StructureProfile profile)
        {
            foreach (var issue in ProfileValidator.Validate(resource, profile, v.WalkSettings))
                Add(issue.Severity, issue.Code, issue.Message, issue.Location ?? resource.Location);
        }

        private void CheckCardinality(ElementNode node, TypeDefinition type)
        {
            var elements = type.Elements;
            Span<int> counts = elements.Count <= 256 ? stackalloc int[elements.Count] : new int[elements.Count];
            foreach (var c in node.Children)
                if (c.Definition is { } d && d.Order < counts.Length && ReferenceEquals(elements[d.Order], d))
                    counts[d.Order]++;
            for (var i = 0; i < elements.Count; i++)
            {
                var def = elements[i];
                if (node.IsPrimitive && def.Name == "value") continue; // a primitive's value is not a child node
                if (counts[i] < def.Min)
                    Add(IssueSeverity.Error, "required", $"'{def.Name}' is required: minimum {def.Min}, found {counts[i]}", $"{node.Location}.{def.Name}");
                else if (def.Max >= 0 && counts[i] > def.Max)
                    Add(IssueSeverity.Error, "structure", $"'{def.Name}' allows at most {def.Max}, found {counts[i]}", $"{node.Location}.{def.Name}");
            }
        }

        private void CheckBinding(ElementNode node, Binding binding)
        {
            if (binding.ValueSet is null || v._settings.CodeInValueSet is not { } inValueSet) return;
            if (BindingCheck.Check(node, binding.Strength, binding.ValueSet, inValueSet) is { } issue)
                Add(issue.Severity, issue.Code, issue.Message, node.Location);
        }

        private void CheckReferenceTarget(ElementNode node, ElementDef def)
        {
            var targets = def.Types.Count == 1 ? def.Types[0].TargetProfiles : [];
            if (targets.Count == 0) return;
            var reference = node.Child("reference")?.Value;
            if (reference is null) return;
            var targetType = ReferencedType(node, reference);
            if (targetType is null) return; // urn:uuid, logical or unresolvable contained: nothing to say
            foreach (var t in targets)
            {
                var name = t[(t.LastIndexOf('/') + 1)..];
                if (name == "Resource" || name == targetType || v._defs.IsSubtypeOf(targetType, name)) return;
            }
            var allowed = string.Join(", ", targets.Select(t => t[(t.LastIndexOf('/') + 1)..]));
            Add(IssueSeverity.Error, "structure", $"A reference to a {targetType} is not allowed here: it must point to {allowed}", $"{node.Location}.reference");
        }

        /// <summary>
        /// A canonical URL of the RESTful form ([base]/ValueSet/x) names its resource type: it must be a type the
        /// element allows (QuestionnaireResponse.questionnaire points to a Questionnaire, not a ValueSet).
        /// </summary>
        private void CheckCanonicalTarget(ElementNode node, IReadOnlyList<string> targets)
        {
            if (node.Value is not { } canonical || canonical.StartsWith('#')) return;
            var bar = canonical.IndexOf('|');
            if (!ReferenceParts.TryParse(bar >= 0 ? canonical[..bar] : canonical, out var type, out _)) return;
            foreach (var t in targets)
            {
                var name = t[(t.LastIndexOf('/') + 1)..];
                if (name == "Resource" || name == type || v._defs.IsSubtypeOf(type, name)) return;
            }
            var allowed = string.Join(", ", targets.Select(t => t[(t.LastIndexOf('/') + 1)..]));
            Add(IssueSeverity.Error, "structure", $"The canonical URL {canonical} names a {type}: it must name a {allowed}", node.Location);
        }

        /// <summary>"Patient/1", "http://x/fhir/Patient/1/_history/2" → Patient; "#c1" → the contained resource's type.</summary>
        private string? ReferencedType(ElementNode node, string reference)
        {
            if (reference.StartsWith('#'))
            {
                var container = node.ContainingResource;
                // References from a contained resource point at its siblings in the container.
                while (container?.Parent?.ContainingResource is { } outer && container.Definition?.Name == "contained") container = outer;
                if (container is null) return null;
                foreach (var c in container.ChildrenNamed("contained"))
                    if (c.ResourceId == reference[1..]) return c.Type;
                return null;
            }
            if (reference.StartsWith("urn:", StringComparison.Ordinal)) return null;
            return ReferenceParts.TryParse(reference, out var type, out _) ? type : null;
        }

        private void CheckInvariants(ElementNode node, TypeDefinition type)
        {
            if (v.Invariants is not { } check) return;
            // Type-level invariants (the root element of the type) hold for every instance of it; element-level
            // ones are on the definition. ele-1 is on both for every element: evaluate each key once.
            HashSet<string>? done = null;
            foreach (var list in new[] { type.Root?.Constraints, node.Definition?.Constraints })
            {
                if (list is null) continue;
                foreach (var c in list)
                {
                    if (c.Expression is null || !(done ??= []).Add(c.Key)) continue;
                    var holds = c.Key == "dom-3" && node.IsResource ? ContainedReferences.Hold(node) : check(node, c);
                    if (holds == false)
                        Add(c.Severity == "error" ? IssueSeverity.Error : IssueSeverity.Warning, "invariant", $"{c.Key}: {c.Human}", node.Location);
                }
            }
        }
    }
}

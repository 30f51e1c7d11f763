using FhirArchive.Fhir.Definitions;
using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Outcomes;

namespace FhirArchive.Fhir.Validation;

/// <summary>
/// An extension checked against its definition: an absolute url, a definition that can be found (the official
/// ones, or through <see cref="ValidationSettings.ResolveProfile"/>), used as a modifierExtension exactly when it
/// is a modifier, used in a context the definition allows (and meeting its contextInvariants), and its content
/// (value type, sub-extensions) as the definition's snapshot says.
/// </summary>
internal static partial class ExtensionCheck
{
    [System.Text.RegularExpressions.GeneratedRegex(@"^http://hl7\.org/fhir/\d\.\d/StructureDefinition/extension-")]
    private static partial System.Text.RegularExpressions.Regex CrossVersion();

    public static void Check(ElementNode extension, ValidationSettings settings, FhirDefinitions defs, Func<ElementNode, Constraint, bool?>? invariants,
        Action<IssueSeverity, string, string, string> add)
    {
        var url = extension.Child("url")?.Value;
        var parent = extension.Parent;
        if (url is null || parent is null) return; // a missing url is a cardinality error already
        // Sub-extensions of a complex extension are named by a relative url: their parent's definition covers them.
        if (parent.Type == "Extension" && !url.Contains(':')) return;
        if (!Uri.TryCreate(url, UriKind.Absolute, out _))
        {
            add(IssueSeverity.Error, "value", $"Extension.url must be an absolute URL, not '{url}'", extension.Location);
            return;
        }
        var definition = settings.ResolveProfile?.Invoke(url) ?? OfficialProfiles.Find(url);
        if (definition is null)
        {
            if (settings.UnknownExtensions is { } severity && !Unjudged(url, settings))
                add(severity, "structure", $"The extension {url} is not known, so it is not allowed here", extension.Location);
            return;
        }
        if (definition.Type != "Extension") return;

        var asModifier = extension.Definition?.Name == "modifierExtension";
        if (asModifier != definition.IsModifier)
            add(IssueSeverity.Error, "structure", definition.IsModifier
                ? $"The extension {url} is a modifier extension: it must be used as a modifierExtension"
                : $"The extension {url} is not a modifier extension: it cannot be used as a modifierExtension", extension.Location);

        // R4's own definitions and examples use several core extensions beyond their declared contexts (contexts
        // widened in later releases): for those a misplaced use is a warning, for all others an error.
        var contextSeverity = url.StartsWith("http://hl7.org/fhir/StructureDefinition/", StringComparison.Ordinal) ? IssueSeverity.Warning : IssueSeverity.Error;
        if (definition.Contexts.Count > 0 && !definition.Contexts.Any(c => InContext(parent, c.Type, c.Expression, defs)))
            add(contextSeverity, "structure",
                $"The extension {url} is not allowed here (allowed: {string.Join(", ", definition.Contexts.Select(c => c.Expression))})", extension.Location);
        if (invariants is not null)
            foreach (var expression in definition.ContextInvariants)
                if (invariants(parent, new Constraint("context", "error", expression, expression, url)) == false)
                    add(IssueSeverity.Error, "invariant", $"The extension {url} is not allowed here: its context condition '{expression}' does not hold", extension.Location);

        foreach (var issue in ProfileValidator.Validate(extension, definition, settings))
            add(issue.Severity, issue.Code, issue.Message, issue.Location ?? extension.Location);
        CheckSubExtensionUrls(extension, definition, add);
    }

    /// <summary>
    /// A complex extension's parts are named by relative urls its definition lists (the slices of Extension.extension):
    /// a part it does not define is an error, even where the slicing is open.
    /// </summary>
    private static void CheckSubExtensionUrls(ElementNode extension, StructureProfile definition, Action<IssueSeverity, string, string, string> add)
    {
        if (definition.Root.Children.FirstOrDefault(c => c.Name == "extension") is not { Slices.Count: > 0 } parts) return;
        foreach (var part in extension.ChildrenNamed("extension"))
        {
            if (part.Child("url")?.Value is not { } partUrl || partUrl.Contains(':')) continue; // absolute: an extension of its own
            if (!parts.Slices.Any(s => s.Children.FirstOrDefault(c => c.Name == "url")?.Fixed?.Value == partUrl))
                add(IssueSeverity.Error, "structure", $"The extension {definition.Url} defines no part '{partUrl}'", part.Location);
        }
    }

    /// <summary>
    /// Unknown extensions not held against an instance: HL7's own namespaces (the cross-version extensions
    /// "http://hl7.org/fhir/5.0/StructureDefinition/extension-..." and later core extensions, defined outside the R4
    /// definitions held here), the domains the settings allow and, when examples are allowed, the example domains
    /// the reference validator allows (example.org and acme.com: example.com is a real domain's name to it).
    /// </summary>
    private static bool Unjudged(string url, ValidationSettings settings)
    {
        if (url.StartsWith("http://hl7.org/fhir/StructureDefinition/", StringComparison.Ordinal) || CrossVersion().IsMatch(url)) return true;
        if (settings.AllowedExtensionDomains.Any(d => url.StartsWith(d, StringComparison.Ordinal))) return true;
        if (!settings.AllowExampleExtensions) return false;
        var host = Uri.TryCreate(url, UriKind.Absolute, out var u) ? u.Host : "";
        return host is "example.org" or "acme.com" || host.EndsWith(".example.org", StringComparison.Ordinal) || host.EndsWith(".acme.com", StringComparison.Ordinal);
    }

    /// <summary>
    /// Does the element the extension sits on match one context? An element context names a path
    /// ("Patient.address", "Address", "Element"): the element's path from its resource, its path within its
    /// data type, or its type and the types it derives from. An extension context names the holding extension's url.
    /// FHIRPath contexts are not judged here (allowed).
    /// </summary>
    private static bool InContext(ElementNode parent, string type, string expression, FhirDefinitions defs)
    {
        if (type == "extension")
        {
            // On the extension itself, or on its value (an extension of the primitive valueBoolean inside it).
            var holder = parent.Type == "Extension" ? parent : parent.Definition?.Name == "value" && parent.Parent?.Type == "Extension" ? parent.Parent : null;
            return holder?.Child("url")?.Value == expression.Split('|')[0];
        }
        if (type == "fhirpath") return InFhirPathContext(parent, expression);
        if (type != "element") return true;
        var wanted = expression.Replace("[x]", "");
        if (wanted is "Element" or "Base") return true;
        var dot = wanted.IndexOf('.');
        var head = dot < 0 ? wanted : wanted[..dot];
        if (defs.GetType(head) is null) return true; // a type of another FHIR version (CanonicalResource): not judged
        if (dot < 0) return parent.Type is { } t && (t == wanted || defs.IsSubtypeOf(t, wanted));
        if (parent.Definition?.Path.Replace("[x]", "") == wanted) return true;
        // "DomainResource.text" matches Patient.text: the path's head is the resource type or one it derives from.
        if (PathFromResource(parent) is not { } path) return false;
        // The R4 definitions themselves carry structuredefinition-fhir-type on ElementDefinition.type while its context
        // says ElementDefinition.type.code; as the reference validator does, the element holding the context element passes.
        if (parent.Definition is { } pd && wanted.StartsWith(pd.Path + ".", StringComparison.Ordinal) && !wanted[(pd.Path.Length + 1)..].Contains('.')) return true;
        var pathDot = path.IndexOf('.');
        return pathDot > 0 && path[pathDot..] == wanted[dot..] && (path[..pathDot] == head || defs.IsSubtypeOf(path[..pathDot], head));
    }

    /// <summary>
    /// A FHIRPath context: the expression, evaluated on the resource, selects the element the extension sits on.
    /// An expression that cannot be evaluated here allows the use (no issue raised on what cannot be judged).
    /// </summary>
    private static bool InFhirPathContext(ElementNode parent, string expression)
    {
        if (parent.ContainingResource is not { } resource) return true;
        try
        {
            return FhirPath.FhirPathCompiler.Default.Compile(expression).Evaluate(resource).Any(i => ReferenceEquals(i.Node, parent));
        }
        catch (Exception e) when (e is FhirPath.FhirPathEvaluationException or FhirPath.FhirPathSyntaxException)
        {
            return true;
        }
    }

    /// <summary>"Patient.contact.name" for a node, without indices or types (null outside a resource).</summary>
    private static string? PathFromResource(ElementNode node)
    {
        var names = new List<string>();
        for (var n = node; n is not null; n = n.Parent)
        {
            if (n.IsResource)
            {
                names.Add(n.Type!);
                names.Reverse();
                return string.Join('.', names);
            }
            names.Add(n.Name);
        }
        return null;
    }
}

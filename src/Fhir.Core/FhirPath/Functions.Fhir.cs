using System.Xml;
using FhirArchive.Fhir.Definitions;
using FhirArchive.Fhir.Model;

namespace FhirArchive.Fhir.FhirPath;

/// <summary>The FHIR additions to FHIRPath (FHIR R4 spec §2.1.9.1): extension(), resolve(), memberOf() and friends.</summary>
internal static partial class Functions
{
    private static void RegisterFhir()
    {
        Add("extension", 1, 1, (env, input, outer, args) =>
        {
            var url = Values.SingleString(Arg(env, outer, args[0]), "extension");
            if (url is null) return Empty;
            List<FhirPathItem>? r = null;
            foreach (var it in input)
            {
                if (it.Node is not { } n) continue;
                foreach (var c in n.Children)
                    if (c.Name == "extension" && c.Child("url")?.Value == url) (r ??= []).Add(FhirPathItem.FromNode(c));
            }
            return r is null ? Empty : r;
        });
        Add("hasValue", 0, 0, (_, input, _, _) => Bool(input.Count == 1 && input[0].Node is { IsPrimitive: true, HasValue: true }));
        Add("getValue", 0, 0, (_, input, _, _) =>
            input.Count == 1 && input[0].Node is { IsPrimitive: true, HasValue: true } && input[0].Value is { } v ? One(v) : Empty);
        Add("resolve", 0, 0, (env, input, _, _) =>
        {
            List<FhirPathItem>? r = null;
            foreach (var it in input)
            {
                var reference = it.Node is { } n && !n.IsPrimitive ? n.Child("reference")?.Value : it.Value as string;
                if (reference is null) continue;
                var start = it.Node ?? env.Resource;
                if (Resolve(env, start, reference) is { } target) (r ??= []).Add(FhirPathItem.FromNode(target));
            }
            return r is null ? Empty : r;
        });
        Add("conformsTo", 1, 1, (env, input, outer, args) =>
        {
            var url = Values.SingleString(Arg(env, outer, args[0]), "conformsTo");
            var item = Values.Single(input, "conformsTo");
            if (url is null || item?.Node is not { } n) return Empty;
            const string core = "http://hl7.org/fhir/StructureDefinition/";
            if (url.StartsWith(core, StringComparison.Ordinal) && FhirDefinitions.R4.GetType(url[core.Length..]) is { } t)
                return Bool(n.Type is { } nt && FhirDefinitions.R4.IsSubtypeOf(nt, t.Name));
            if (env.Ctx.ConformsTo is { } cb) return Bool(cb(n, url));
            throw new FhirPathEvaluationException($"conformsTo(): no validator for '{url}'");
        });
        Add("memberOf", 1, 1, (env, input, outer, args) =>
        {
            var vs = Values.SingleString(Arg(env, outer, args[0]), "memberOf");
            var item = Values.Single(input, "memberOf");
            if (vs is null || item is null || env.Ctx.MemberOf is not { } cb) return Empty;
            foreach (var code in CodesOf(item))
            {
                var m = cb(code, vs);
                if (m == true) return TrueList;
                if (m is null) return Empty;
            }
            return FalseList;
        });
        Add("htmlChecks", 0, 0, (_, input, _, _) =>
        {
            var item = Values.Single(input, "htmlChecks");
            if (item is null) return Empty;
            var html = item.Node?.Value ?? item.Value as string;
            return Bool(html is not null && HtmlIsSafe(html));
        });
        Add("htmlchecks", 0, 0, (env, input, outer, args) => Table["htmlChecks"].Body(env, input, outer, args));
        // Profiles are not modelled yet: elementDefinition() and slice() find nothing (documented in README.md).
        Add("elementDefinition", 0, 0, (_, _, _, _) => Empty);
        Add("slice", 2, 2, (_, _, _, _) => Empty);
        Add("checkModifiers", 1, 1, (env, input, outer, args) =>
        {
            var allowed = Arg(env, outer, args[0]).Select(i => i.Value as string).ToHashSet();
            foreach (var it in input)
                if (it.Node is { } n)
                    foreach (var c in n.ChildrenNamed("modifierExtension"))
                        if (!allowed.Contains(c.Child("url")?.Value))
                            throw new FhirPathEvaluationException($"unknown modifier extension '{c.Child("url")?.Value}'");
            return input;
        });
        Add("getReferenceKey", 0, 1, (env, input, outer, args) =>
        {
            var type = args.Length > 0 ? TypeArgName(Arg(env, outer, args[0])) : null;
            var r = new List<FhirPathItem>();
            foreach (var it in input)
            {
                var reference = it.Node is { } n && !n.IsPrimitive ? n.Child("reference")?.Value : it.Value as string;
                if (reference is not null && ReferenceParts.TryParse(reference, out var t, out var id) && (type is null || type == t))
                    r.Add(FhirPathItem.FromValue(t + "/" + id));
            }
            return r;
        });
    }

    private static string? TypeArgName(IReadOnlyList<FhirPathItem> c) => c.Count == 1 ? c[0].Value as string : null;

    /// <summary>Codes of a code, Coding or CodeableConcept as "code" or "system|code".</summary>
    private static IEnumerable<string> CodesOf(FhirPathItem item)
    {
        if (item.Node is not { } n)
        {
            if (item.Value is string s) yield return s;
            yield break;
        }
        if (n.IsPrimitive)
        {
            if (n.Value is { } v) yield return v;
            yield break;
        }
        IEnumerable<ElementNode> codings = n.Type == "CodeableConcept" ? n.ChildrenNamed("coding") : [n];
        foreach (var c in codings)
        {
            var code = c.Child("code")?.Value;
            if (code is null) continue;
            var system = c.Child("system")?.Value;
            yield return system is null ? code : system + "|" + code;
        }
    }

    /// <summary>Finds a reference's target: contained resources, then the enclosing Bundle(s), then the caller's resolver.</summary>
    internal static ElementNode? Resolve(Env env, ElementNode? from, string reference)
    {
        var resource = from?.ContainingResource ?? env.Resource;
        if (reference.StartsWith('#'))
        {
            var id = reference[1..];
            // Contained resources live in the outermost DomainResource above the reference.
            for (var r = resource; r != null; r = r.Parent?.ContainingResource)
            {
                if (id.Length == 0 && r.Parent?.Name != "contained") return r;
                foreach (var c in r.ChildrenNamed("contained"))
                    if (c.ResourceId == id) return c;
            }
            return null;
        }
        for (var r = resource; r != null; r = r.Parent?.ContainingResource)
        {
            if (r.Type != "Bundle") continue;
            var fullUrlBase = r == resource ? null : FullUrlOf(resource);
            foreach (var entry in r.ChildrenNamed("entry"))
            {
                var fullUrl = entry.Child("fullUrl")?.Value;
                var res = entry.Child("resource");
                if (res is null) continue;
                if (fullUrl == reference) return res;
                if (Matches(res, reference, fullUrlBase ?? fullUrl)) return res;
            }
        }
        return env.Ctx.Resolver?.Invoke(reference);
    }

    private static string? FullUrlOf(ElementNode? resource) =>
        resource?.Parent is { Name: "resource" } p && p.Parent is { Name: "entry" } e ? e.Child("fullUrl")?.Value : null;

    private static bool Matches(ElementNode res, string reference, string? contextUrl)
    {
        var typeId = res.Type + "/" + res.ResourceId;
        if (reference == typeId) return true;
        if (reference.EndsWith("/" + typeId, StringComparison.Ordinal)) return contextUrl is null || contextUrl == reference;
        return reference.Contains("/_history/") && reference.StartsWith(typeId + "/_history/", StringComparison.Ordinal);
    }

    private static readonly HashSet<string> AllowedHtml =
    [
        "div", "p", "br", "span", "b", "i", "em", "strong", "small", "big", "tt", "sub", "sup", "u", "a", "img", "table", "thead",
        "tbody", "tfoot", "tr", "td", "th", "caption", "colgroup", "col", "ul", "ol", "li", "dl", "dt", "dd", "h1", "h2", "h3", "h4",
        "h5", "h6", "pre", "code", "blockquote", "hr", "cite", "q", "abbr", "acronym", "address", "bdo", "del", "dfn", "ins", "kbd",
        "samp", "var", "map", "area",
    ];

    /// <summary>The narrative rules of FHIR (txt-1/txt-2): well-formed XHTML, no scripts, forms, event handlers or active content.</summary>
    private static bool HtmlIsSafe(string html)
    {
        try
        {
            var settings = new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null };
            using var reader = XmlReader.Create(new StringReader(html), settings);
            var hasContent = false;
            while (reader.Read())
            {
                if (reader.NodeType == XmlNodeType.Text && reader.Value.Trim().Length > 0) hasContent = true;
                if (reader.NodeType != XmlNodeType.Element) continue;
                if (!AllowedHtml.Contains(reader.LocalName)) return false;
                if (reader.LocalName == "img") hasContent = true;
                if (!reader.MoveToFirstAttribute()) continue;
                do
                {
                    var name = reader.LocalName;
                    if (name.StartsWith("on", StringComparison.OrdinalIgnoreCase)) return false;
                    if (name is "href" or "src" && reader.Value.TrimStart().StartsWith("javascript:", StringComparison.OrdinalIgnoreCase)) return false;
                } while (reader.MoveToNextAttribute());
            }
            return hasContent;
        }
        catch (XmlException)
        {
            return false;
        }
    }
}

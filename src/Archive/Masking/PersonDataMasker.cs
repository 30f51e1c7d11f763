using System.Text;
using FhirArchive.Archive.Records;
using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;
using FhirArchive.Fhir.Serialization.Json;

namespace FhirArchive.Archive.Masking;

/// <summary>What masking did to a resource: values masked, content withheld (it could not be masked).</summary>
public readonly record struct MaskResult(bool Masked, bool Withheld)
{
    public bool Changed => Masked || Withheld;
    public MaskResult With(MaskResult other) => new(Masked || other.Masked, Withheld || other.Withheld);
}

/// <summary>
/// Masks the identifying values of a resource in place, by their data types, so that no element is forgotten:
/// <list type="bullet">
/// <item>in a person's resource (Patient, RelatedPerson, Person — top-level, contained, a Bundle's or Parameters' entry):
/// every Identifier (ID card numbers as <see cref="Masks.IdCard"/>, the rest <see cref="Masks.Identifier"/>), every
/// ContactPoint (phones as <see cref="Masks.Phone"/>), every Address (lines and postal code hidden, the text cut to the county), photos
/// removed, the narrative removed (it may repeat any of these), and for the de-identified view every HumanName, and for it and the oversight view the
/// birth date's month and day;</item>
/// <item>in every resource: a Reference's identifier (a logical reference by ID card number), and ID card and mobile
/// numbers written in any text (<see cref="Masks.FreeText"/>: narratives, notes, displays);</item>
/// <item>a Binary's content and an Attachment's inline data (a document's content, an observation's value, a message's
/// payload): FHIR JSON masked as a resource; other text masked as free text; opaque content (PDF, images) cannot be
/// masked and is withheld (its data removed); content unknown to R4 (kept verbatim) that may hold either is withheld whole.</item>
/// </list>
/// </summary>
public static class PersonDataMasker
{
    public static readonly IReadOnlySet<string> PersonTypes = new HashSet<string> { "Patient", "RelatedPerson", "Person" };

    /// <summary>
    /// Masks <paramref name="resource"/> for <paramref name="view"/> (nothing for <see cref="MaskView.Full"/>); identifiers
    /// of the systems in <paramref name="ownSystems"/> (the caller's institution's own numbers) are kept.
    /// </summary>
    public static MaskResult Mask(ElementNode resource, MaskView view, IReadOnlySet<string>? ownSystems = null)
    {
        if (view == MaskView.Full) return default;
        var masked = false;
        var result = Walk(resource, PersonTypes.Contains(resource.Type ?? ""), view, ownSystems ?? NoSystems, ref masked);
        return result.With(new MaskResult(masked, false));
    }

    private static readonly IReadOnlySet<string> NoSystems = new HashSet<string>();

    /// <summary>The identifier systems a resource's Identifiers name (to look up whose they are before masking).</summary>
    public static IEnumerable<string> IdentifierSystems(ElementNode resource) =>
        resource.Descendants().Where(n => n.Type == "Identifier").Select(n => n.Child("system")?.Value).OfType<string>().Distinct();


    /// <summary>
    /// Whether a stored resource can hold anything to mask, read from its bytes without parsing: a person's resource,
    /// a Binary, nested resources, a Reference by identifier, inline data (an Attachment's), or what may be a phone or ID card number (<see cref="Masks.MayHoldNumber(ReadOnlySpan{byte})"/>).
    /// </summary>
    public static bool MayHold(string type, ReadOnlySpan<byte> json) =>
        PersonTypes.Contains(type) || type is "Binary" or "Bundle" or "Parameters"
        || json.IndexOf("\"contained\""u8) >= 0 || json.IndexOf("\"identifier\":{"u8) >= 0 || json.IndexOf("\"data\":"u8) >= 0
        || Masks.MayHoldNumber(json);

    private static MaskResult Walk(ElementNode node, bool person, MaskView view, IReadOnlySet<string> own, ref bool masked)
    {
        var result = default(MaskResult);
        if (node.IsResource && node.Type == "Binary") result = result.With(MaskContent(node, view));
        foreach (var child in node.Children.ToList())
        {
            if (child.IsResource)
            {
                result = result.With(Walk(child, PersonTypes.Contains(child.Type ?? ""), view, own, ref masked));
                continue;
            }
            if (person && node.IsResource && child.Name == "text")
            {
                masked |= node.Remove(child);
                continue;
            }
            // De-identified and oversight views: the birth date told as its year only (GB/T 37964's generalisation; with
            // the month and day it would restore the 8 digits the ID card mask hides).
            if (person && node.IsResource && child.Name == "birthDate" && view is MaskView.MaskedBirthYear or MaskView.Deidentified
                && child.Value is { Length: > 4 } born)
            {
                child.Value = born[..4];
                masked = true;
                continue;
            }
            if (person && node.IsResource && child.Name == "photo")
            {
                masked |= node.Remove(child);
                continue;
            }
            // Content the server does not know, kept verbatim by the lenient parser (an Observation.valueAttachment
            // written as R5 has it: R4's Observation.value[x] has no Attachment), cannot be masked by its type: it is
            // withheld whenever it may hold inline data or a number.
            if (child.RawJson is { } raw)
            {
                if (raw.Contains("\"data\"", StringComparison.Ordinal) || Masks.MayHoldNumber(raw))
                {
                    node.Remove(child);
                    result = result.With(new MaskResult(false, true));
                }
                continue;
            }
            // An Attachment, wherever it is (valueAttachment of a choice or an extension too): its inline data as a Binary's.
            switch (child.Type)
            {
                case "Attachment":
                    result = result.With(MaskContent(child, view));
                    masked |= MaskText(child.Child("title"));
                    break;
                case "Identifier" when person:
                    if (!own.Contains(child.Child("system")?.Value ?? "")) masked |= MaskIdentifier(child);
                    break;
                case "ContactPoint" when person:
                    masked |= MaskContactPoint(child);
                    break;
                case "Address" when person:
                    masked |= MaskAddress(child);
                    break;
                case "HumanName" when person && view == MaskView.Deidentified:
                    masked |= MaskName(child);
                    break;
                case "Reference" when child.Child("identifier") is { } identifier:
                    if (!own.Contains(identifier.Child("system")?.Value ?? "")) masked |= MaskIdentifier(identifier);
                    masked |= MaskText(child.Child("display"));
                    break;
                case var _ when !child.IsPrimitive:
                    result = result.With(Walk(child, person, view, own, ref masked));
                    continue;
                default:
                    masked |= MaskText(child);
                    break;
            }
            // What was masked by its type above keeps its extensions (a primitive's too: "_status"), which may hold
            // anything, an Attachment or a number in text included: they are walked as any element.
            result = result.With(WalkExtensions(child, person, view, own, ref masked));
        }
        return result;
    }

    private static MaskResult WalkExtensions(ElementNode node, bool person, MaskView view, IReadOnlySet<string> own, ref bool masked)
    {
        var result = default(MaskResult);
        foreach (var extension in node.Children.ToList())
            if (extension.Name is "extension" or "modifierExtension")
                result = result.With(Walk(extension, person, view, own, ref masked));
        return result;
    }

    private static bool MaskIdentifier(ElementNode identifier)
    {
        if (identifier.Child("value") is not { Value: { Length: > 0 } value } v) return false;
        v.Value = IdentityKeys.IsIdCardSystem(identifier.Child("system")?.Value) ? Masks.IdCard(value) : Masks.Identifier(value);
        return v.Value != value;
    }

    private static bool MaskContactPoint(ElementNode contact)
    {
        if (contact.Child("value") is not { Value: { Length: > 0 } value } v) return false;
        v.Value = contact.Child("system")?.Value is "phone" or "sms" or "fax" or "pager" ? Masks.Phone(value) : Masks.Identifier(value);
        return v.Value != value;
    }

    private static bool MaskAddress(ElementNode address)
    {
        var changed = false;
        foreach (var line in address.ChildrenNamed("line"))
            if (line.Value is { Length: > 0 } value)
            {
                line.Value = Masks.AddressLine(value);
                changed = true;
            }
        // A division code below the county (a 9-digit township code) is told as its county; its name goes.
        foreach (var extension in address.ChildrenNamed("extension").Where(e => e.Child("url")?.Value == PatientLinks.DivisionExtension))
            if (extension.Child("value") is { } coding && coding.Child("code") is { Value: { Length: > 6 } code } c)
            {
                c.Value = code[..6];
                if (coding.Child("display") is { } display) coding.Remove(display);
                changed = true;
            }
        // A postal code names an area below the county: it goes.
        if (address.Child("postalCode") is { } postalCode) changed |= address.Remove(postalCode);
        if (address.Child("text") is { Value: { Length: > 0 } } text)
        {
            // The text is the whole address: it is told down to the county only.
            var county = string.Concat(new[] { "state", "city", "district" }.Select(n => address.Child(n)?.Value));
            text.Value = county + Masks.AddressLine("x");
            changed = true;
        }
        return changed;
    }

    private static bool MaskName(ElementNode name)
    {
        var changed = false;
        if (name.Child("text") is { Value: { Length: > 0 } text } t) { t.Value = Masks.Name(text); changed = true; }
        foreach (var given in name.ChildrenNamed("given"))
            if (given.Value is { Length: > 0 } g) { given.Value = Masks.Keep(g, 0, 0); changed = true; }
        return changed;
    }

    /// <summary>Primitives that are no text: a number's digits (a decimal's 0.13812345678) or base64 are never a phone number written by someone.</summary>
    private static readonly HashSet<string> NotText = ["base64Binary", "decimal", "integer", "integer64", "positiveInt", "unsignedInt", "boolean"];

    private static bool MaskText(ElementNode? node)
    {
        if (node?.Value is not { Length: >= 11 } value || NotText.Contains(node.Type ?? "")) return false;
        var masked = Masks.FreeText(value);
        if (masked == value) return false;
        node.Value = masked;
        return true;
    }

    private static readonly HashSet<string> FhirJsonTypes = ["application/fhir+json", "application/json+fhir", "application/json"];

    /// <summary>
    /// Inline content (a Binary, an Attachment's data: its contentType beside it): FHIR JSON masked as a resource,
    /// other text as free text, anything else withheld (its data removed).
    /// </summary>
    private static MaskResult MaskContent(ElementNode binary, MaskView view)
    {
        if (binary.Child("data") is not { Value: { Length: > 0 } data } dataNode) return default;
        var contentType = (binary.Child("contentType")?.Value ?? "").Split(';')[0].Trim().ToLowerInvariant();
        byte[] bytes;
        try { bytes = Convert.FromBase64String(data); }
        catch (FormatException) { return Withhold(binary, dataNode); }
        if (FhirJsonTypes.Contains(contentType))
        {
            ElementNode content;
            try { content = FhirFormats.ParseStored(bytes); }
            catch (Exception e) when (e is not OperationCanceledException) { return Withhold(binary, dataNode); }
            var r = Mask(content, view);
            if (!r.Changed) return default;
            dataNode.Value = Convert.ToBase64String(FhirJsonSerializer.SerializeToUtf8Bytes(content));
            return r;
        }
        if (contentType.StartsWith("text/", StringComparison.Ordinal) || contentType.EndsWith("xml", StringComparison.Ordinal) || contentType.EndsWith("json", StringComparison.Ordinal))
        {
            var text = Encoding.UTF8.GetString(bytes);
            var masked = Masks.FreeText(text);
            if (masked == text) return default;
            dataNode.Value = Convert.ToBase64String(Encoding.UTF8.GetBytes(masked));
            return new MaskResult(true, false);
        }
        return Withhold(binary, dataNode);
    }

    private static MaskResult Withhold(ElementNode binary, ElementNode data)
    {
        binary.Remove(data);
        return new MaskResult(false, true);
    }
}

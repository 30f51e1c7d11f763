using System.Globalization;
using System.Text.RegularExpressions;
using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Outcomes;

namespace FhirArchive.Fhir.Validation.Questionnaires;

/// <summary>
/// One answer checked against its questionnaire item: the value type the item type calls for, answerOption and
/// answerValueSet, and the core extensions that constrain values (minValue/maxValue, minLength/maxLength, regex,
/// maxDecimalPlaces, mimeType/maxSize, referenceResource, unitOption/unitValueSet, SDC min/maxQuantity).
/// </summary>
internal sealed class AnswerCheck(ElementNode qItem, Func<string, string?, string, bool?>? inValueSet, Action<IssueSeverity, string, string, string> add)
{
    private const string Core = "http://hl7.org/fhir/StructureDefinition/";
    private const string Sdc = "http://hl7.org/fhir/uv/sdc/StructureDefinition/";

    /// <summary>The value types an R4 item type takes (choice answers may also take the answerOption value types).</summary>
    private static string[] TypesFor(string itemType) => itemType switch
    {
        "boolean" => ["boolean"],
        "decimal" => ["decimal"],
        "integer" => ["integer"],
        "date" => ["date"],
        "dateTime" => ["dateTime"],
        "time" => ["time"],
        "string" or "text" => ["string"],
        "url" => ["uri"],
        "choice" => ["Coding", "integer", "date", "time", "string"],
        "open-choice" => ["Coding", "string", "integer", "date", "time"],
        "attachment" => ["Attachment"],
        "reference" => ["Reference"],
        "quantity" => ["Quantity"],
        _ => [],
    };

    public void Check(ElementNode answer, int answerCount)
    {
        if (answer.Child("value") is not { } value || value.Type is not { } valueType) return;
        var itemType = qItem.Child("type")?.Value ?? "";
        var allowed = TypesFor(itemType);
        if (allowed.Length > 0 && !allowed.Contains(valueType))
        {
            add(IssueSeverity.Error, "structure", $"Answer value must be of the type {allowed[0]} not {valueType}", value.Location);
            return;
        }
        Options(value, valueType, itemType, answerCount);
        switch (valueType)
        {
            case "integer" or "decimal":
                Range(value, (a, b) => Number(a) is { } x && Number(b) is { } y ? x.CompareTo(y) : null);
                if (valueType == "decimal" && ExtensionValue(Core + "maxDecimalPlaces") is { Value: { } places } && int.TryParse(places, out var limit)
                    && value.Value is { } dec && dec.Contains('.') && dec.Length - dec.IndexOf('.') - 1 > limit)
                    add(IssueSeverity.Error, "value", $"The value {dec} has too many decimal places (limit = {limit})", value.Location);
                break;
            case "date" or "dateTime" or "time":
                Range(value, (a, b) => string.CompareOrdinal(a, b));
                break;
            case "string":
                Text(value);
                break;
            case "Attachment":
                Attachment(value);
                break;
            case "Reference":
                Reference(value);
                break;
            case "Quantity":
                Quantity(value);
                break;
        }
    }

    /// <summary>The answer must be one of the options (open-choice admits free text); exclusive options stand alone.</summary>
    private void Options(ElementNode value, string valueType, string itemType, int answerCount)
    {
        var options = qItem.ChildrenNamed("answerOption").Select(o => (Option: o, Value: o.Child("value"))).Where(o => o.Value?.Type == valueType).ToList();
        if (options.Count > 0)
        {
            var match = options.FirstOrDefault(o => SameValue(o.Value!, value));
            if (match.Option is null)
            {
                if (itemType != "open-choice")
                    add(IssueSeverity.Error, "code-invalid", $"The {valueType} {Show(value)} is not in the set of permitted values", value.Location);
            }
            else if (answerCount > 1 && match.Option.ChildrenNamed("extension").Any(e => e.Child("url")?.Value == Core + "questionnaire-optionExclusive" && e.Child("value")?.Value == "true"))
                add(IssueSeverity.Error, "structure", $"Selected answer {Show(value)} is an exclusive option: nothing else can be selected with it", value.Location);
            return;
        }
        if (valueType == "Coding" && itemType == "choice" && qItem.Child("answerValueSet")?.Value is { } vs && inValueSet is not null
            && value.Child("code")?.Value is { } code && value.Child("system")?.Value is { } system
            && !vs.StartsWith('#') && inValueSet(vs, system, code) == false)
            add(IssueSeverity.Error, "code-invalid", $"The code {system}#{code} is not in the options value set {vs}", value.Location);
    }

    private static bool SameValue(ElementNode option, ElementNode value) => value.Type == "Coding"
        ? option.Child("code")?.Value == value.Child("code")?.Value && option.Child("system")?.Value == value.Child("system")?.Value
        : option.Value == value.Value;

    private static string Show(ElementNode value) => value.Type == "Coding" ? $"{value.Child("system")?.Value}#{value.Child("code")?.Value}" : value.Value ?? "";

    /// <summary>minValue/maxValue: numbers compared as numbers, dates and times by their (same-format) text.</summary>
    private void Range(ElementNode value, Func<string, string, int?> compare)
    {
        if (value.Value is not { } actual) return;
        if (ExtensionValue(Core + "minValue") is { Value: { } lo } min && Comparable(value, min) && compare(actual, lo) < 0)
            add(IssueSeverity.Error, "value", $"The value {value.Value} is less than the allowed minimum of {min.Value}", value.Location);
        if (ExtensionValue(Core + "maxValue") is { Value: { } hi } max && Comparable(value, max) && compare(actual, hi) > 0)
            add(IssueSeverity.Error, "value", $"The value {value.Value} is greater than the allowed maximum of {max.Value}", value.Location);
    }

    // Numbers compare across integer and decimal; dates and times only with the same type.
    private static bool Comparable(ElementNode value, ElementNode limit) =>
        value.Type == limit.Type || value.Type is "integer" or "decimal" && limit.Type is "integer" or "decimal";

    private static decimal? Number(string? text) =>
        decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : null;

    private void Text(ElementNode value)
    {
        var text = value.Value ?? "";
        if (ExtensionValue(Core + "minLength") is { Value: { } minText } && int.TryParse(minText, out var min) && text.Length < min)
            add(IssueSeverity.Error, "value", $"The answer '{text}' is shorter than the required minimum length of {min}", value.Location);
        if (qItem.Child("maxLength")?.Value is { } maxText && int.TryParse(maxText, out var max) && text.Length > max)
            add(IssueSeverity.Error, "value", $"The answer '{text}' is longer than the allowed maximum length of {max}", value.Location);
        if (ExtensionValue(Core + "regex") is { Value: { } pattern })
        {
            bool? matches;
            try { matches = Regex.IsMatch(text, $"^(?:{pattern})$", RegexOptions.None, TimeSpan.FromSeconds(1)); }
            catch (Exception e) when (e is ArgumentException or RegexMatchTimeoutException) { matches = null; }
            if (matches == false)
                add(IssueSeverity.Error, "value", $"The answer '{text}' does not match the expected format (regex '{pattern}')", value.Location);
        }
    }

    private void Attachment(ElementNode value)
    {
        // A stated size that contradicts the data is reported for every Attachment by the instance validator.
        var actual = AttachmentSize.OfData(value);
        var stated = long.TryParse(value.Child("size")?.Value, out var s) ? s : (long?)null;
        if (ExtensionValue(Core + "maxSize") is { Value: { } maxText } && Number(maxText) is { } max && (actual ?? stated) is { } size && size > max)
            add(IssueSeverity.Error, "value", $"The attachment is too large (allowed = {maxText}, found = {size})", value.Location);
        var mimeTypes = Extensions(Core + "mimeType").Select(e => e.Value).OfType<string>().ToList();
        if (mimeTypes.Count > 0 && value.Child("contentType")?.Value is { } contentType && !mimeTypes.Contains(contentType))
            add(IssueSeverity.Error, "value", $"The mime type {contentType} is not allowed for this answer (allowed = {string.Join(", ", mimeTypes)})", value.Location);
    }

    private void Reference(ElementNode value)
    {
        if (value.Child("reference")?.Value is not { } reference || reference.StartsWith('#') || reference.StartsWith("urn:", StringComparison.Ordinal)) return;
        if (!ReferenceParts.TryParse(reference, out var type, out _) || reference.Any(char.IsWhiteSpace))
        {
            add(IssueSeverity.Error, "value", $"The reference '{reference}' is not a valid reference", value.Location);
            return;
        }
        if (!Definitions.FhirDefinitions.R4.IsResourceType(type))
        {
            add(IssueSeverity.Error, "value", $"The resource type {type} in the reference {reference} is not a resource type", value.Location);
            return;
        }
        var allowed = Extensions(Core + "questionnaire-referenceResource").Select(e => e.Value).OfType<string>().ToList();
        if (allowed.Count > 0 && !allowed.Contains(type) && !allowed.Contains("Resource"))
            add(IssueSeverity.Error, "value", $"The resource type '{type}' in the reference {reference} is not allowed (allowed = {string.Join(", ", allowed)})", value.Location);
    }

    private void Quantity(ElementNode value)
    {
        var system = value.Child("system")?.Value;
        var code = value.Child("code")?.Value;
        var units = Extensions(Core + "questionnaire-unitOption").Where(e => e.Type == "Coding").ToList();
        if (units.Count > 0 && !units.Any(u => u.Child("system")?.Value == system && u.Child("code")?.Value == code))
            add(IssueSeverity.Error, "value", $"The unit {system}#{code} is not one of the unit options", value.Location);
        if (ExtensionValue(Core + "questionnaire-unitValueSet")?.Value is { } unitSet && inValueSet is not null && system is not null && code is not null
            && inValueSet(unitSet, system, code) == false)
            add(IssueSeverity.Error, "value", $"The unit {system}#{code} is not in the unit value set {unitSet}", value.Location);
        if (Number(value.Child("value")?.Value) is not { } amount) return;
        foreach (var (url, sign, word) in new[] { (Sdc + "sdc-questionnaire-minQuantity", -1, "less than the allowed minimum"), (Sdc + "sdc-questionnaire-maxQuantity", 1, "greater than the allowed maximum") })
        {
            if (ExtensionValue(url) is not { Type: "Quantity" } limit || Number(limit.Child("value")?.Value) is not { } limitAmount) continue;
            var limitCode = limit.Child("code")?.Value;
            if (code is null || limitCode is null || system != limit.Child("system")?.Value)
            {
                add(IssueSeverity.Error, "value", $"The quantity {amount} {code} cannot be compared with the limit {limitAmount} {limitCode}: no common formal units", value.Location);
                continue;
            }
            if (Ucum.Convert(amount, code, limitCode) is not { } converted)
            {
                add(IssueSeverity.Error, "value", $"The quantity {amount} {code} cannot be compared with the limit {limitAmount} {limitCode}", value.Location);
                continue;
            }
            if (Math.Sign(converted.CompareTo(limitAmount)) == sign)
                add(IssueSeverity.Error, "value", $"The quantity {amount} {code} is {word} of {limitAmount} {limitCode}", value.Location);
        }
    }

    /// <summary>minOccurs/maxOccurs (answers over all responses to the item); maxOccurs "*" is no limit.</summary>
    public static (int? Min, int? Max)? Occurs(ElementNode qItem)
    {
        int? Read(string url) => qItem.ChildrenNamed("extension").FirstOrDefault(e => e.Child("url")?.Value == url)?.Child("value")?.Value is { } v
            && int.TryParse(v, out var n) ? n : null;
        var min = Read(Core + "questionnaire-minOccurs");
        var max = Read(Core + "questionnaire-maxOccurs");
        return min is null && max is null ? null : (min, max);
    }

    private IEnumerable<ElementNode> Extensions(string url) =>
        qItem.ChildrenNamed("extension").Where(e => e.Child("url")?.Value == url).Select(e => e.Child("value")).OfType<ElementNode>();

    private ElementNode? ExtensionValue(string url) => Extensions(url).FirstOrDefault();
}

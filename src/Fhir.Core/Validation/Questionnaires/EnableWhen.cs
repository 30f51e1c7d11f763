using System.Globalization;
using FhirArchive.Fhir.Model;

namespace FhirArchive.Fhir.Validation.Questionnaires;

/// <summary>
/// Evaluates an item's enableWhen conditions on a response: true (enabled), false (disabled), or null when the
/// conditions cannot be judged here (an operator or answer type we cannot compare), which raises no issue.
/// The question's answers are looked up nearest first: inside the same group, then further out.
/// </summary>
internal sealed class EnableWhen(ElementNode response)
{
    public bool? IsEnabled(ElementNode qItem, ElementNode holder)
    {
        var conditions = qItem.ChildrenNamed("enableWhen").ToList();
        if (conditions.Count == 0) return true;
        var any = qItem.Child("enableBehavior")?.Value == "any";
        var results = conditions.Select(c => Condition(c, holder)).ToList();
        if (any) return results.Any(r => r == true) ? true : results.Any(r => r is null) ? null : false;
        return results.Any(r => r == false) ? false : results.Any(r => r is null) ? null : true;
    }

    private bool? Condition(ElementNode condition, ElementNode holder)
    {
        var question = condition.Child("question")?.Value;
        var op = condition.Child("operator")?.Value;
        var expected = condition.Child("answer");
        if (question is null || op is null || expected is null) return null;
        var answers = AnswersTo(question, holder);
        if (op == "exists") return expected.Value == "true" ? answers.Count > 0 : expected.Value == "false" ? answers.Count == 0 : null;
        if (answers.Count == 0) return op == "!=" ? null : false;
        bool? result = false;
        foreach (var answer in answers)
        {
            var r = Compare(answer, expected, op);
            if (r == true) return true;
            if (r is null) result = null;
        }
        return result;
    }

    private static bool? Compare(ElementNode actual, ElementNode expected, string op)
    {
        if (actual.Type == "Coding" && expected.Type == "Coding")
        {
            var same = actual.Child("code")?.Value == expected.Child("code")?.Value
                && (expected.Child("system")?.Value is not { } s || actual.Child("system")?.Value == s);
            return op switch { "=" => same, "!=" => !same, _ => null };
        }
        int? order = null;
        if (actual.Type is "integer" or "decimal" && expected.Type is "integer" or "decimal")
        {
            if (!decimal.TryParse(actual.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var a)
                || !decimal.TryParse(expected.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var e)) return null;
            order = a.CompareTo(e);
        }
        else if (actual.Type == expected.Type && actual.Type is "boolean" or "string" or "date" or "dateTime" or "time" or "uri")
        {
            if (actual.Value is null || expected.Value is null) return null;
            order = string.CompareOrdinal(actual.Value, expected.Value);
            // Dates of different precision cannot be ordered (2020 vs 2020-05): only equality by text is sure.
            if (actual.Type is "date" or "dateTime" && actual.Value.Length != expected.Value.Length && op is not ("=" or "!=")) return null;
        }
        if (order is not { } o) return null;
        return op switch
        {
            "=" => o == 0,
            "!=" => o != 0,
            ">" => o > 0,
            "<" => o < 0,
            ">=" => o >= 0,
            "<=" => o <= 0,
            _ => null,
        };
    }

    private List<ElementNode> AnswersTo(string linkId, ElementNode holder)
    {
        for (ElementNode? scope = holder; scope is not null; scope = scope.Parent)
        {
            var found = scope.Descendants()
                .Where(n => n.Name == "item" && n.Child("linkId")?.Value == linkId && ReferenceEquals(n.ContainingResource, response))
                .SelectMany(i => i.ChildrenNamed("answer"))
                .Select(a => a.Child("value")).OfType<ElementNode>().ToList();
            if (found.Count > 0 || ReferenceEquals(scope, response)) return found;
        }
        return [];
    }
}

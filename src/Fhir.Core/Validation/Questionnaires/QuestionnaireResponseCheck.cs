using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Outcomes;

namespace FhirArchive.Fhir.Validation.Questionnaires;

/// <summary>
/// A QuestionnaireResponse checked against the Questionnaire it answers (R4 rules): every linkId exists at its
/// level, answers only on questions, answer types that fit the item type, one answer unless the item repeats,
/// required items answered (once the response is no longer in progress), answers to disabled items (enableWhen),
/// and the value constraints of <see cref="AnswerCheck"/>. A questionnaire that cannot be found is not an error.
/// </summary>
internal sealed class QuestionnaireResponseCheck
{
    private readonly ElementNode _response;
    private readonly Func<string, string?, string, bool?>? _inValueSet;
    private readonly Action<IssueSeverity, string, string, string> _add;
    private readonly EnableWhen _enableWhen;
    private readonly bool _inProgress;

    private QuestionnaireResponseCheck(ElementNode response, Func<string, string?, string, bool?>? inValueSet, Action<IssueSeverity, string, string, string> add)
    {
        _response = response;
        _inValueSet = inValueSet;
        _add = add;
        _enableWhen = new EnableWhen(response);
        _inProgress = response.Child("status")?.Value is "in-progress" or "stopped";
    }

    public static void Check(ElementNode response, Func<string, ElementNode?>? resolve, Func<string, string?, string, bool?>? inValueSet,
        Action<IssueSeverity, string, string, string> add)
    {
        if (Find(response, resolve) is not { } questionnaire) return;
        new QuestionnaireResponseCheck(response, inValueSet, add).Items(response, questionnaire);
    }

    /// <summary>The questionnaire named by the response: a contained one ("#q") or one the caller resolves by canonical URL.</summary>
    private static ElementNode? Find(ElementNode response, Func<string, ElementNode?>? resolve)
    {
        if (response.Child("questionnaire")?.Value is not { } canonical) return null;
        if (canonical.StartsWith('#'))
            return response.ChildrenNamed("contained").FirstOrDefault(c => c.Type == "Questionnaire" && c.ResourceId == canonical[1..]);
        var found = resolve?.Invoke(canonical) ?? (canonical.Contains('|') ? resolve?.Invoke(canonical[..canonical.IndexOf('|')]) : null);
        return found?.Type == "Questionnaire" ? found : null;
    }

    /// <summary>The response items under <paramref name="holder"/> against the questionnaire items under <paramref name="qHolder"/>.</summary>
    private void Items(ElementNode holder, ElementNode qHolder)
    {
        var qItems = qHolder.ChildrenNamed("item").ToList();
        var byLinkId = new Dictionary<string, List<ElementNode>>(StringComparer.Ordinal);
        foreach (var item in holder.ChildrenNamed("item"))
        {
            var linkId = item.Child("linkId")?.Value ?? "";
            var qItem = qItems.FirstOrDefault(q => q.Child("linkId")?.Value == linkId);
            if (qItem is null)
            {
                _add(IssueSeverity.Error, "structure", $"LinkId '{linkId}' not found in questionnaire", item.Location);
                continue;
            }
            if (!byLinkId.TryGetValue(linkId, out var list)) byLinkId[linkId] = list = [];
            list.Add(item);
            Item(item, qItem);
        }

        foreach (var qItem in qItems)
        {
            var linkId = qItem.Child("linkId")?.Value ?? "";
            var found = byLinkId.GetValueOrDefault(linkId) ?? [];
            var isGroup = qItem.Child("type")?.Value == "group";
            if (found.Count > 1 && !(isGroup && Flag(qItem, "repeats")))
                _add(IssueSeverity.Error, "structure", $"Only one response item with the linkId '{linkId}' is allowed", found[1].Location);
            var enabled = _enableWhen.IsEnabled(qItem, holder);
            var answered = found.Any(i => isGroup ? i.ChildrenNamed("item").Any() : i.ChildrenNamed("answer").Any());
            if (enabled == true && Flag(qItem, "required") && !answered && !_inProgress)
                _add(IssueSeverity.Error, "required", isGroup ? $"No sub-items found for required group '{linkId}'" : $"No response answer found for required item '{linkId}'",
                    found.Count > 0 ? found[0].Location : holder.Location);
            if (enabled == false && found.Any(i => i.ChildrenNamed("answer").Any() || i.ChildrenNamed("item").Any()))
                _add(IssueSeverity.Error, "structure", $"Item has answer, even though it is not enabled (item id = '{linkId}')", found[0].Location);
            if (!isGroup && AnswerCheck.Occurs(qItem) is var (min, max))
            {
                var count = found.Sum(i => i.ChildrenNamed("answer").Count());
                if (min is { } lo && count < lo && !_inProgress && enabled != false)
                    _add(IssueSeverity.Error, "required", $"The minimum number of answers is {lo} but this has {count} answers", found.Count > 0 ? found[0].Location : holder.Location);
                if (max is { } hi && count > hi)
                    _add(IssueSeverity.Error, "structure", $"The maximum number of answers is {hi} but this has {count} answers", found[0].Location);
            }
        }
    }

    private void Item(ElementNode item, ElementNode qItem)
    {
        var type = qItem.Child("type")?.Value;
        var answers = item.ChildrenNamed("answer").ToList();
        if (type is "group" or "display" or "question" && answers.Count > 0)
            _add(IssueSeverity.Error, "structure", $"Items of type '{type}' cannot have answers", item.Location);
        else if (answers.Count > 1 && !Flag(qItem, "repeats"))
            _add(IssueSeverity.Error, "structure", $"Only one answer is allowed for the item '{item.Child("linkId")?.Value}': it does not repeat", item.Location);

        var answerCheck = new AnswerCheck(qItem, _inValueSet, _add);
        foreach (var answer in answers)
        {
            if (type is not ("group" or "display" or "question")) answerCheck.Check(answer, answers.Count);
            if (answer.ChildrenNamed("item").Any()) Items(answer, qItem);
        }
        if (item.ChildrenNamed("item").Any()) Items(item, qItem);
    }

    internal static bool Flag(ElementNode node, string name) => node.Child(name)?.Value == "true";
}

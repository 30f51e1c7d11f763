using FhirArchive.Fhir.Model;

namespace FhirArchive.Fhir.Outcomes;

/// <summary>Builds OperationOutcome resources from issues.</summary>
public static class OperationOutcomes
{
    public static ElementNode Create(IEnumerable<FhirIssue> issues)
    {
        var oo = ElementNode.CreateResource("OperationOutcome");
        var any = false;
        foreach (var i in issues)
        {
            any = true;
            var issue = oo.Add("issue");
            issue.Add("severity", FhirIssue.SeverityCode(i.Severity));
            issue.Add("code", i.Code);
            issue.Add("diagnostics", i.Message);
            if (i.Location is not null) issue.Add("expression", i.Location);
        }
        if (!any)
        {
            var issue = oo.Add("issue");
            issue.Add("severity", "information");
            issue.Add("code", "informational");
            issue.Add("diagnostics", "All OK");
        }
        return oo;
    }

    public static ElementNode Create(IssueSeverity severity, string code, string message, string? location = null) =>
        Create([new FhirIssue(severity, code, message, location)]);
}

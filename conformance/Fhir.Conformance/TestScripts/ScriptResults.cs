namespace FhirArchive.Conformance.TestScripts;

/// <summary>One HTTP exchange of an operation, kept for the reports (a failure shows its request and response).</summary>
public sealed record HttpExchange(
    string Method, string Url, IReadOnlyList<KeyValuePair<string, string>> RequestHeaders, string? RequestBody,
    int Status, string Reason, IReadOnlyList<KeyValuePair<string, string>> ResponseHeaders, string ResponseBody)
{
    /// <summary>The first value of a response header, case-insensitive.</summary>
    public string? Header(string name) => ResponseHeaders.FirstOrDefault(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Value;

    public string? RequestHeader(string name) => RequestHeaders.FirstOrDefault(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Value;
}

/// <summary>TestReport action result codes (R4 report-action-result-codes).</summary>
public enum ActionOutcome { Pass, Skip, Fail, Warning, Error }

public sealed record ActionResult(string Kind, string Label, ActionOutcome Outcome, string? Message, HttpExchange? Exchange);

/// <summary>A test, or the setup/teardown of a script, and what its actions gave.</summary>
public sealed class TestRun(string name, string? description)
{
    public string Name { get; } = name;
    public string? Description { get; } = description;
    public List<ActionResult> Actions { get; } = [];
    /// <summary>Why the test was not run (or stopped): an unsupported part, a failed setup.</summary>
    public string? SkipReason { get; set; }

    public bool Failed => Actions.Any(a => a.Outcome is ActionOutcome.Fail or ActionOutcome.Error);
    public bool Skipped => !Failed && SkipReason is not null;
    public string Status => Failed ? "fail" : Skipped ? "skip" : "pass";
    /// <summary>The first failing action: what the reports show for a failure.</summary>
    public ActionResult? FirstFailure => Actions.FirstOrDefault(a => a.Outcome is ActionOutcome.Fail or ActionOutcome.Error);

    /// <summary>The exchange a failure is about: its own, else the last one before it.</summary>
    public HttpExchange? FailureExchange()
    {
        var index = FirstFailure is { } f ? Actions.IndexOf(f) : -1;
        for (var i = index; i >= 0; i--)
            if (Actions[i].Exchange is { } e) return e;
        return null;
    }
}

public sealed class ScriptRun(string file)
{
    public string File { get; } = file;
    public string Name { get; set; } = Path.GetFileNameWithoutExtension(file);
    public string? Url { get; set; }
    public string? Id { get; set; }
    public TestRun Setup { get; } = new("setup", null);
    public List<TestRun> Tests { get; } = [];
    public TestRun Teardown { get; } = new("teardown", null);
    /// <summary>The script could not be read or run at all.</summary>
    public string? Error { get; set; }
    public DateTimeOffset Started { get; set; }
    public TimeSpan Elapsed { get; set; }

    public bool Failed => Error is not null || Setup.Failed || Teardown.Failed || Tests.Any(t => t.Failed);
    public int Passed => Tests.Count(t => t.Status == "pass");
    public int FailedCount => Tests.Count(t => t.Failed);
    public int SkippedCount => Tests.Count(t => t.Skipped);
    /// <summary>fail, skip (nothing ran: every test skipped) or pass.</summary>
    public string Status => Failed ? "fail" : Tests.Count > 0 && SkippedCount == Tests.Count ? "skip" : "pass";

    /// <summary>What the reports list: the setup and teardown when they failed, then every test.</summary>
    public IEnumerable<TestRun> ReportedTests()
    {
        if (Setup.Failed) yield return Setup;
        foreach (var t in Tests) yield return t;
        if (Teardown.Failed) yield return Teardown;
    }
}

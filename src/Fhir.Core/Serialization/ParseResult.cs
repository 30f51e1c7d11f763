using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Outcomes;

namespace FhirArchive.Fhir.Serialization;

/// <summary>Options shared by the JSON and XML parsers.</summary>
public sealed record ParserOptions
{
    public static readonly ParserOptions Strict = new();
    public static readonly ParserOptions Lenient = new() { IsLenient = true };

    /// <summary>
    /// Strict (default): anything the definitions do not allow is an error. Lenient: keep what can be kept
    /// (unknown elements verbatim, wrong cardinality, bad lexical values) and report warnings.
    /// </summary>
    public bool IsLenient { get; init; }

    /// <summary>Largest accepted document, in bytes (UTF-8).</summary>
    public long MaxBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>Deepest accepted nesting of JSON objects/arrays or XML elements.</summary>
    public int MaxDepth { get; init; } = 256;

    /// <summary>Stop collecting issues after this many (the result still fails).</summary>
    public int MaxIssues { get; init; } = 100;

    /// <summary>Skip JavaScript-style comments in JSON (not FHIR JSON; some tools write them).</summary>
    public bool AllowComments { get; init; }

    /// <summary>Check primitive values against their lexical rules.</summary>
    public bool ValidatePrimitives { get; init; } = true;
}

/// <summary>The outcome of parsing: the resource (when one could be built) and the issues found.</summary>
public sealed class ParseResult
{
    public ParseResult(ElementNode? resource, IReadOnlyList<FhirIssue> issues)
    {
        Resource = resource;
        Issues = issues;
    }

    public ElementNode? Resource { get; }

    public IReadOnlyList<FhirIssue> Issues { get; }

    /// <summary>A resource was built and no error was found.</summary>
    public bool Success => Resource is not null && !Issues.Any(i => i.IsError);

    /// <summary>The issues as an OperationOutcome resource.</summary>
    public ElementNode ToOperationOutcome() => OperationOutcomes.Create(Issues);

    /// <summary>The resource, or a <see cref="FhirParseException"/> carrying the issues.</summary>
    public ElementNode GetResourceOrThrow() => Success ? Resource! : throw new FhirParseException(Issues);
}

public sealed class FhirParseException(IReadOnlyList<FhirIssue> issues)
    : Exception(string.Join("; ", issues.Where(i => i.IsError).Take(5)))
{
    public IReadOnlyList<FhirIssue> Issues { get; } = issues;
}

/// <summary>Collects issues up to a limit, downgrading recoverable errors in lenient mode.</summary>
internal sealed class IssueSink(ParserOptions options)
{
    public readonly List<FhirIssue> Issues = [];
    private bool _truncated;

    /// <summary>An error that lenient parsing can recover from (it becomes a warning there).</summary>
    public void Recoverable(string code, string message, string? location) =>
        Add(new FhirIssue(options.IsLenient ? IssueSeverity.Warning : IssueSeverity.Error, code, message, location));

    public void Error(string code, string message, string? location) =>
        Add(new FhirIssue(IssueSeverity.Error, code, message, location));

    public void Fatal(string code, string message, string? location = null) =>
        Add(new FhirIssue(IssueSeverity.Fatal, code, message, location), force: true);

    private void Add(FhirIssue issue, bool force = false)
    {
        if (Issues.Count < options.MaxIssues || force)
        {
            Issues.Add(issue);
        }
        else if (!_truncated)
        {
            _truncated = true;
            Issues.Add(new FhirIssue(IssueSeverity.Information, "too-costly", $"More than {options.MaxIssues} issues; the rest are not listed"));
        }
    }
}

namespace FhirArchive.Fhir.FhirPath;

/// <summary>An expression that does not follow the FHIRPath grammar, or uses an unknown function. Position is 0-based.</summary>
public sealed class FhirPathSyntaxException(string message, int position)
    : Exception($"{message} (at position {position})")
{
    public int Position { get; } = position;
    public string Reason { get; } = message;
}

/// <summary>A run-time error: a collection where a single item is required, a bad argument, or a budget exceeded.</summary>
public sealed class FhirPathEvaluationException(string message) : Exception(message);

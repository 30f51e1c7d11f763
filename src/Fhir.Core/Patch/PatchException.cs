namespace FhirArchive.Fhir.Patch;

/// <summary>A patch that cannot be applied: malformed, or its target is missing, or a test failed.</summary>
public sealed class PatchException(string message) : Exception(message);

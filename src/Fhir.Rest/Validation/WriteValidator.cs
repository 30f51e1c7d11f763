using FhirArchive.Fhir.Model;
using FhirArchive.Fhir.Outcomes;
using FhirArchive.Profiles.Validation;
using FhirArchive.Rest.Infrastructure;

namespace FhirArchive.Rest.Validation;

/// <summary>Configuration "Validation": which writes are validated, and against what.</summary>
public sealed class ValidationOptions
{
    /// <summary>Reject any write that breaks the base specification (cardinality, bindings, invariants).</summary>
    public bool BaseRules { get; set; }

    /// <summary>
    /// Resource types that belong to the record, with the profile every write of them must meet
    /// (e.g. Patient → cn-resident-patient), whether or not the resource claims it. An empty value turns a
    /// type's profile off (a deployment that stores foreign, non-profiled resources of that type).
    /// </summary>
    public Dictionary<string, string> RecordProfiles { get; set; } = new(StringComparer.Ordinal);

    public string? RecordProfileOf(string? type) =>
        type is not null && RecordProfiles.GetValueOrDefault(type) is { Length: > 0 } profile ? profile : null;
}

/// <summary>
/// Validation on create, update and transaction entries: a resource that claims a profile (meta.profile), or
/// whose type belongs to the record, is validated, and any error stops the write with 422 and the issues.
/// </summary>
public sealed class WriteValidator(RecordValidator validator, ValidationOptions options)
{
    /// <summary>All issues (for $validate): base rules, claimed profiles, the record profile of the type, or <paramref name="profile"/>.</summary>
    public IReadOnlyList<FhirIssue> Validate(ElementNode resource, string? profile = null) =>
        validator.Validate(resource, profile ?? options.RecordProfileOf(resource.Type));

    public void EnsureValid(ElementNode resource)
    {
        var claims = resource.Child("meta")?.ChildrenNamed("profile").Any() == true;
        var recordProfile = options.RecordProfileOf(resource.Type);
        if (!claims && recordProfile is null && !options.BaseRules) return;
        var errors = validator.Validate(resource, recordProfile).Where(i => i.IsError).ToList();
        if (errors.Count > 0) throw new FhirException(422, errors);
    }
}

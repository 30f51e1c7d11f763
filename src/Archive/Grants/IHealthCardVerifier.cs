using FhirArchive.Fhir.Model;

using FhirArchive.Archive.Consent;

namespace FhirArchive.Archive.Grants;

/// <summary>
/// Verifies that the electronic health card presented is the resident's (in production: the card platform's
/// verification service). Pluggable; the demo checks the Patient's own health-card identifier.
/// </summary>
public interface IHealthCardVerifier
{
    Task<bool> VerifyAsync(ElementNode patient, string cardId, CancellationToken ct);
}

/// <summary>The demo verifier: the card id equals the Patient's identifier of the health-card system (urn:oid:2.16.156.10011.1.19).</summary>
public sealed class PatientHealthCardVerifier : IHealthCardVerifier
{
    public const string System = "urn:oid:2.16.156.10011.1.19";

    public Task<bool> VerifyAsync(ElementNode patient, string cardId, CancellationToken ct) =>
        Task.FromResult(patient.ChildrenNamed("identifier").Any(i =>
            i.Child("system")?.Value == System && i.Child("value")?.Value is { } v && v == cardId.Trim()));
}

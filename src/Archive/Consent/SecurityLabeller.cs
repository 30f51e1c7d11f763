using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Writing;

namespace FhirArchive.Archive.Consent;

/// <summary>
/// Labels every written resource of a resident's record (meta.security, as the DS4P guide uses it): confidentiality
/// N, or R with PSY / HIV when its codes are severe-mental-disorder or HIV information (summary types — Patient,
/// record homepage — are redacted on read instead of hidden whole, so they keep N). The server owns these labels:
/// they are recomputed from the content on every write, whatever the payload says, so they stay current when data
/// changes. Other labels in the payload are kept, except the classified flag on a Patient, which only the responsible
/// institution's record administrator (or the server) sets or clears.
/// </summary>
public sealed class SecurityLabeller(ConsentOptions options) : IWriteInterceptor
{
    private static readonly (string System, string Code)[] Owned =
    [
        (ConsentTerms.ConfidentialitySystem, "N"), (ConsentTerms.ConfidentialitySystem, "R"), (ConsentTerms.ConfidentialitySystem, "V"),
        (ConsentTerms.ActCodeSystem, ConsentTerms.Psychiatry), (ConsentTerms.ActCodeSystem, ConsentTerms.Hiv),
        (ConsentTerms.ObservationValueSystem, ConsentTerms.Redacted),
    ];

    public WriteStage Stage => WriteStage.Label;

    public ValueTask BeforeWriteAsync(WriteContext context)
    {
        if (!options.Enabled || context.Resource is not { } resource) return ValueTask.CompletedTask;
        if (!Rest.Search.Compartments.IsPatientData(context.ResourceType)) return ValueTask.CompletedTask;
        var meta = resource.Child("meta") ?? resource.Add("meta");
        foreach (var s in meta.ChildrenNamed("security").ToList())
            if (Owned.Contains((s.Child("system")?.Value ?? "", s.Child("code")?.Value ?? ""))) meta.Remove(s);

        var classified = context.ResourceType == "Patient" && KeepClassified(context, meta);
        var labels = ConsentAccessPolicy.RedactedTypes.Contains(context.ResourceType) ? [] : SensitiveCodes.LabelsOf(resource);
        Add(meta, ConsentTerms.ConfidentialitySystem, classified ? "V" : labels.Count > 0 ? "R" : "N");
        foreach (var label in labels.Order(StringComparer.Ordinal)) Add(meta, ConsentTerms.ActCodeSystem, label);
        return ValueTask.CompletedTask;
    }

    public ValueTask AfterWriteAsync(WriteContext context) => ValueTask.CompletedTask;

    /// <summary>Whether the Patient stays (or becomes) classified: only an authorised writer changes the flag.</summary>
    private static bool KeepClassified(WriteContext context, ElementNode meta)
    {
        bool IsFlag(ElementNode s) => s.Child("system")?.Value == ConsentTerms.SensitivitySystem && s.Child("code")?.Value == ConsentTerms.Classified;
        var asked = meta.ChildrenNamed("security").Any(IsFlag);
        var current = context.Current?.Json is { } json ? Rest.Infrastructure.FhirFormats.ParseStored(json) : null;
        var before = current?.Child("meta")?.ChildrenNamed("security").Any(IsFlag) == true;
        var caller = context.Http?.GetCaller() ?? Caller.Server;
        var holder = (current ?? context.Resource!).Child("managingOrganization")?.Child("reference")?.Value;
        var authorised = caller.HasRole(Roles.Server) || (caller.HasRole(Roles.RecordAdministrator) && caller.Organization is not null && caller.Organization == holder);
        var result = authorised ? asked : before;
        if (result && !asked) Add(meta, ConsentTerms.SensitivitySystem, ConsentTerms.Classified);
        if (!result) foreach (var s in meta.ChildrenNamed("security").Where(IsFlag).ToList()) meta.Remove(s);
        return result;
    }

    private static void Add(ElementNode meta, string system, string code)
    {
        var s = meta.Add("security");
        s.Add("system", system);
        s.Add("code", code);
    }
}

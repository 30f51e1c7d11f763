using FhirArchive.Archive.Records;
using FhirArchive.Rest.Batch;
using FhirArchive.Rest.Metadata;
using FhirArchive.Rest.Writing;

namespace FhirArchive.Archive.Mhd;

/// <summary>
/// IHE MHD 4.x Document Recipient and Document Responder. ITI-65 Provide Document Bundle is a transaction Bundle
/// claiming an MHD ProvideBundle profile: <see cref="ProvideBundleRules"/> checks it whole (through the engine's
/// transaction interceptors) before anything is stored, and supersedes replaced documents in the same transaction
/// (<see cref="SupersedeGuard"/> holds that write to the status change). ITI-67 (DocumentReference search), ITI-66
/// (List search, with the IHE designationType and sourceId parameters of the package) and ITI-68 (the Binary read,
/// native bytes, decided by its securityContext) are the engine's own interactions: no endpoint here. The
/// CapabilityStatement says so: it instantiates both actors' CapabilityStatements.
/// </summary>
public static class MhdModule
{
    public static IServiceCollection AddMhd(this IServiceCollection services)
    {
        services.AddSingleton<ITransactionInterceptor, ProvideBundleRules>();
        services.AddSingleton<IWriteInterceptor, SupersedeGuard>();
        // A replaced document's saved DocumentReference takes one more write (its status), held to that by SupersedeGuard.
        services.AddSingleton(new SavedRecordAmendment(MhdTerms.Supersede, "DocumentReference"));
        services.AddSingleton(new InstantiatedCapability(MhdTerms.DocumentRecipient));
        services.AddSingleton(new InstantiatedCapability(MhdTerms.DocumentResponder));
        return services;
    }
}

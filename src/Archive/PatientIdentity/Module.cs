using FhirArchive.Rest.Writing;

namespace FhirArchive.Archive.PatientIdentity;

/// <summary>
/// IHE PDQm and PIXm on the resident records, so that a hospital's MPI can cross-reference its medical record numbers
/// with the ID card number: the identifier domains the server recognises (<see cref="IdentifierDomains"/>: the national
/// ones and each institution's, registered as a NamingSystem), Patient/$ihe-pix (ITI-83) and the identity feed's
/// rules (ITI-104, <see cref="IdentityFeedInterceptor"/>). PDQm (ITI-78) is the engine's Patient search (GET and POST
/// _search) with the package's mothersMaidenName parameter, under the consent decision like every search. A search by
/// a system alone (identifier=urn:oid:1.2.3|) keeps FHIR's meaning — Patients with any identifier in that system, shown
/// whole — rather than PDQm's domain filtering (its Cases 2 and 4), which would change every client's token search.
/// </summary>
public static class PatientIdentityModule
{
    /// <summary>Registered before the Records module: its feed rule completes a feed before the record rules judge it.</summary>
    public static IServiceCollection AddPatientIdentity(this IServiceCollection services)
    {
        services.AddSingleton<IdentifierDomains>();
        services.AddSingleton<IWriteInterceptor, IdentityFeedInterceptor>();
        services.AddSingleton<IWriteInterceptor, IdentifierDomainCacheInterceptor>();
        return services;
    }

    public static void MapPatientIdentity(this IEndpointRouteBuilder app) => PixQueryEndpoint.Map(app);
}

using FhirArchive.Rest.Access;
using FhirArchive.Rest.Writing;

namespace FhirArchive.Archive.PatientIdentity;

/// <summary>
/// IHE PDQm and PIXm on the resident records, so that a hospital's MPI can cross-reference its medical record numbers
/// with the ID card number: the identifier domains the server recognises (<see cref="IdentifierDomains"/>: the national
/// ones and each institution's, registered as a NamingSystem), Patient/$ihe-pix (ITI-83) and the identity feed's
/// rules (ITI-104, <see cref="IdentityFeedInterceptor"/>). PDQm (ITI-78) is the engine's Patient search (GET and POST
/// _search) with the package's mothersMaidenName parameter, under the consent decision like every search; a search
/// naming identifier domains gets only their identifiers, or 404 for a domain not recognised (<see cref="PdqmDomainPolicy"/>).
/// </summary>
public static class PatientIdentityModule
{
    /// <summary>Registered before the Records module: its feed rule completes a feed before the record rules judge it.</summary>
    public static IServiceCollection AddPatientIdentity(this IServiceCollection services)
    {
        services.AddSingleton<IdentifierDomains>();
        services.AddSingleton<IWriteInterceptor, IdentityFeedInterceptor>();
        services.AddSingleton<IWriteInterceptor, IdentifierDomainCacheInterceptor>();
        services.AddSingleton<IAccessPolicy, PdqmDomainPolicy>();
        return services;
    }

    public static void MapPatientIdentity(this IEndpointRouteBuilder app) => PixQueryEndpoint.Map(app);
}

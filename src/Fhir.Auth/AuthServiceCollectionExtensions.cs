using FhirArchive.Auth.Accounts;
using FhirArchive.Auth.Keys;
using FhirArchive.Auth.Tokens;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace FhirArchive.Auth;

public static class AuthServiceCollectionExtensions
{
    /// <summary>The authorisation server's services; the key file is resolved under <paramref name="dataFolder"/> when relative.
    /// The grant state (<see cref="State.IGrantState"/>, <see cref="State.IRevocationState"/>, <see cref="State.ILoginState"/>)
    /// is implemented elsewhere: AddFhirStorage registers the database's.</summary>
    public static IServiceCollection AddFhirAuth(this IServiceCollection services, AuthOptions options, string dataFolder)
    {
        services.AddSingleton(options);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(_ => new SigningKeys(options, Path.IsPathRooted(options.KeyFile) ? options.KeyFile : Path.Combine(dataFolder, options.KeyFile)));
        services.AddSingleton<InMemoryAuthDirectory>();
        services.TryAddSingleton<IAuthDirectory>(sp => sp.GetRequiredService<InMemoryAuthDirectory>());
        services.TryAddSingleton<IAuthEvents, NoAuthEvents>();
        services.AddSingleton<RevocationList>();
        services.AddSingleton<GrantStore>();
        services.AddHostedService<AuthStateCleanup>();
        services.AddSingleton<LoginThrottle>();
        services.AddSingleton<ClientAssertions>();
        services.AddSingleton(sp => new ExternalProviders(options, sp.GetService<IHttpClientFactory>()));
        services.AddSingleton<TokenService>();
        services.AddSingleton<ValidatedTokenCache>();
        services.AddSingleton<AuthServer>();
        return services;
    }
}

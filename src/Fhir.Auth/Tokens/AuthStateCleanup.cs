using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FhirArchive.Auth.Tokens;

/// <summary>Deletes expired grant state (codes, refresh tokens, revocations, assertion ids, old failed logins) every
/// <see cref="AuthOptions.StateCleanupInterval"/>; any instance may do it, the deletes are idempotent.</summary>
public sealed class AuthStateCleanup(GrantStore grants, AuthOptions options, ILogger<AuthStateCleanup> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.StateCleanupInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                var deleted = await grants.DeleteExpiredAsync();
                if (deleted > 0) log.LogDebug("Deleted {Count} expired grant state rows", deleted);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The next round tries again; expired rows are refused on use anyway.
                log.LogWarning(e, "Cleaning up expired grant state failed");
            }
        }
    }
}

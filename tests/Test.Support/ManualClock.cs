namespace FhirArchive.Tests.Support;

/// <summary>A clock the test moves (registered as the server's TimeProvider, or handed to a service).</summary>
public sealed class ManualClock : TimeProvider
{
    public DateTimeOffset Now { get; set; } = DateTimeOffset.UtcNow;
    public override DateTimeOffset GetUtcNow() => Now;
}

namespace FhirArchive.Rest.Subscriptions;

/// <summary>Configuration "Subscriptions": matching, the outbox and the rest-hook delivery.</summary>
public sealed class SubscriptionOptions
{
    /// <summary>false: Subscriptions are stored as plain resources, nothing is matched or sent.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// false: this instance only records its writes in the outbox (in their transactions); it neither matches nor
    /// sends. Any number of instances may deliver from one database: each row is claimed by one at a time.
    /// </summary>
    public bool Deliver { get; set; } = true;

    /// <summary>
    /// How long a worker holds the outbox rows it claimed; the rows of an instance that stopped are taken again after
    /// it. A notification is not sent when less than <see cref="Timeout"/> of its lease is left (it is left to expire),
    /// so no two instances ever send one row at once.
    /// </summary>
    public TimeSpan ClaimLease { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Failed attempts of one notification after which its Subscription gets status error.</summary>
    public int MaxAttempts { get; set; } = 5;

    /// <summary>The wait after the first failure; it doubles after each further one, up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(2);

    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How often the worker looks at the outbox when no write nudges it (rows queued by another instance, retries).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// After a nudge, how long the worker lets further writes gather before its round: each round takes the single
    /// writer for its claim and its resolution, so rounds of one write each would halve the writes' own throughput.
    /// </summary>
    public TimeSpan GatherDelay { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>The longest one POST may take: a slow endpoint holds a delivery slot at most this long.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Rows taken from the outbox per round, and deliveries in flight at once.</summary>
    public int BatchSize { get; set; } = 50;
    public int MaxParallelDeliveries { get; set; } = 4;

    /// <summary>How long the list of active Subscriptions is trusted before it is read again (another instance's changes).</summary>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The rest-hook endpoints the server may call (SSRF guard): each entry a URL prefix
    /// ("https://hooks.example.org/fhir/": same scheme, host and port, the path below it) or a host ("hooks.example.org",
    /// "*.example.org": its subdomains). Empty, with loopback not allowed: every rest-hook Subscription is refused.
    /// </summary>
    public List<string> AllowedEndpoints { get; set; } = [];

    /// <summary>Endpoints on the loopback (localhost, 127.0.0.0/8, ::1), over http too; unset: in Development only.</summary>
    public bool? AllowLoopback { get; set; }
}

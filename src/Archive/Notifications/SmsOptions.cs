using FhirArchive.Archive.Consent;

namespace FhirArchive.Archive.Notifications;

/// <summary>Configuration "Consent:Sms": which sender, and its settings.</summary>
public sealed class SmsOptions
{
    /// <summary>"file" (demo: one JSON line per message into <see cref="File"/>) or "http" (the SMS gateway).</summary>
    public string Sender { get; set; } = "file";

    /// <summary>The file sink's path; relative paths are taken from the data folder (default data/sms-outbox.jsonl).</summary>
    public string File { get; set; } = "sms-outbox.jsonl";

    /// <summary>The gateway's URL: each message is POSTed as JSON {"to","text","kind"}.</summary>
    public string? GatewayUrl { get; set; }

    /// <summary>The gateway's API key, sent as a bearer token (keep it in an environment variable: Consent__Sms__GatewayKey).</summary>
    public string? GatewayKey { get; set; }

    public int GatewayTimeoutSeconds { get; set; } = 10;
}

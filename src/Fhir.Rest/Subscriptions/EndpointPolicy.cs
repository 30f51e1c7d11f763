using System.Net;

namespace FhirArchive.Rest.Subscriptions;

/// <summary>
/// Which rest-hook endpoints the server may call (<see cref="SubscriptionOptions.AllowedEndpoints"/>,
/// <see cref="SubscriptionOptions.AllowLoopback"/>): a Subscription is a request to make the server call a URL, so
/// without a list anyone allowed to write one could reach the server's own network (SSRF). Only https, except on the
/// loopback. Checked when a Subscription is written (422) and again before each notification (the list may have changed).
/// A listed host name is trusted with whatever addresses it resolves to.
/// </summary>
public sealed class EndpointPolicy(SubscriptionOptions options, IHostEnvironment environment)
{
    private readonly bool _loopback = options.AllowLoopback ?? environment.IsDevelopment();

    /// <summary>Null when the server may call the endpoint, else why not.</summary>
    public string? Refusal(Uri endpoint)
    {
        var loopback = endpoint.IsLoopback || (IPAddress.TryParse(endpoint.IdnHost, out var ip) && IPAddress.IsLoopback(ip));
        if (endpoint.Scheme != Uri.UriSchemeHttps && !loopback) return "only https endpoints may be called (http on the loopback only)";
        if (loopback && _loopback) return null;
        return options.AllowedEndpoints.Any(entry => Allows(entry, endpoint)) ? null
            : "the endpoint is not among those this server may call (Subscriptions:AllowedEndpoints)";
    }

    /// <summary>A 422 for an endpoint refused.</summary>
    public void Check(Uri endpoint)
    {
        if (Refusal(endpoint) is { } why)
            throw SubscriptionSpec.Invalid($"Subscription.channel.endpoint '{endpoint}' is refused: {why}", $"订阅通道地址不在允许范围内：{endpoint}");
    }

    private static bool Allows(string entry, Uri endpoint)
    {
        if (entry.Contains("://"))
            return Uri.TryCreate(entry, UriKind.Absolute, out var prefix)
                && prefix.Scheme == endpoint.Scheme && prefix.Port == endpoint.Port
                && string.Equals(prefix.IdnHost, endpoint.IdnHost, StringComparison.OrdinalIgnoreCase)
                && endpoint.AbsolutePath.StartsWith(prefix.AbsolutePath, StringComparison.Ordinal)
                && (prefix.AbsolutePath.EndsWith('/') || endpoint.AbsolutePath.Length == prefix.AbsolutePath.Length
                    || endpoint.AbsolutePath[prefix.AbsolutePath.Length] == '/');
        var host = endpoint.IdnHost;
        return entry.StartsWith("*.", StringComparison.Ordinal)
            ? host.EndsWith(entry[1..], StringComparison.OrdinalIgnoreCase)
            : string.Equals(entry, host, StringComparison.OrdinalIgnoreCase);
    }
}

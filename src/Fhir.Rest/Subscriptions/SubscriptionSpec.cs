using FhirArchive.Fhir.Definitions;
using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Infrastructure;
using Microsoft.AspNetCore.WebUtilities;

namespace FhirArchive.Rest.Subscriptions;

/// <summary>
/// What the server reads from a Subscription (R4): status, criteria (a search: type and query), the channel — rest-hook
/// (endpoint, payload mime type, headers) or websocket (R4: the client binds to the server's websocket; no endpoint) —
/// its heartbeat period, and end. <see cref="Read"/> refuses what this server cannot honour with a 422 naming the
/// element; whether the criteria parse as a search is the search parser's to say (400), whether the endpoint may be
/// called the <see cref="EndpointPolicy"/>'s.
/// </summary>
public sealed record SubscriptionSpec(string Status, string ResourceType, string Query, string ChannelType, Uri? Endpoint, string? Payload,
    IReadOnlyList<(string Name, string Value)> Headers, DateTimeOffset? End, TimeSpan? Heartbeat)
{
    public const string RestHook = "rest-hook";
    public const string WebSocket = "websocket";

    /// <summary>
    /// R4 has no heartbeat; the R4 backport of R5 Subscriptions (http://hl7.org/fhir/uv/subscriptions-backport,
    /// extension backport-heartbeat-period on Subscription.channel, an unsignedInt of seconds) names it, and this
    /// server reads it from the same place: a heartbeat is sent when nothing was sent for that long.
    /// </summary>
    public const string HeartbeatExtension = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-heartbeat-period";

    /// <summary>The payload types sent as the resource in JSON; absent payload = a notification without a body (R4).</summary>
    public static readonly IReadOnlySet<string> JsonPayloads = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "application/fhir+json", "application/json" };

    /// <summary>The criteria's query as search parameters (repeated names kept, in order).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Parameters => ParametersOf(Query);

    public static IReadOnlyList<KeyValuePair<string, string>> ParametersOf(string query) =>
        QueryHelpers.ParseQuery(query).SelectMany(kv => kv.Value.Select(v => new KeyValuePair<string, string>(kv.Key, v ?? ""))).ToList();

    public static SubscriptionSpec Read(ElementNode subscription)
    {
        var status = subscription.Child("status")?.Value ?? throw Invalid("Subscription.status is required", "订阅状态（status）必填");
        var criteria = subscription.Child("criteria")?.Value?.Trim();
        if (string.IsNullOrEmpty(criteria)) throw Invalid("Subscription.criteria is required", "订阅条件（criteria）必填");
        var q = criteria.IndexOf('?');
        var type = q < 0 ? criteria : criteria[..q];
        if (FhirDefinitions.R4.GetType(type) is not { Kind: TypeKind.Resource, IsAbstract: false })
            throw Invalid($"Subscription.criteria must start with a resource type ('Observation?code=…'), not '{type}'",
                $"订阅条件须以资源类型开头（如 Observation?code=…），而非“{type}”");
        var channel = subscription.Child("channel") ?? throw Invalid("Subscription.channel is required", "订阅通道（channel）必填");
        var channelType = channel.Child("type")?.Value;
        if (channelType is not (RestHook or WebSocket))
            throw Invalid($"Subscription.channel.type '{channelType}' is not supported: this server sends rest-hook and websocket notifications",
                $"不支持的通道类型“{channelType}”，本服务器支持 rest-hook 与 websocket");
        var endpoint = channel.Child("endpoint")?.Value;
        Uri? url = null;
        // websocket (R4): the client connects to the server; an endpoint, if any, is not used.
        if (channelType == RestHook
            && (!Uri.TryCreate(endpoint, UriKind.Absolute, out url) || url.Scheme is not ("http" or "https") || url.UserInfo.Length > 0))
            throw Invalid($"Subscription.channel.endpoint must be an absolute http(s) URL without credentials, not '{endpoint}'",
                "订阅通道地址须为 http(s) 绝对地址（不含用户名密码）");
        var payload = channel.Child("payload")?.Value;
        if (payload is not null && !JsonPayloads.Contains(payload.Split(';')[0].Trim()))
            throw Invalid($"Subscription.channel.payload '{payload}' is not supported: use application/fhir+json, or leave it out for a notification without content",
                $"不支持的载荷类型“{payload}”：请使用 application/fhir+json，或省略以发送无内容通知");
        var headers = new List<(string, string)>();
        foreach (var h in channel.ChildrenNamed("header").Select(h => h.Value ?? ""))
        {
            var colon = h.IndexOf(':');
            var name = colon > 0 ? h[..colon].Trim() : "";
            // A token for the name, no control characters (a line break would smuggle in a header of its own).
            if (name.Length == 0 || !name.All(c => char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c)) || h.Any(char.IsControl))
                throw Invalid($"Subscription.channel.header '{h}' is not 'Name: value'", $"通道请求头“{h}”格式应为“名称: 值”");
            headers.Add((name, h[(colon + 1)..].Trim()));
        }
        var endText = subscription.Child("end")?.Value;
        DateTimeOffset? end = endText is null ? null
            : DateTimeOffset.TryParse(endText, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var e) ? e
            : throw Invalid($"Subscription.end '{endText}' is not an instant", "订阅结束时间（end）格式无效");
        TimeSpan? heartbeat = null;
        if (channel.ChildrenNamed("extension").FirstOrDefault(x => x.Child("url")?.Value == HeartbeatExtension) is { } hb)
            heartbeat = int.TryParse(hb.Child("value")?.Value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds)
                && seconds > 0
                ? TimeSpan.FromSeconds(seconds)
                : throw Invalid($"The heartbeat period ({HeartbeatExtension}) must be a whole number of seconds above 0", "心跳周期须为大于 0 的整数秒");
        return new SubscriptionSpec(status, type, q < 0 ? "" : criteria[(q + 1)..], channelType, url, payload, headers, end, heartbeat);
    }

    internal static FhirException Invalid(string en, string zh) => new(422, "invalid", $"{en} / {zh}");
}

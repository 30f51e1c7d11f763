using FhirArchive.Fhir.Definitions;
using FhirArchive.Fhir.Model;
using FhirArchive.Rest.Infrastructure;
using Microsoft.AspNetCore.WebUtilities;

namespace FhirArchive.Rest.Subscriptions;

/// <summary>
/// What the server reads from a Subscription (R4): status, criteria (a search: type and query), the rest-hook channel
/// (endpoint, payload mime type, headers) and end. <see cref="Read"/> refuses what this server cannot honour with a
/// 422 naming the element; whether the criteria parse as a search is the search parser's to say (400).
/// </summary>
public sealed record SubscriptionSpec(string Status, string ResourceType, string Query, Uri Endpoint, string? Payload,
    IReadOnlyList<(string Name, string Value)> Headers, DateTimeOffset? End)
{
    public const string RestHook = "rest-hook";

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
        if (channelType != RestHook)
            throw Invalid($"Subscription.channel.type '{channelType}' is not supported: this server sends rest-hook notifications only",
                $"不支持的通道类型“{channelType}”，本服务器仅支持 rest-hook");
        var endpoint = channel.Child("endpoint")?.Value;
        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https") || url.UserInfo.Length > 0)
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
        return new SubscriptionSpec(status, type, q < 0 ? "" : criteria[(q + 1)..], url!, payload, headers, end);
    }

    private static FhirException Invalid(string en, string zh) => new(422, "invalid", $"{en} / {zh}");
}

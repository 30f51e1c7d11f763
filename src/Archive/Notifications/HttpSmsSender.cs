using System.Net.Http.Headers;
using System.Net.Http.Json;

using FhirArchive.Archive.Consent;

namespace FhirArchive.Archive.Notifications;

/// <summary>
/// The production sender: POSTs {"to","text","kind"} as JSON to the configured SMS gateway with the API key as a
/// bearer token. Anything but a 2xx answer (or no answer in time) is a message not sent.
/// </summary>
public sealed class HttpSmsSender : ISmsSender, IDisposable
{
    private readonly HttpClient _http;
    private readonly Uri _url;
    private readonly string? _key;

    public HttpSmsSender(SmsOptions options)
    {
        _url = new Uri(options.GatewayUrl ?? throw new InvalidOperationException("Consent:Sms:Sender is http but Consent:Sms:GatewayUrl is not set."));
        _key = options.GatewayKey;
        _http = new HttpClient { Timeout = TimeSpan.FromSeconds(options.GatewayTimeoutSeconds) };
    }

    public async Task SendAsync(SmsMessage message, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _url)
        {
            Content = JsonContent.Create(new { to = message.Phone, text = message.Text, kind = message.Kind }),
        };
        if (_key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _key);
        try
        {
            using var response = await _http.SendAsync(request, ct);
            if (!response.IsSuccessStatusCode)
                throw new SmsNotSentException($"The SMS gateway answered {(int)response.StatusCode}.");
        }
        catch (HttpRequestException e) { throw new SmsNotSentException("The SMS gateway could not be reached.", e); }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested) { throw new SmsNotSentException("The SMS gateway did not answer in time.", e); }
    }

    public void Dispose() => _http.Dispose();
}

using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using FhirArchive.Rest.Access;
using FhirArchive.Rest.Infrastructure;

namespace FhirArchive.Rest.Subscriptions;

/// <summary>
/// The R4 websocket channel (http://hl7.org/fhir/R4/subscription.html#2.46.7.2): the client opens the server's
/// websocket (<see cref="Path"/>, advertised in the CapabilityStatement by the R4 extension capabilitystatement-websocket)
/// with its access token, sends <c>bind-with-id [id]</c> for a websocket Subscription and gets <c>bound [id]</c>; then
/// <c>ping [id]</c> for each notification (nothing else: the client reads what changed with its own token) and
/// <c>heartbeat [id]</c> after each heartbeat period without one. Only the Subscription's subscriber may bind, and a
/// ping is sent only for what the subscriber may see (decided as for rest-hook). Sockets live in the instance that
/// accepted them: the worker of that instance pings them.
/// </summary>
public sealed class WebSocketHub(SubscriptionRegistry registry, ILogger<WebSocketHub> log)
{
    public const string Path = "/websocket";

    /// <summary>The R4 CapabilityStatement.rest extension naming the websocket's address.</summary>
    public const string CapabilityExtension = "http://hl7.org/fhir/StructureDefinition/capabilitystatement-websocket";

    private const int MaxMessage = 1024;
    private static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(10);

    private sealed class Connection(WebSocket socket)
    {
        private readonly SemaphoreSlim _sending = new(1, 1);

        /// <summary>One message at a time per socket (a WebSocket allows one send in flight).</summary>
        public async Task SendAsync(string text, CancellationToken ct)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(SendTimeout);
            await _sending.WaitAsync(timeout.Token);
            try
            {
                await socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, timeout.Token);
            }
            finally
            {
                _sending.Release();
            }
        }
    }

    private readonly ConcurrentDictionary<string, ConcurrentDictionary<Connection, byte>> _bound = new();

    /// <summary>The websocket's address for a server base URL (http → ws, https → wss).</summary>
    public static string UrlFor(string baseUrl) => (baseUrl.StartsWith("https:", StringComparison.OrdinalIgnoreCase) ? "wss" + baseUrl[5..] : "ws" + baseUrl[4..]) + Path;

    /// <summary>Sends "<paramref name="message"/> [id]" to every socket bound here to the Subscription; how many got it.</summary>
    public async Task<int> SendAsync(string subscriptionId, string message, CancellationToken ct)
    {
        if (!_bound.TryGetValue(subscriptionId, out var sockets)) return 0;
        var sent = 0;
        foreach (var c in sockets.Keys)
        {
            try
            {
                await c.SendAsync($"{message} {subscriptionId}", ct);
                sent++;
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                // A socket that cannot take a message is dropped; the client binds again when it reconnects.
                log.LogInformation("Subscription/{Id}: websocket dropped ({Error})", subscriptionId, e.Message);
                sockets.TryRemove(c, out _);
            }
        }
        return sent;
    }

    /// <summary>The endpoint: accepts the socket and answers its bind-with-id messages until the client closes it.</summary>
    public async Task RunAsync(HttpContext http)
    {
        if (!http.WebSockets.IsWebSocketRequest)
            throw new FhirException(400, "invalid", $"{Path} takes websocket connections only (R4 websocket channel) / 此地址仅接受 websocket 连接");
        var caller = http.GetCaller();
        var ct = http.RequestAborted;
        using var socket = await http.WebSockets.AcceptWebSocketAsync();
        var connection = new Connection(socket);
        var boundTo = new HashSet<string>();
        try
        {
            while (await ReceiveAsync(socket, ct) is { } message)
            {
                var id = message.StartsWith("bind-with-id ", StringComparison.Ordinal) ? message["bind-with-id ".Length..].Trim() : null;
                var sub = string.IsNullOrEmpty(id) ? null : await registry.FindAsync(id, ct);
                var refusal = id is null ? "unknown command: send 'bind-with-id [id]'"
                    : sub is null || sub.Channel != SubscriptionSpec.WebSocket ? "no active websocket Subscription with that id"
                    : !IsSubscriber(sub.Subscriber, caller) ? "only the Subscription's subscriber may bind to it"
                    : null;
                if (refusal is not null)
                {
                    await connection.SendAsync($"error {id} {refusal}".Replace("  ", " "), ct);
                    continue;
                }
                _bound.GetOrAdd(id!, _ => new()).TryAdd(connection, 0);
                boundTo.Add(id!);
                await connection.SendAsync($"bound {id}", ct);
            }
            if (socket.State == WebSocketState.CloseReceived)
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            // The client went away.
        }
        finally
        {
            foreach (var id in boundTo)
                if (_bound.TryGetValue(id, out var sockets)) sockets.TryRemove(connection, out _);
        }
    }

    /// <summary>The same person or client as the one who wrote the Subscription (its token's subject and client).</summary>
    private static bool IsSubscriber(Caller subscriber, Caller caller) =>
        caller.Kind == subscriber.Kind && caller.Subject == subscriber.Subject && caller.ClientId == subscriber.ClientId;

    /// <summary>The next text message (at most <see cref="MaxMessage"/> bytes), or null once the client closes.</summary>
    private static async Task<string?> ReceiveAsync(WebSocket socket, CancellationToken ct)
    {
        var buffer = new byte[MaxMessage];
        var length = 0;
        while (true)
        {
            if (length == buffer.Length)
            {
                await socket.CloseAsync(WebSocketCloseStatus.MessageTooBig, $"messages are at most {MaxMessage} bytes", ct);
                return null;
            }
            var r = await socket.ReceiveAsync(buffer.AsMemory(length), ct);
            if (r.MessageType == WebSocketMessageType.Close) return null;
            length += r.Count;
            if (r.EndOfMessage) return Encoding.UTF8.GetString(buffer, 0, length).Trim();
        }
    }
}

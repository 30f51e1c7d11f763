using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace FhirArchive.Tests.Support;

/// <summary>
/// A rest-hook endpoint on 127.0.0.1 (Kestrel, a port the OS picks): records every request it accepts; answers 503 to
/// the first <see cref="FailFirst"/> ones; never answers the first <see cref="HoldFirst"/> ones (the sender gives up
/// or goes away), which are not recorded.
/// </summary>
public sealed class HookListener : IAsyncDisposable
{
    public sealed record Received(string Method, string Path, string Body, string? ContentType, IReadOnlyDictionary<string, string> Headers);

    private readonly WebApplication _app;
    private readonly Channel<Received> _received = Channel.CreateUnbounded<Received>();
    private readonly CancellationTokenSource _stopping = new();
    private int _calls;

    private HookListener(int failFirst, int holdFirst)
    {
        FailFirst = failFirst;
        HoldFirst = holdFirst;
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.Run(async http =>
        {
            var body = await new StreamReader(http.Request.Body).ReadToEndAsync();
            var call = Interlocked.Increment(ref _calls);
            if (call <= HoldFirst)
            {
                using var held = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, _stopping.Token);
                await Task.Delay(Timeout.Infinite, held.Token).ContinueWith(_ => { });
                return;
            }
            if (call <= HoldFirst + FailFirst)
            {
                http.Response.StatusCode = 503;
                return;
            }
            var headers = http.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
            _received.Writer.TryWrite(new Received(http.Request.Method, http.Request.Path.Value ?? "", body, http.Request.ContentType, headers));
            http.Response.StatusCode = 200;
        });
    }

    public int FailFirst { get; }
    public int HoldFirst { get; }
    public Uri Url { get; private set; } = null!;
    /// <summary>Every request so far, failed ones included.</summary>
    public int Calls => Volatile.Read(ref _calls);

    public static async Task<HookListener> StartAsync(int failFirst = 0, int holdFirst = 0)
    {
        var listener = new HookListener(failFirst, holdFirst);
        await listener._app.StartAsync();
        listener.Url = new Uri(listener._app.Urls.Single() + "/hook");
        return listener;
    }

    /// <summary>The next accepted notification; fails after <paramref name="seconds"/> (a bound on the wait, not a timing assertion).</summary>
    public async Task<Received> NextAsync(int seconds = 20)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        try
        {
            return await _received.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException($"No notification arrived within {seconds} s ({Calls} request(s) seen).");
        }
    }

    /// <summary>The notifications accepted and not yet taken.</summary>
    public List<Received> Pending()
    {
        var list = new List<Received>();
        while (_received.Reader.TryRead(out var r)) list.Add(r);
        return list;
    }

    /// <summary>An http URL on 127.0.0.1 where nothing listens (a dead endpoint).</summary>
    public static Uri DeadUrl()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return new Uri($"http://127.0.0.1:{port}/hook");
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _stopping.Dispose();
    }
}

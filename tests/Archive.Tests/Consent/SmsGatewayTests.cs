using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using FhirArchive.Archive.Grants;
using FhirArchive.Archive.Notifications;
using FhirArchive.Archive.Tests.Records;
using FhirArchive.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Archive.Tests.Consent;

/// <summary>A stand-in SMS gateway on 127.0.0.1: records what it is sent and answers with <see cref="Status"/>.</summary>
public sealed class FakeSmsGateway : IDisposable
{
    private readonly HttpListener _listener = new();
    public ConcurrentQueue<(string? Authorization, JsonElement Body)> Received { get; } = new();
    public HttpStatusCode Status { get; set; } = HttpStatusCode.OK;
    public string Url { get; }

    public FakeSmsGateway()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        Url = $"http://127.0.0.1:{port}/sms/";
        _listener.Prefixes.Add(Url);
        _listener.Start();
        _ = Task.Run(ServeAsync);
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext ctx;
            try { ctx = await _listener.GetContextAsync(); }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { return; }
            using var reader = new StreamReader(ctx.Request.InputStream);
            Received.Enqueue((ctx.Request.Headers["Authorization"], JsonDocument.Parse(await reader.ReadToEndAsync()).RootElement.Clone()));
            ctx.Response.StatusCode = (int)Status;
            ctx.Response.Close();
        }
    }

    public void Dispose() => _listener.Close();
}

public sealed class HttpSmsFixture : ServerFixture
{
    public FakeSmsGateway Gateway { get; }
    public HttpSmsFixture() : this(new FakeSmsGateway()) { }
    private HttpSmsFixture(FakeSmsGateway gateway) : base(Settings(gateway), TestCallers.Register) => Gateway = gateway;

    public static Dictionary<string, string> Settings(FakeSmsGateway gateway) => new()
    {
        ["Consent:Sms:Sender"] = "http", ["Consent:Sms:GatewayUrl"] = gateway.Url, ["Consent:Sms:GatewayKey"] = "test-gateway-key",
    };

    public override void Dispose()
    {
        base.Dispose();
        Gateway.Dispose();
    }
}

public sealed class PostgresHttpSmsFixture : PostgresServerFixture
{
    public FakeSmsGateway Gateway { get; }
    public PostgresHttpSmsFixture() : this(new FakeSmsGateway()) { }
    private PostgresHttpSmsFixture(FakeSmsGateway gateway) : base(HttpSmsFixture.Settings(gateway), TestCallers.Register) => Gateway = gateway;

    public override void Dispose()
    {
        base.Dispose();
        Gateway.Dispose();
    }
}

/// <summary>The production sender: the code goes to the gateway as JSON with the bearer key; a refusing gateway voids the request (503).</summary>
public abstract class SmsGatewayTestsBase<TFixture>(TFixture fx, FakeSmsGateway gateway) where TFixture : ServerFixture
{
    [FhirFact]
    public async Task The_code_is_posted_to_the_gateway_and_a_gateway_failure_is_a_503_that_voids_the_request()
    {
        var c = fx.Client;
        var card = Residents.IdCard("female", "1990-05-05");
        var patient = await c.CreateAsync($$"""
            {"resourceType":"Patient","identifier":[{"system":"urn:oid:2.16.156.10011.1.3","value":"{{card}}"}],"gender":"female","birthDate":"1990-05-05",
             "telecom":[{"system":"phone","value":"13812345678","use":"mobile"}]}
            """);
        var doctor = TestCallers.As("gw-doctor", Rest.Access.Roles.Clinician, org: "Organization/gw-hospital", practitioner: "Practitioner/gw-doctor");
        gateway.Status = HttpStatusCode.OK;
        var ok = await c.SendAsync(HttpMethod.Post, $"/Patient/{patient}/$request-access", null, doctor);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        var (auth, body) = gateway.Received.Last();
        Assert.Equal("Bearer test-gateway-key", auth);
        Assert.Equal("13812345678", body.GetProperty("to").GetString());
        Assert.Equal("access-code", body.GetProperty("kind").GetString());
        Assert.Matches(@"授权码 \d{6}", body.GetProperty("text").GetString());

        gateway.Status = HttpStatusCode.InternalServerError;
        var failed = await c.SendAsync(HttpMethod.Post, $"/Patient/{patient}/$request-access", null, doctor);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);
        AssertOutcome(await failed.JsonAsync(), "could not be sent");
        await using var db = await fx.Factory.Services.GetRequiredService<IDbContextFactory<FhirDbContext>>().CreateDbContextAsync();
        var statuses = await db.AccessRequests.Where(r => r.Subject == "Patient/" + patient).OrderBy(r => r.Created).Select(r => r.Status).ToListAsync();
        Assert.Contains("pending", statuses);
        Assert.Contains("void", statuses);
    }

    [Fact]
    public async Task A_gateway_answer_other_than_2xx_is_a_message_not_sent()
    {
        var url = gateway.Url.Replace("/sms/", "/none/");
        using var sender = new HttpSmsSender(new SmsOptions { Sender = "http", GatewayUrl = url, GatewayTimeoutSeconds = 2 });
        await Assert.ThrowsAsync<SmsNotSentException>(() => sender.SendAsync(new SmsMessage("13800000000", "x", "test"), CancellationToken.None));
    }
}

public sealed class SmsGatewayTests(HttpSmsFixture fx) : SmsGatewayTestsBase<HttpSmsFixture>(fx, fx.Gateway), IClassFixture<HttpSmsFixture>;
public sealed class PostgresSmsGatewayTests(PostgresHttpSmsFixture fx) : SmsGatewayTestsBase<PostgresHttpSmsFixture>(fx, fx.Gateway), IClassFixture<PostgresHttpSmsFixture>;

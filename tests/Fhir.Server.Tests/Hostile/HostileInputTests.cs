using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using FhirArchive.Rest.Access;
using FhirArchive.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Server.Tests.Hostile;

/// <summary>The findings of the hostile-input fuzzing run, one test each (in process).</summary>
public sealed class HostileInputTests(HostileFixture fx) : IClassFixture<HostileFixture>
{
    private readonly HttpClient _c = fx.Client;

    private static async Task AssertOutcomeAsync(HttpResponseMessage r, int status, string? says = null)
    {
        var body = await r.Content.ReadAsStringAsync();
        Assert.True((int)r.StatusCode == status, $"expected {status}, got {(int)r.StatusCode}: {body}");
        AssertOutcome(System.Text.Json.JsonDocument.Parse(body).RootElement, says);
    }

    private static HttpContent Raw(string body, string contentType)
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        return content;
    }

    private Task<int> VersionsAsync() => fx.VersionsAsync();

    [Theory]
    [InlineData("/Observation")]
    [InlineData("/Patient/$validate")]
    public async Task A_multipart_body_without_a_boundary_is_a_400_outcome(string url)
    {
        var r = await _c.PostAsync(url, Raw("--\r\nx", "multipart/form-data; boundary="));
        await AssertOutcomeAsync(r, 400, "boundary");
    }

    [Fact]
    public async Task Unreadable_search_forms_are_400_outcomes()
    {
        await AssertOutcomeAsync(await _c.PostAsync("/Condition/_search", Raw("_id=x", "multipart/form-data; boundary=x")), 400, "form");
        await AssertOutcomeAsync(await _c.PostAsync("/Condition/_search", Raw(new string('k', 3000) + "=v", "application/x-www-form-urlencoded")), 400, "limit");
        // A long value is no problem.
        Assert.Equal(HttpStatusCode.OK, (await _c.PostAsync("/Condition/_search", Raw("code=" + new string('a', 100_000), "application/x-www-form-urlencoded"))).StatusCode);
    }

    [Fact]
    public async Task A_search_form_at_the_audit_trail_that_is_no_form_is_415()
    {
        await AssertOutcomeAsync(await _c.PostAsync("/AuditEvent/_search", Raw("{}", "application/json")), 415);
    }

    [Fact]
    public async Task A_search_past_the_parameter_and_value_limits_is_a_400_saying_the_limit()
    {
        var repeated = "/Patient?" + string.Join('&', Enumerable.Repeat("name=x", 1000));
        await AssertOutcomeAsync(await _c.GetAsync(repeated), 400, "at most 100");
        var values = "/Patient?name=" + string.Join(',', Enumerable.Repeat("x", 1000));
        await AssertOutcomeAsync(await _c.GetAsync(values), 400, "at most 100");
        // Within the limits the database copes.
        Assert.Equal(HttpStatusCode.OK, (await _c.GetAsync("/Patient?" + string.Join('&', Enumerable.Repeat("name=x", 100)))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _c.GetAsync("/Patient?name=" + string.Join(',', Enumerable.Repeat("y", 100)))).StatusCode);
    }

    private static string Create(int i, string? fullUrl = null) =>
        "{" + (fullUrl is null ? "" : $"\"fullUrl\":\"{fullUrl}\",")
            + $$$"""
               "resource":{"resourceType":"Basic","code":{"text":"hostile {{{i}}}"}},"request":{"method":"POST","url":"Basic"}}
               """;

    private static string Transaction(IEnumerable<string> entries) =>
        $$"""{"resourceType":"Bundle","type":"transaction","entry":[{{string.Join(",", entries)}}]}""";

    [Fact]
    public async Task A_transaction_whose_last_entry_has_an_unknown_method_is_refused_before_any_work()
    {
        var before = await VersionsAsync();
        var entries = Enumerable.Range(0, 4999).Select(i => Create(i)).Append("""{"request":{"method":"FOO","url":"Basic"}}""");
        var watch = Stopwatch.StartNew();
        var r = await _c.PostAsync("/", Body(Transaction(entries)));
        await AssertOutcomeAsync(r, 400, "entry[4999]");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
        Assert.Equal(before, await VersionsAsync());
    }

    [Fact]
    public async Task A_bundle_past_the_entry_limit_is_413_saying_the_limit()
    {
        var before = await VersionsAsync();
        var r = await _c.PostAsync("/", Body(Transaction(Enumerable.Range(0, 10_000).Select(i => Create(i)))));
        await AssertOutcomeAsync(r, 413, "at most 5,000");
        Assert.Equal(before, await VersionsAsync());
    }

    [Theory]
    [InlineData("transaction")]
    [InlineData("batch")]
    public async Task Entries_sharing_a_fullUrl_are_refused_bdl_7(string type)
    {
        var before = await VersionsAsync();
        var shared = "urn:uuid:" + Guid.NewGuid();
        var bundle = $$"""{"resourceType":"Bundle","type":"{{type}}","entry":[{{Create(1, shared)}},{{Create(2, shared)}}]}""";
        await AssertOutcomeAsync(await _c.PostAsync("/", Body(bundle)), 400, "bdl-7");
        Assert.Equal(before, await VersionsAsync());
    }

    [Fact]
    public async Task Unexpected_errors_are_500_outcomes_with_the_correlation_id_the_log_carries()
    {
        var r = await _c.GetAsync("/Basic/anything-" + Unique());
        var body = await r.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.InternalServerError, r.StatusCode);
        var diagnostics = System.Text.Json.JsonDocument.Parse(body).RootElement.GetProperty("issue")[0].GetProperty("diagnostics").GetString()!;
        var id = diagnostics[(diagnostics.IndexOf("correlation id ", StringComparison.Ordinal) + 15)..].TrimEnd('.');
        Assert.NotEmpty(id);
        Assert.Contains(fx.Log.Errors, e => e.Contains(id) && e.Contains("boom"));
    }

    [Fact]
    public async Task An_unknown_format_is_406_before_anything_is_written()
    {
        var before = await VersionsAsync();
        await AssertOutcomeAsync(await _c.PostAsync("/Patient?_format=bogus", Body("""{"resourceType":"Patient","active":true}""")), 406);
        Assert.Equal(before, await VersionsAsync());
    }

    [Fact]
    public async Task A_search_warning_quoting_a_noncharacter_is_written_as_XML()
    {
        var r = await _c.GetAsync("/Patient?x%EF%BF%BE=1&_format=xml");
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Contains("<Bundle", await r.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Deeply_nested_XML_is_refused_and_nothing_unreadable_is_stored()
    {
        var before = await VersionsAsync();
        var open = string.Concat(Enumerable.Repeat("<extension url=\"urn:x\">", 40));
        var close = string.Concat(Enumerable.Repeat("</extension>", 40));
        var xml = $"<Observation xmlns=\"http://hl7.org/fhir\">{open}<valueString value=\"deep\"/>{close}<status value=\"final\"/><code><text value=\"x\"/></code></Observation>";
        await AssertOutcomeAsync(await _c.PostAsync("/Observation", Raw(xml, Xml)), 400, "nested deeper");
        Assert.Equal(before, await VersionsAsync());
        Assert.Equal(HttpStatusCode.OK, (await _c.GetAsync("/Patient/_history")).StatusCode);
    }

    [Fact]
    public async Task Routing_and_web_layer_errors_are_outcomes()
    {
        await AssertOutcomeAsync(await _c.DeleteAsync("/"), 405);
        await AssertOutcomeAsync(await _c.GetAsync("/Patient?name=" + new string('a', 9000)), 414, "at most 8,192");
        var big = new HttpRequestMessage(HttpMethod.Get, "/metadata");
        big.Headers.TryAddWithoutValidation("X-Big", new string('h', 40_000));
        await AssertOutcomeAsync(await _c.SendAsync(big), 431, "at most 32,768");
        await AssertOutcomeAsync(await _c.PostAsync("/Patient", Raw("{}", "text/plain")), 415);
    }
}

/// <summary>A server whose access policy fails on Basic (the 500 path), with its error log kept.</summary>
public sealed class HostileFixture() : ServerFixtureWith(null, s =>
{
    s.AddSingleton<TestAccessPolicy>();
    s.AddSingleton<IAccessPolicy>(sp => sp.GetRequiredService<TestAccessPolicy>());
    s.AddSingleton<ILoggerProvider>(SharedLog);
})
{
    private static readonly ErrorLog SharedLog = new();
    public ErrorLog Log => SharedLog;

    public async Task<int> VersionsAsync() =>
        (await Factory.Services.GetRequiredService<IResourceStore>().HistoryAsync(new HistoryQuery(null, null, null, null, 0, 0))).Total;
}

/// <summary>Keeps every logged error with its exception, to find a correlation id in it.</summary>
public sealed class ErrorLog : ILoggerProvider, ILogger
{
    public ConcurrentQueue<string> Errors { get; } = new();

    public ILogger CreateLogger(string categoryName) => this;
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (logLevel >= LogLevel.Error) Errors.Enqueue(formatter(state, exception) + " " + exception);
    }

    public void Dispose() { }
}

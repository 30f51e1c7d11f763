using System.Net;
using System.Text;
using FhirArchive.Rest.Batch;
using FhirArchive.Rest.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Rest.Tests;

/// <summary>Refuses a transaction claiming its profile unless every entry is a POST; records what it saw.</summary>
public sealed class OnlyCreatesInterceptor : ITransactionInterceptor
{
    public const string Profile = "urn:fhirarchive:test:only-creates";
    public List<string> Seen { get; } = [];

    public ValueTask BeforeEntriesAsync(TransactionContext context)
    {
        if (!context.Claims(Profile)) return ValueTask.CompletedTask;
        lock (Seen) Seen.AddRange(context.Entries.Select(e => $"{e.Method} {e.Reference}"));
        if (context.Entries.Any(e => e.Method != "POST")) throw new FhirException(422, "business-rule", "only creates, please");
        return ValueTask.CompletedTask;
    }
}

public sealed class TransactionInterceptorFixture() : ServerFixtureWith(null, s =>
{
    s.AddSingleton<OnlyCreatesInterceptor>();
    s.AddSingleton<ITransactionInterceptor>(sp => sp.GetRequiredService<OnlyCreatesInterceptor>());
});

/// <summary>
/// The engine's transaction seam (a whole Bundle checked before any entry is written), the rewriting of uri/url links
/// to a transaction's fullUrls (http.html#trules), and a Binary read as its own content (http.html#binary).
/// </summary>
public sealed class TransactionInterceptorTests(TransactionInterceptorFixture fx) : IClassFixture<TransactionInterceptorFixture>
{
    private readonly HttpClient _c = fx.Client;

    private static string Bundle(string family, string profile, bool withPut) => $$$"""
        {"resourceType":"Bundle","type":"transaction","meta":{"profile":["{{{profile}}}"]},"entry":[
          {"fullUrl":"urn:uuid:0b7c3f4e-1c9e-4a53-9a55-3a1f3f0a0001","resource":{"resourceType":"Binary","contentType":"text/plain","data":"5L2g5aW9"},"request":{"method":"POST","url":"Binary"}},
          {"fullUrl":"urn:uuid:0b7c3f4e-1c9e-4a53-9a55-3a1f3f0a0002","resource":{"resourceType":"Patient","name":[{"family":"{{{family}}}"}],
             "photo":[{"contentType":"text/plain","url":"urn:uuid:0b7c3f4e-1c9e-4a53-9a55-3a1f3f0a0001"}]},"request":{"method":"POST","url":"Patient"}}
          {{{(withPut ? """,{"resource":{"resourceType":"Basic","id":"tx-seam","code":{"text":"x"}},"request":{"method":"PUT","url":"Basic/tx-seam"}}""" : "")}}}
        ]}
        """;

    [FhirFact]
    public async Task An_interceptor_sees_the_whole_Bundle_with_its_ids_and_its_refusal_stores_nothing()
    {
        var family = "TxSeam" + Unique();
        var refused = await _c.PostAsync("/", Body(Bundle(family, OnlyCreatesInterceptor.Profile, withPut: true)));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
        AssertOutcome(await refused.JsonAsync(), "only creates");
        Assert.Empty(await _c.SearchIdsAsync($"/Patient?family={family}"));
        Assert.Contains(fx.Factory.Services.GetRequiredService<OnlyCreatesInterceptor>().Seen, s => s.StartsWith("POST Binary/", StringComparison.Ordinal));

        // A Bundle claiming another profile is not its business.
        var other = await _c.PostAsync("/", Body(Bundle(family, "urn:fhirarchive:test:other", withPut: true)));
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        Assert.Single(await _c.SearchIdsAsync($"/Patient?family={family}"));
    }

    [FhirFact]
    public async Task A_url_naming_a_fullUrl_is_rewritten_and_the_Binary_answers_its_bytes_unless_a_FHIR_type_is_asked_for()
    {
        var family = "TxUrl" + Unique();
        var r = await _c.PostAsync("/", Body(Bundle(family, OnlyCreatesInterceptor.Profile, withPut: false)));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var entries = (await r.JsonAsync()).GetProperty("entry").EnumerateArray().ToList();
        var binaryId = entries[0].GetProperty("resource").GetProperty("id").GetString()!;
        Assert.Equal($"Binary/{binaryId}", entries[1].GetProperty("resource").GetProperty("photo")[0].GetProperty("url").GetString());

        async Task<HttpResponseMessage> Get(string url, string? accept)
        {
            var req = new HttpRequestMessage(HttpMethod.Get, url);
            if (accept is not null) req.Headers.TryAddWithoutValidation("Accept", accept);
            return await _c.SendAsync(req);
        }
        var raw = await Get($"/Binary/{binaryId}", "text/plain");
        Assert.Equal(HttpStatusCode.OK, raw.StatusCode);
        Assert.Equal("text/plain", raw.Content.Headers.ContentType!.MediaType);
        Assert.Equal("你好", Encoding.UTF8.GetString(await raw.Content.ReadAsByteArrayAsync()));
        Assert.NotNull(raw.Headers.ETag);
        Assert.Equal("你好", Encoding.UTF8.GetString(await (await Get($"/Binary/{binaryId}/_history/1", "*/*")).Content.ReadAsByteArrayAsync()));
        foreach (var (url, accept) in new[] { ($"/Binary/{binaryId}", Json), ($"/Binary/{binaryId}", null), ($"/Binary/{binaryId}?_format=json", "text/plain"), ($"/Binary/{binaryId}", "text/html, application/xml;q=0.9") })
        {
            var res = await Get(url, accept);
            var text = await res.Content.ReadAsStringAsync();
            Assert.True(res.StatusCode == HttpStatusCode.OK, $"{url} {accept}: {res.StatusCode} {text}");
            Assert.Contains(accept?.Contains("xml") == true ? "<Binary" : "\"resourceType\":\"Binary\"", text);
        }
        // Other resources keep the format rules: a non-FHIR Accept is 406; a missing Binary is 404 whatever is accepted.
        Assert.Equal(HttpStatusCode.NotAcceptable, (await Get($"/Patient/{entries[1].GetProperty("resource").GetProperty("id").GetString()}", "text/plain")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Get("/Binary/no-such-binary", "text/plain")).StatusCode);
    }
}

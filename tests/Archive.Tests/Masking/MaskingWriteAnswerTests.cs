using System.Net;
using System.Text;
using System.Text.Json;
using Xunit;
using static FhirArchive.Tests.Support.Http;

namespace FhirArchive.Archive.Tests.Masking;

/// <summary>
/// Write answers are shown as the writer sees the record: every write path (create, update, conditional update, JSON
/// Patch, FHIRPath Patch, conditional PATCH, batch and transaction entries) answers what was stored masked, with its
/// MASKED label, to a writer whose view is masked (another hospital's authorised doctor adding a relative of 张伟),
/// and in full to the record's holder. Prefer: return=minimal and return=OperationOutcome still carry no resource.
/// </summary>
public sealed class MaskingWriteAnswerTests(MaskingFixture fx) : IClassFixture<MaskingFixture>, IAsyncLifetime
{
    private readonly HttpClient _c = fx.Client;
    public Task InitializeAsync() => fx.SeedOnceAsync();
    public Task DisposeAsync() => Task.CompletedTask;

    private const string Masked = MaskingPathTests.Masked;
    private const string KeySystem = "http://example.org/mk-relative";

    /// <summary>A relative of 张伟 carrying an ID card number and a mobile phone (a person's resource: both are masked).</summary>
    private static string Relative(string key, string? id = null, string name = "张强") => $$$"""
        {"resourceType":"RelatedPerson",{{{(id is null ? "" : $"\"id\":\"{id}\",")}}}"patient":{"reference":"Patient/mk-p"},
         "identifier":[{"system":"{{{KeySystem}}}","value":"{{{key}}}"},{"system":"{{{MaskingWorld.IdCardSystem}}}","value":"{{{MaskingWorld.IdCard}}}"}],
         "name":[{"text":"{{{name}}}"}],"telecom":[{"system":"phone","value":"{{{MaskingWorld.Mobile}}}"}]}
        """;

    private const string JsonPatch = """[{"op":"replace","path":"/name/0/text","value":"张强强"}]""";
    private const string FhirPathPatch = """
        {"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"replace"},
         {"name":"path","valueString":"RelatedPerson.name.text"},{"name":"value","valueString":"张强强"}]}]}
        """;

    public static TheoryData<string> Paths => new()
    {
        "POST", "PUT", "conditional PUT", "JSON Patch", "FHIRPath Patch", "conditional PATCH",
        "batch POST", "batch PUT", "batch PATCH", "transaction POST", "transaction PUT", "transaction PATCH",
    };

    private static (string, string) Writer(bool masked) => masked ? MaskingWorld.AuthorisedDoctor : MaskingWorld.HolderClinician;

    /// <summary>A relative written by the caller, for the paths that change one: its id.</summary>
    private async Task<string> ExistingAsync(string key, (string, string) caller)
    {
        var r = await _c.SendAsync(HttpMethod.Post, "/RelatedPerson", Relative(key), caller);
        Assert.True(r.StatusCode == HttpStatusCode.Created, await r.Content.ReadAsStringAsync());
        return (await r.JsonAsync()).GetProperty("id").GetString()!;
    }

    private async Task<string> AnswerAsync(HttpRequestMessage req, (string, string) caller, HttpStatusCode expected)
    {
        req.Headers.TryAddWithoutValidation(caller.Item1, caller.Item2);
        var r = await _c.SendAsync(req);
        var body = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == expected, $"{req.Method} {req.RequestUri}: {r.StatusCode} {body}");
        return body;
    }

    private static HttpRequestMessage Request(HttpMethod m, string url, string body, string type = Json) =>
        new(m, url) { Content = new StringContent(body, Encoding.UTF8, type) };

    private static string Bundle(string type, string method, string url, string resource) => $$$"""
        {"resourceType":"Bundle","type":"{{{type}}}","entry":[{"fullUrl":"urn:uuid:{{{Guid.NewGuid()}}}","resource":{{{resource}}},
          "request":{"method":"{{{method}}}","url":"{{{url}}}"}}]}
        """;

    private static string BinaryPatch(string patch) =>
        $$$"""{"resourceType":"Binary","contentType":"application/json-patch+json","data":"{{{Convert.ToBase64String(Encoding.UTF8.GetBytes(patch))}}}"}""";

    /// <summary>The resource the write answered (a batch's or transaction's: its entry's) and the Bundle's labels.</summary>
    private async Task<(JsonElement Resource, List<string> BundleLabels)> WriteAsync(string path, (string, string) caller)
    {
        var key = Unique();
        async Task<(JsonElement, List<string>)> Entry(string type, string method, string url, string resource)
        {
            var root = JsonDocument.Parse(await AnswerAsync(Request(HttpMethod.Post, "/", Bundle(type, method, url, resource)), caller, HttpStatusCode.OK)).RootElement;
            var entry = root.GetProperty("entry")[0];
            Assert.True(entry.TryGetProperty("resource", out var written), $"{path}: the entry carries no resource: {entry}");
            return (written, Labels(root));
        }
        async Task<(JsonElement, List<string>)> Single(HttpRequestMessage req, HttpStatusCode status) =>
            (JsonDocument.Parse(await AnswerAsync(req, caller, status)).RootElement, []);
        return path switch
        {
            "POST" => await Single(Request(HttpMethod.Post, "/RelatedPerson", Relative(key)), HttpStatusCode.Created),
            "PUT" => await PutAsync(key, caller),
            "conditional PUT" => await ConditionalPutAsync(key, caller),
            "JSON Patch" => await Single(Request(HttpMethod.Patch, $"/RelatedPerson/{await ExistingAsync(key, caller)}", JsonPatch, "application/json-patch+json"), HttpStatusCode.OK),
            "FHIRPath Patch" => await Single(Request(HttpMethod.Patch, $"/RelatedPerson/{await ExistingAsync(key, caller)}", FhirPathPatch), HttpStatusCode.OK),
            "conditional PATCH" => await ConditionalPatchAsync(key, caller),
            "batch POST" => await Entry("batch", "POST", "RelatedPerson", Relative(key)),
            "batch PUT" => await EntryPut("batch", key, caller, Entry),
            "batch PATCH" => await Entry("batch", "PATCH", $"RelatedPerson/{await ExistingAsync(key, caller)}", BinaryPatch(JsonPatch)),
            "transaction POST" => await Entry("transaction", "POST", "RelatedPerson", Relative(key)),
            "transaction PUT" => await EntryPut("transaction", key, caller, Entry),
            "transaction PATCH" => await Entry("transaction", "PATCH", $"RelatedPerson/{await ExistingAsync(key, caller)}", FhirPathPatch),
            _ => throw new ArgumentException(path),
        };
    }

    private async Task<(JsonElement, List<string>)> PutAsync(string key, (string, string) caller)
    {
        var id = await ExistingAsync(key, caller);
        return (JsonDocument.Parse(await AnswerAsync(Request(HttpMethod.Put, $"/RelatedPerson/{id}", Relative(key, id, "张强强")), caller, HttpStatusCode.OK)).RootElement, []);
    }

    private async Task<(JsonElement, List<string>)> ConditionalPutAsync(string key, (string, string) caller)
    {
        await ExistingAsync(key, caller);
        var url = $"/RelatedPerson?identifier={Uri.EscapeDataString($"{KeySystem}|{key}")}";
        return (JsonDocument.Parse(await AnswerAsync(Request(HttpMethod.Put, url, Relative(key, name: "张强强")), caller, HttpStatusCode.OK)).RootElement, []);
    }

    private async Task<(JsonElement, List<string>)> ConditionalPatchAsync(string key, (string, string) caller)
    {
        await ExistingAsync(key, caller);
        var url = $"/RelatedPerson?identifier={Uri.EscapeDataString($"{KeySystem}|{key}")}";
        return (JsonDocument.Parse(await AnswerAsync(Request(HttpMethod.Patch, url, JsonPatch, "application/json-patch+json"), caller, HttpStatusCode.OK)).RootElement, []);
    }

    private async Task<(JsonElement, List<string>)> EntryPut(string type, string key, (string, string) caller,
        Func<string, string, string, string, Task<(JsonElement, List<string>)>> entry)
    {
        var id = await ExistingAsync(key, caller);
        return await entry(type, "PUT", $"RelatedPerson/{id}", Relative(key, id, "张强强"));
    }

    private static List<string> Labels(JsonElement resource) => MaskingPathTests.Labels(resource);

    [Theory]
    [MemberData(nameof(Paths))]
    public async Task A_masked_writer_is_answered_what_it_wrote_masked_and_labelled(string path)
    {
        var (written, bundleLabels) = await WriteAsync(path, Writer(masked: true));
        var text = written.GetRawText();
        Assert.Equal("RelatedPerson", written.GetProperty("resourceType").GetString());
        Assert.DoesNotContain(MaskingWorld.IdCard, text);
        Assert.DoesNotContain(MaskingWorld.Mobile, text);
        Assert.Contains(MaskingWorld.MaskedIdCard, text);
        Assert.Contains("138****1234", text);
        Assert.Contains(Masked, Labels(written));
        if (path.StartsWith("batch") || path.StartsWith("transaction")) Assert.Contains(Masked, bundleLabels);
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public async Task The_holders_writer_is_answered_what_it_wrote_in_full(string path)
    {
        var (written, bundleLabels) = await WriteAsync(path, Writer(masked: false));
        var text = written.GetRawText();
        Assert.Contains(MaskingWorld.IdCard, text);
        Assert.Contains(MaskingWorld.Mobile, text);
        Assert.DoesNotContain(Masked, Labels(written));
        Assert.DoesNotContain(Masked, bundleLabels);
    }

    [Theory]
    [InlineData("return=minimal")]
    [InlineData("return=OperationOutcome")]
    public async Task Prefer_still_decides_whether_a_masked_writer_gets_a_resource(string prefer)
    {
        var req = Request(HttpMethod.Post, "/RelatedPerson", Relative(Unique()));
        req.Headers.TryAddWithoutValidation("Prefer", prefer);
        var body = await AnswerAsync(req, MaskingWorld.AuthorisedDoctor, HttpStatusCode.Created);
        Assert.DoesNotContain(MaskingWorld.IdCard, body);
        Assert.DoesNotContain(MaskingWorld.Mobile, body);
        if (prefer == "return=minimal") Assert.Equal("", body);
        else Assert.Equal("OperationOutcome", JsonDocument.Parse(body).RootElement.GetProperty("resourceType").GetString());
    }
}
